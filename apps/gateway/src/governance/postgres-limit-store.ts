import { BudgetLedgerRepository, LimitCounterRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import { AdmissionPlan, AdmitResult, COUNTER_GRACE_MS, CounterPlan, LimitStore, Refusal, Settlement } from './limit-store';

const PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Limits and budgets in Postgres, for a gateway without Redis. Every step is one atomic
 * statement, so any number of replicas on one database never admit past a limit:
 *
 * - request counters: `INSERT ... ON CONFLICT (name, window_start) DO UPDATE SET value =
 *   value + 1 WHERE value < limit RETURNING value` (no row back: the limit is reached);
 * - token counters: read before admitting (used < limit), added to after the call;
 * - concurrency: the same conditional increment on a row whose window is the epoch,
 *   decremented when the request ends;
 * - budgets: `UPDATE budget_windows SET reserved_usd = reserved_usd + x WHERE ... AND
 *   spent_usd + reserved_usd + x <= limit`, level by level (key, team, customer).
 *
 * A refusal at any step gives back what the earlier steps took. Nothing spans two
 * statements, so there are no locks held between round trips and no deadlocks.
 */
export class PostgresLimitStore implements LimitStore {
  private readonly pruner: NodeJS.Timeout;

  constructor(
    private readonly counters: LimitCounterRepository,
    private readonly ledger: BudgetLedgerRepository,
    private readonly logger: Logger,
  ) {
    this.pruner = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruner.unref();
  }

  async admit(plan: AdmissionPlan): Promise<AdmitResult> {
    const requestCounts: Array<number | null> = plan.requests.map(() => null);
    const tokensUsed: Array<number | null> = plan.tokens.map(() => null);
    /** What has been taken so far, to give back on a refusal or a failed statement. */
    const undo: Array<() => Promise<void>> = [];
    const giveBack = async () => {
      const results = await Promise.allSettled(undo.splice(0).map((f) => f()));
      for (const r of results) if (r.status === 'rejected') this.logger.error({ err: r.reason }, 'giving back a limit or reservation failed');
    };
    const refuse = async (refusal: Refusal): Promise<AdmitResult> => {
      await giveBack();
      for (const b of plan.budgets) b.held = false;
      return { refusal, requestCounts, tokensUsed };
    };
    try {
      const counted = await allSettled(
        plan.requests.map(async (c) => {
          const value = c.limit >= 1 ? await this.counters.incrementBelow(c, c.limit, expiry(c)) : null;
          if (value !== null) undo.push(() => this.counters.decrement(c));
          return value;
        }),
      );
      counted.forEach((value, i) => (requestCounts[i] = value === null ? plan.requests[i].limit : value - 1));
      const refusedRequest = counted.findIndex((v) => v === null);
      if (refusedRequest >= 0) return await refuse({ kind: 'requests', index: refusedRequest });

      if (plan.tokens.length > 0) {
        const used = await this.counters.read(plan.tokens);
        used.forEach((u, i) => (tokensUsed[i] = u));
        const over = used.findIndex((u, i) => u >= plan.tokens[i].limit);
        if (over >= 0) return await refuse({ kind: 'tokens', index: over, used: used[over] });
      }

      const slots = await allSettled(
        plan.concurrency.map(async (c) => {
          const value = c.limit >= 1 ? await this.counters.incrementBelow(c, c.limit, 'infinity') : null;
          if (value !== null) undo.push(() => this.counters.decrement(c));
          return value;
        }),
      );
      const refusedSlot = slots.findIndex((v) => v === null);
      if (refusedSlot >= 0) return await refuse({ kind: 'concurrency', index: refusedSlot });

      // Level by level (key, team, customer); a refusal releases the levels already reserved.
      for (const [i, budget] of plan.budgets.entries()) {
        const result = await this.ledger.reserve(budget.budgetId, budget.windowStart, budget.amountUsd);
        budget.held = result.ok === true;
        if (result.ok === false) return await refuse({ kind: 'budget', index: i, ...result.state });
        if (budget.held) undo.push(() => this.ledger.settle(budget.budgetId, budget.windowStart, budget.amountUsd, 0));
      }
      return { refusal: null, requestCounts, tokensUsed };
    } catch (err) {
      await giveBack();
      for (const b of plan.budgets) b.held = false;
      throw err;
    }
  }

  async settle(plan: AdmissionPlan, settlement: Settlement): Promise<void> {
    await Promise.all([
      ...plan.concurrency.map((c) => this.counters.decrement(c)),
      ...plan.tokens.map((c) => this.counters.add(c, settlement.tokens, expiry(c))),
      ...plan.budgets.map((b) => (b.held ? this.ledger.settle(b.budgetId, b.windowStart, b.amountUsd, settlement.spentUsd) : undefined)),
    ]);
  }

  async close(): Promise<void> {
    clearInterval(this.pruner);
  }

  private async prune(): Promise<void> {
    try {
      await this.counters.pruneExpired();
    } catch (err) {
      this.logger.warn({ err }, 'pruning expired limit counters failed');
    }
  }
}

/** Like Promise.all, but waits for every statement (so each one's give-back is registered) before failing. */
async function allSettled<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

const expiry = (c: CounterPlan): Date => new Date((c.windowEnd?.getTime() ?? Date.now()) + COUNTER_GRACE_MS);
