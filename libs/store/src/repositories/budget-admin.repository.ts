import { DataSource, In, Repository } from 'typeorm';
import { BudgetEntity, BudgetPeriod, BudgetScope, BudgetWindowEntity } from '../entities/budget.entity';

export interface BudgetFilter {
  scope?: BudgetScope;
  scopeId?: string;
}

/** A window to read: the budget, and the bounds its current window's start lies within (end null: open). */
export interface BudgetWindowLookup {
  budgetId: string;
  from: Date;
  to: Date | null;
}

/**
 * Budgets as the admin API manages them (create, list, change the limit, delete), and
 * reading what their windows have spent. Enforcement (reserving and settling spend) is
 * elsewhere; this never writes a window.
 */
export class BudgetAdminRepository {
  private readonly budgets: Repository<BudgetEntity>;
  private readonly windows: Repository<BudgetWindowEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.budgets = dataSource.getRepository(BudgetEntity);
    this.windows = dataSource.getRepository(BudgetWindowEntity);
  }

  async create(fields: { scope: BudgetScope; scopeId: string; period: BudgetPeriod; limitUsd: number }): Promise<BudgetEntity> {
    const result = await this.budgets.createQueryBuilder().insert().values(fields).returning('id').execute();
    return (await this.findById((result.identifiers[0] as { id: string }).id))!;
  }

  findById(id: string): Promise<BudgetEntity | null> {
    return this.budgets.findOneBy({ id });
  }

  list(filter: BudgetFilter = {}): Promise<BudgetEntity[]> {
    const where: Record<string, string> = {};
    if (filter.scope) where.scope = filter.scope;
    if (filter.scopeId) where.scopeId = filter.scopeId;
    return this.budgets.find({ where, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Every budget on any of these scopes, e.g. a key's, its team's and its customer's. */
  async listForScopes(scopes: Array<{ scope: BudgetScope; scopeId: string }>): Promise<BudgetEntity[]> {
    if (scopes.length === 0) return [];
    return this.budgets.find({ where: scopes.map((s) => ({ scope: s.scope, scopeId: s.scopeId })), order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Every budget of these scope ids (of one scope), for listing teams or customers with their budgets. */
  async listForScopeIds(scope: BudgetScope, scopeIds: string[]): Promise<BudgetEntity[]> {
    if (scopeIds.length === 0) return [];
    return this.budgets.find({ where: { scope, scopeId: In(scopeIds) }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async updateLimit(id: string, limitUsd: number): Promise<BudgetEntity | null> {
    await this.budgets.update({ id }, { limitUsd });
    return this.findById(id);
  }

  /** Deletes the budget and its windows in one statement; returns what was deleted, or null when unknown. */
  async delete(id: string): Promise<BudgetEntity | null> {
    const before = await this.findById(id);
    if (!before) return null;
    await this.dataSource.query(
      `WITH b AS (DELETE FROM budgets WHERE id = $1 RETURNING id) DELETE FROM budget_windows w USING b WHERE w.budget_id = b.id`,
      [id],
    );
    return before;
  }

  /**
   * For each lookup, the newest window of the budget whose start lies in [from, to):
   * the current window's spent and reserved amounts. Budgets with no such row are absent.
   */
  async currentWindows(lookups: BudgetWindowLookup[]): Promise<BudgetWindowEntity[]> {
    if (lookups.length === 0) return [];
    const rows = await this.dataSource.query<Array<{ budget_id: string; window_start: Date; spent_usd: string; reserved_usd: string }>>(
      `SELECT DISTINCT ON (w.budget_id) w.budget_id, w.window_start, w.spent_usd, w.reserved_usd
         FROM budget_windows w
         JOIN unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS c(budget_id, window_from, window_to)
           ON w.budget_id = c.budget_id AND w.window_start >= c.window_from AND (c.window_to IS NULL OR w.window_start < c.window_to)
        ORDER BY w.budget_id, w.window_start DESC`,
      [lookups.map((l) => l.budgetId), lookups.map((l) => l.from.toISOString()), lookups.map((l) => l.to?.toISOString() ?? null)],
    );
    return rows.map((r) => this.windows.create({ budgetId: r.budget_id, windowStart: new Date(r.window_start), spentUsd: Number(r.spent_usd), reservedUsd: Number(r.reserved_usd) }));
  }
}
