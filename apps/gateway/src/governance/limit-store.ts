import type { BudgetPeriod, BudgetScope } from '@tokenhub/store';

/** What kind of limit a counter enforces. */
export type CounterKind = 'requests_per_minute' | 'requests_per_day' | 'tokens_per_minute' | 'tokens_per_day' | 'max_concurrency';

/** One counter a request is checked against, at one level (key, team, customer). */
export interface CounterPlan {
  kind: CounterKind;
  level: BudgetScope;
  levelId: string;
  /** Stable name, e.g. `rpm:key:<uuid>`; the window start completes the key. */
  name: string;
  windowStart: Date;
  /** Null for concurrency, which has no window. */
  windowEnd: Date | null;
  limit: number;
}

/** One budget a request reserves against, in its current window. */
export interface BudgetPlan {
  budgetId: string;
  level: BudgetScope;
  levelId: string;
  period: BudgetPeriod;
  limitUsd: number;
  windowStart: Date;
  windowEnd: Date | null;
  /** The worst-case cost held while the request runs (0 for a model without a price). */
  amountUsd: number;
  /** Set by the store: whether the reservation is held (false when the budget vanished meanwhile). */
  held?: boolean;
}

/** Everything one request takes before it goes upstream and gives back after. */
export interface AdmissionPlan {
  requestId: string;
  requests: CounterPlan[];
  tokens: CounterPlan[];
  concurrency: CounterPlan[];
  budgets: BudgetPlan[];
}

export type Refusal =
  | { kind: 'requests'; index: number }
  | { kind: 'tokens'; index: number; used: number }
  | { kind: 'concurrency'; index: number }
  | { kind: 'budget'; index: number; spentUsd: number; reservedUsd: number; limitUsd: number };

export interface AdmitResult {
  /** Null when everything was taken; otherwise nothing is held. */
  refusal: Refusal | null;
  /** Per request counter: requests counted in its window before this one (null when not read). */
  requestCounts: Array<number | null>;
  /** Per token counter: tokens used so far in its window. */
  tokensUsed: Array<number | null>;
}

/** What a finished request gives back: its actual cost, and the tokens it used. */
export interface Settlement {
  spentUsd: number;
  tokens: number;
}

/**
 * Where counters and budget windows live: Postgres (`limit_counters`, `budget_windows`) or
 * Redis. `admit` takes everything in the plan or nothing; `settle` gives it back exactly once.
 */
export interface LimitStore {
  admit(plan: AdmissionPlan): Promise<AdmitResult>;
  settle(plan: AdmissionPlan, settlement: Settlement): Promise<void>;
  /** Writes what is pending and lets go of connections (shutdown). */
  close(): Promise<void>;
}

/** How long a rate-limit counter row or key outlives its window before it may be pruned. */
export const COUNTER_GRACE_MS = 60_000;
