import { DataSource, Repository } from 'typeorm';
import { BudgetEntity, BudgetScope } from '../entities/budget.entity';
import { rowCount } from './query-result';

/** A budget's window as the reservation path sees it. */
export interface BudgetWindowState {
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
}

export type ReserveResult = { ok: true } | { ok: false; state: BudgetWindowState } | { ok: 'gone' };

/** USD amounts go to Postgres as text with the column's 10 decimals, never as floats. */
const usd = (value: number): string => (value > 0 ? value.toFixed(10) : '0');

/**
 * The money side of governance: which budgets apply to a key, team or customer, and the
 * per-window ledger (`budget_windows`) that reservations and settlements move. Every
 * change is one atomic statement; a window row is created once, by whichever replica
 * gets there first (`INSERT ... ON CONFLICT DO NOTHING`), so a rollover happens exactly once.
 */
export class BudgetLedgerRepository {
  private readonly budgets: Repository<BudgetEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.budgets = dataSource.getRepository(BudgetEntity);
  }

  /** Every budget set on any of these scopes. */
  async findForScopes(scopes: Array<{ scope: BudgetScope; scopeId: string }>): Promise<BudgetEntity[]> {
    if (scopes.length === 0) return [];
    return this.budgets.find({ where: scopes.map((s) => ({ scope: s.scope, scopeId: s.scopeId })), order: { id: 'ASC' } });
  }

  /**
   * Holds `amountUsd` in the budget's window if it fits: one conditional UPDATE, so two
   * replicas can never both take the last of a budget. Refuses when the window's spend plus
   * what is held plus the amount would pass the limit, or when the limit is already spent
   * (so a zero reservation, for a model without a price, is refused by an exhausted budget).
   */
  async reserve(budgetId: string, windowStart: Date, amountUsd: number): Promise<ReserveResult> {
    if (await this.tryReserve(budgetId, windowStart, amountUsd)) return { ok: true };
    let state = await this.state(budgetId, windowStart);
    if (state === 'no-budget') return { ok: 'gone' };
    if (state === 'no-window') {
      await this.dataSource.query(
        `INSERT INTO budget_windows (budget_id, window_start, spent_usd, reserved_usd) VALUES ($1, $2, 0, 0) ON CONFLICT (budget_id, window_start) DO NOTHING`,
        [budgetId, windowStart],
      );
      if (await this.tryReserve(budgetId, windowStart, amountUsd)) return { ok: true };
      state = await this.state(budgetId, windowStart);
      if (state === 'no-budget') return { ok: 'gone' };
      if (state === 'no-window') throw new Error(`budget window ${budgetId}@${windowStart.toISOString()} vanished`);
    }
    return { ok: false, state };
  }

  /** Turns a reservation into spend: the held amount is released, the actual cost added. */
  async settle(budgetId: string, windowStart: Date, reservedUsd: number, spentUsd: number): Promise<void> {
    if (reservedUsd <= 0 && spentUsd <= 0) return;
    await this.dataSource.query(
      `UPDATE budget_windows SET reserved_usd = GREATEST(reserved_usd - $3::numeric, 0), spent_usd = spent_usd + $4::numeric
        WHERE budget_id = $1 AND window_start = $2`,
      [budgetId, windowStart, usd(reservedUsd), usd(spentUsd)],
    );
  }

  /** What a window has spent (0 when it has no row yet). */
  async spent(budgetId: string, windowStart: Date): Promise<number> {
    const rows: Array<{ spent_usd: string }> = await this.dataSource.query(
      `SELECT spent_usd FROM budget_windows WHERE budget_id = $1 AND window_start = $2`,
      [budgetId, windowStart],
    );
    return rows.length ? Number(rows[0].spent_usd) : 0;
  }

  /**
   * Adds settled spend to windows, creating them as needed (the Redis store's write-behind).
   * Rows go in a fixed order so concurrent writers lock them in the same order.
   */
  async addSpent(entries: Array<{ budgetId: string; windowStart: Date; spentUsd: number }>): Promise<void> {
    const rows = entries
      .filter((e) => e.spentUsd > 0)
      .sort((a, b) => a.budgetId.localeCompare(b.budgetId) || a.windowStart.getTime() - b.windowStart.getTime());
    if (rows.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO budget_windows (budget_id, window_start, spent_usd, reserved_usd)
       SELECT id, ws, spent, 0 FROM unnest($1::uuid[], $2::timestamptz[], $3::numeric[]) AS t(id, ws, spent)
       ON CONFLICT (budget_id, window_start) DO UPDATE SET spent_usd = budget_windows.spent_usd + EXCLUDED.spent_usd`,
      [rows.map((r) => r.budgetId), rows.map((r) => r.windowStart), rows.map((r) => usd(r.spentUsd))],
    );
  }

  private async tryReserve(budgetId: string, windowStart: Date, amountUsd: number): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `UPDATE budget_windows w SET reserved_usd = w.reserved_usd + $3::numeric
         FROM budgets b
        WHERE w.budget_id = $1 AND w.window_start = $2 AND b.id = w.budget_id
          AND w.spent_usd < b.limit_usd AND w.spent_usd + w.reserved_usd + $3::numeric <= b.limit_usd
        RETURNING w.budget_id`,
      [budgetId, windowStart, usd(amountUsd)],
    );
    return rowCount(rows) > 0;
  }

  private async state(budgetId: string, windowStart: Date): Promise<BudgetWindowState | 'no-budget' | 'no-window'> {
    const rows: Array<{ limit_usd: string; spent_usd: string | null; reserved_usd: string | null }> = await this.dataSource.query(
      `SELECT b.limit_usd, w.spent_usd, w.reserved_usd FROM budgets b
         LEFT JOIN budget_windows w ON w.budget_id = b.id AND w.window_start = $2
        WHERE b.id = $1`,
      [budgetId, windowStart],
    );
    if (rows.length === 0) return 'no-budget';
    if (rows[0].spent_usd === null) return 'no-window';
    return { limitUsd: Number(rows[0].limit_usd), spentUsd: Number(rows[0].spent_usd), reservedUsd: Number(rows[0].reserved_usd) };
  }
}
