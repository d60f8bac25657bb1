import { GatewayError } from '@tokenhub/common';
import type { BudgetLedgerRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import { GovernanceUnavailableError } from './governance-errors';
import type { AdmissionPlan, AdmitResult, BudgetPlan, CounterPlan, LimitStore, Settlement } from './limit-store';

/** After a failure the store is tried again no sooner than this. */
const RETRY_MS = 1_000;
/** A budget's spend as last read from the store is refreshed (in the background) when older than this. */
const REFRESH_SPENT_MS = 5_000;
const RECONCILE_MS = 1_000;
/** Bounds on what is remembered per budget window and per counter. */
const MAX_ENTRIES = 100_000;

interface LocalBudget {
  /** Spend settled here while the store was down, not yet written to it. */
  unreconciledUsd: number;
  /** Spend settled by this process (through the store or not) since the last known spend was read. */
  spentUsd: number;
  reservedUsd: number;
}

/**
 * Wraps the Postgres limit store so that chat keeps being served, with limits, through a
 * database outage. While it does, admissions are decided in this process: budgets
 * against their last known spend (read in the background after each admission through the
 * store, at most every 5 s per budget window) plus what this process has spent and holds
 * since that read; rate limits and concurrency with counters of this process, starting from zero.
 * A budget window never seen before the outage cannot be checked: its requests get 503
 * `governance_unavailable` (fail closed).
 *
 * What this process settles while the store is down is added up per budget window and
 * written to the store once it answers (reconciliation); settlements of requests admitted
 * through the store that fail are retried then too. Those sums live in memory: a process
 * killed during the outage loses them (its usage records, spooled, still hold every cost).
 * See docs/governance.md ("Database outage").
 */
export class LocalFallbackLimitStore implements LimitStore {
  private failingSince: number | null = null;
  private retryAt = 0;
  /** Spend per budget window as last read from the store. */
  private readonly known = new Map<string, { spentUsd: number; at: number }>();
  private readonly refreshing = new Set<string>();
  private readonly budgets = new Map<string, { plan: BudgetPlan; local: LocalBudget }>();
  private readonly counters = new Map<string, number>();
  /** Plans admitted here rather than by the store. */
  private readonly localPlans = new WeakSet<AdmissionPlan>();
  /** Settlements the store refused, to be retried. */
  private readonly retrySettles: Array<{ plan: AdmissionPlan; settlement: Settlement }> = [];
  private readonly reconciler: NodeJS.Timeout;
  private reconciling = false;

  constructor(
    private readonly store: LimitStore,
    private readonly ledger: BudgetLedgerRepository,
    private readonly logger: Logger,
  ) {
    this.reconciler = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.reconciler.unref();
  }

  /** Since when limits have been decided in this process (null: the store answers). */
  get degradedSince(): number | null {
    return this.failingSince;
  }

  async admit(plan: AdmissionPlan): Promise<AdmitResult> {
    if (this.failingSince === null || Date.now() >= this.retryAt) {
      try {
        const result = await this.store.admit(plan);
        this.recovered();
        if (result.refusal === null) this.observe(plan.budgets);
        return result;
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        this.failed(err);
      }
    }
    return this.admitLocally(plan);
  }

  async settle(plan: AdmissionPlan, settlement: Settlement): Promise<void> {
    if (this.localPlans.has(plan)) return this.settleLocally(plan, settlement);
    try {
      await this.store.settle(plan, settlement);
      // Counted against the last known spend too, until the next read includes it.
      for (const b of plan.budgets) if (b.held && this.known.has(budgetKey(b))) this.localBudget(b).spentUsd += settlement.spentUsd;
    } catch (err) {
      this.failed(err);
      if (this.retrySettles.length < MAX_ENTRIES) this.retrySettles.push({ plan, settlement });
      else this.logger.error({ requestId: plan.requestId }, 'too many settlements waiting for the limit store: one dropped');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.reconciler);
    await this.reconcile();
    await this.store.close();
  }

  private admitLocally(plan: AdmissionPlan): AdmitResult {
    const requestCounts = plan.requests.map((c) => this.counters.get(counterKey(c)) ?? 0);
    const tokensUsed = plan.tokens.map((c) => this.counters.get(counterKey(c)) ?? 0);
    const refused = (refusal: AdmitResult['refusal']): AdmitResult => {
      for (const b of plan.budgets) b.held = false;
      return { refusal, requestCounts, tokensUsed };
    };
    const r = plan.requests.findIndex((c, i) => requestCounts[i] >= c.limit);
    if (r >= 0) return refused({ kind: 'requests', index: r });
    const t = plan.tokens.findIndex((c, i) => tokensUsed[i] >= c.limit);
    if (t >= 0) return refused({ kind: 'tokens', index: t, used: tokensUsed[t] });
    const c = plan.concurrency.findIndex((cp) => (this.counters.get(counterKey(cp)) ?? 0) >= cp.limit);
    if (c >= 0) return refused({ kind: 'concurrency', index: c });
    for (const [i, b] of plan.budgets.entries()) {
      const known = this.known.get(budgetKey(b));
      if (!known) throw new GovernanceUnavailableError('Budgets cannot be checked right now (the database does not answer); try again shortly.');
      const local = this.localBudget(b);
      const spent = known.spentUsd + local.spentUsd;
      if (spent >= b.limitUsd || spent + local.reservedUsd + b.amountUsd > b.limitUsd) {
        return refused({ kind: 'budget', index: i, spentUsd: spent, reservedUsd: local.reservedUsd, limitUsd: b.limitUsd });
      }
    }
    if (this.counters.size > MAX_ENTRIES) this.counters.clear();
    for (const cp of [...plan.requests, ...plan.concurrency]) this.counters.set(counterKey(cp), (this.counters.get(counterKey(cp)) ?? 0) + 1);
    for (const b of plan.budgets) {
      this.localBudget(b).reservedUsd += b.amountUsd;
      b.held = true;
    }
    this.localPlans.add(plan);
    return { refusal: null, requestCounts, tokensUsed };
  }

  private settleLocally(plan: AdmissionPlan, settlement: Settlement): void {
    for (const c of plan.concurrency) this.counters.set(counterKey(c), Math.max(0, (this.counters.get(counterKey(c)) ?? 0) - 1));
    for (const c of plan.tokens) this.counters.set(counterKey(c), (this.counters.get(counterKey(c)) ?? 0) + settlement.tokens);
    for (const b of plan.budgets) {
      if (!b.held) continue;
      const local = this.localBudget(b);
      local.reservedUsd = Math.max(0, local.reservedUsd - b.amountUsd);
      local.spentUsd += settlement.spentUsd;
      local.unreconciledUsd += settlement.spentUsd;
    }
  }

  private localBudget(b: BudgetPlan): LocalBudget {
    const key = budgetKey(b);
    let entry = this.budgets.get(key);
    if (!entry) {
      entry = { plan: b, local: { unreconciledUsd: 0, spentUsd: 0, reservedUsd: 0 } };
      this.budgets.set(key, entry);
    }
    return entry.local;
  }

  /** Reads (in the background) the spend of budget windows not read for a while, for use in an outage. */
  private observe(budgets: BudgetPlan[]): void {
    const now = Date.now();
    for (const b of budgets) {
      const key = budgetKey(b);
      const known = this.known.get(key);
      if ((known && now - known.at < REFRESH_SPENT_MS) || this.refreshing.has(key)) continue;
      this.refreshing.add(key);
      this.ledger
        .spent(b.budgetId, b.windowStart)
        .then((spentUsd) => {
          if (this.known.size > MAX_ENTRIES) this.known.clear();
          this.known.set(key, { spentUsd, at: now });
          // What was spent here before this read is in it now, unless still unreconciled.
          const entry = this.budgets.get(key);
          if (entry) entry.local.spentUsd = entry.local.unreconciledUsd;
        })
        .catch(() => undefined)
        .finally(() => this.refreshing.delete(key));
    }
  }

  /** Writes what was settled here during the outage, and retries failed settlements, once the store answers. */
  private async reconcile(): Promise<void> {
    if (this.reconciling) return;
    const pending = [...this.budgets.values()].filter((e) => e.local.unreconciledUsd > 0);
    if (pending.length === 0 && this.retrySettles.length === 0) return;
    if (this.failingSince !== null && Date.now() < this.retryAt) return;
    this.reconciling = true;
    try {
      while (this.retrySettles.length > 0) {
        const { plan, settlement } = this.retrySettles[0];
        await this.store.settle(plan, settlement);
        this.retrySettles.shift();
      }
      for (const entry of pending) {
        const amount = entry.local.unreconciledUsd;
        // The spend alone: nothing was reserved in the store for these requests.
        const plan: AdmissionPlan = { requestId: 'reconciliation', requests: [], tokens: [], concurrency: [], budgets: [{ ...entry.plan, amountUsd: 0, held: true }] };
        await this.store.settle(plan, { spentUsd: amount, tokens: 0 });
        entry.local.unreconciledUsd -= amount;
        this.logger.info({ budgetId: entry.plan.budgetId, spentUsd: amount }, 'budget spend settled during the outage written to the limit store');
      }
      this.recovered();
    } catch (err) {
      this.failed(err);
    } finally {
      this.reconciling = false;
    }
  }

  private failed(err: unknown): void {
    this.retryAt = Date.now() + RETRY_MS;
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      this.logger.error({ err }, 'limit store unavailable: limits and budgets are decided in this process until it answers');
    }
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.logger.warn({ afterMs: Date.now() - this.failingSince }, 'limit store answers again');
    this.failingSince = null;
    // Counters of the outage are dropped; the store's own counters apply again.
    this.counters.clear();
    for (const [key, entry] of this.budgets) if (entry.local.reservedUsd === 0 && entry.local.unreconciledUsd === 0) this.budgets.delete(key);
  }
}

const budgetKey = (b: BudgetPlan) => `${b.budgetId}@${b.windowStart.getTime()}`;
const counterKey = (c: CounterPlan) => `${c.name}@${c.windowStart.getTime()}`;
