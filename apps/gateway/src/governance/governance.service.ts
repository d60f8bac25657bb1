import type { ServerResponse } from 'node:http';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { GatewayError } from '@tokenhub/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { ModelCatalog, ResolvedModel, TokenUsage } from '@tokenhub/providers';
import { BudgetEntity, BudgetLedgerRepository, BudgetScope, LimitsColumns } from '@tokenhub/store';
import type { Logger } from 'pino';
import type { PolicyScope, Principal } from '../auth/principal';
import { LOGGER } from '../logging.tokens';
import { MetricsService } from '../metrics/metrics.service';
import { estimatePromptTokens, maxOutputTokens, priceOf, roundUsdUp } from './cost-estimate';
import { BudgetExceededError, GovernanceUnavailableError, ModelNotAllowedError, RateLimitExceededError } from './governance-errors';
import type { AdmissionPlan, AdmitResult, BudgetPlan, CounterKind, CounterPlan, LimitStore, Refusal, Settlement } from './limit-store';
import { LocalFallbackLimitStore } from './local-fallback-limit-store';
import { modelAllowed } from './model-access';
import { formatDuration, windowAt } from './windows';

export const LIMIT_STORE = Symbol('LIMIT_STORE');

/** Budget definitions of a level without a cached entity are served from memory this long (at most). */
const MAX_BUDGET_CACHE_MS = 5_000;
/** How long an entity keeps budget definitions from a query it joined rather than started. */
const JOINED_LOAD_TTL_MS = 1_000;

/** How a finished request went, as far as spending is concerned. */
export interface RequestOutcome {
  /** Who served the answer; null when nothing was served. */
  servedProvider: string | null;
  servedModel: string | null;
  usage: TokenUsage | null;
  /** The catalog's cost of `usage`; null when unknown. */
  costUsd: number | null;
  stream: boolean;
  /** Content chunks streamed to the client (an estimate of output tokens when no usage came). */
  streamedChunks: number;
}

interface CachedBudgets {
  budgets: Promise<BudgetEntity[]>;
  /** The definitions once `budgets` has resolved. */
  loaded?: BudgetEntity[];
  expiresAt: number;
}

type LevelBudgets = Array<{ budget: BudgetEntity; level: BudgetScope }>;
const NO_BUDGETS: LevelBudgets = Object.freeze([]) as unknown as LevelBudgets;

const COUNTERS: Array<{ field: keyof LimitsColumns; kind: CounterKind; short: string; window: 'minute' | 'daily' | null }> = [
  { field: 'requestsPerMinute', kind: 'requests_per_minute', short: 'rpm', window: 'minute' },
  { field: 'requestsPerDay', kind: 'requests_per_day', short: 'rpd', window: 'daily' },
  { field: 'tokensPerMinute', kind: 'tokens_per_minute', short: 'tpm', window: 'minute' },
  { field: 'tokensPerDay', kind: 'tokens_per_day', short: 'tpd', window: 'daily' },
  { field: 'maxConcurrency', kind: 'max_concurrency', short: 'conc', window: null },
];

/**
 * Enforces what applies to a caller before its request goes upstream, at every level of
 * its path (key, team, customer): allowed models, request and token rate limits, a
 * concurrency cap, and budgets (a worst-case reservation, settled to the actual cost when
 * the request ends). Counters and budget windows live in a {@link LimitStore}: Redis when
 * `REDIS_URL` is set, Postgres otherwise.
 */
@Injectable()
export class GovernanceService implements BeforeApplicationShutdown {
  /** Budget definitions per level, keyed by the cached entity's `limits` object (see `budgetsFor`). */
  private budgetsByEntity = new WeakMap<object, CachedBudgets>();
  /** For a level without a `limits` object: by scope and id, for a short while. */
  private readonly budgetsByScope = new Map<string, CachedBudgets>();
  /** Queries in flight, by level, for concurrent misses to share. */
  private readonly budgetsLoading = new Map<string, { budgets: Promise<BudgetEntity[]>; startedAt: number }>();
  private readonly budgetTtlMs: number;
  /** Each level's budget definitions as last loaded, for when the database does not answer (see `budgetsFor`). */
  private readonly lastLoadedBudgets = new Map<string, { budgets: BudgetEntity[]; at: number }>();
  private readonly staleMaxMs: number;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(LIMIT_STORE) private readonly store: LimitStore,
    private readonly ledger: BudgetLedgerRepository,
    private readonly catalog: ModelCatalog,
    private readonly metrics: MetricsService,
  ) {
    this.budgetTtlMs = Math.min(config.authCacheTtlMs, MAX_BUDGET_CACHE_MS);
    this.staleMaxMs = config.authCacheTtlMs + config.authStaleMaxMs;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /** Since when limits and budgets have been decided in this process because the limit store errors (null: it answers). */
  get degradedSince(): number | null {
    return this.store instanceof LocalFallbackLimitStore ? this.store.degradedSince : null;
  }

  /** Drops every cached budget definition. (`AuthService.forgetAll` has the same effect: see `budgetsFor`.) */
  forgetBudgets(): void {
    this.budgetsByEntity = new WeakMap();
    this.budgetsByScope.clear();
    this.budgetsLoading.clear();
  }

  /**
   * Checks and takes everything the request needs, or throws the refusal (403, 402, 429).
   * Returns null when nothing applies (the admin key, or no policies on the path); otherwise
   * an {@link Admission} that must be released once the request is over.
   */
  async admit(principal: Principal | undefined, requestId: string, body: Record<string, unknown>, targets: ResolvedModel[]): Promise<Admission | null> {
    if (!principal || principal.kind === 'admin' || !principal.scopes?.length) return null;
    const scopes = principal.scopes;
    this.checkModels(scopes, targets);
    const budgets = await this.budgetsFor(scopes);
    const now = Date.now();
    const plan: AdmissionPlan = { requestId, requests: [], tokens: [], concurrency: [], budgets: [] };
    for (const level of scopes) {
      for (const counter of COUNTERS) {
        const limit = level.limits?.[counter.field] as number | null | undefined;
        if (limit === null || limit === undefined) continue;
        const window = counter.window ? windowAt(counter.window, now) : { start: new Date(0), end: null };
        const c: CounterPlan = {
          kind: counter.kind,
          level: level.scope,
          levelId: level.id,
          name: `${counter.short}:${level.scope}:${level.id}`,
          windowStart: window.start,
          windowEnd: window.end,
          limit,
        };
        if (counter.kind.startsWith('requests')) plan.requests.push(c);
        else if (counter.kind.startsWith('tokens')) plan.tokens.push(c);
        else plan.concurrency.push(c);
      }
    }
    const promptTokens = budgets.length > 0 || plan.tokens.length > 0 ? estimatePromptTokens(body) : 0;
    const reservation = budgets.length > 0 ? this.worstCaseCost(body, targets, promptTokens) : 0;
    for (const { budget, level } of budgets) {
      const window = windowAt(budget.period, now);
      plan.budgets.push({
        budgetId: budget.id,
        level,
        levelId: budget.scopeId,
        period: budget.period,
        limitUsd: budget.limitUsd,
        windowStart: window.start,
        windowEnd: window.end,
        amountUsd: reservation,
      });
    }
    if (plan.requests.length + plan.tokens.length + plan.concurrency.length + plan.budgets.length === 0) return null;

    let result: AdmitResult;
    try {
      result = await this.store.admit(plan);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.logger.error({ err, requestId }, 'limit store unavailable');
      throw new GovernanceUnavailableError();
    }
    const headers = rateLimitHeaders(plan, result, now);
    if (result.refusal) {
      this.metrics.refusedBy(result.refusal.kind);
      throw refusalError(plan, result.refusal, headers, now, reservation);
    }
    return new Admission(plan, headers, promptTokens, body, this.store, this.catalog, this.logger);
  }

  /** Every target (the model and each fallback) must be allowed at every level that lists models. */
  private checkModels(scopes: PolicyScope[], targets: ResolvedModel[]): void {
    for (const [i, target] of targets.entries()) {
      for (const level of scopes) {
        const allowed = level.limits?.allowedModels;
        if (allowed === null || allowed === undefined) continue;
        if (modelAllowed(allowed, target.providerName, target.model)) continue;
        const name = `${target.providerName}/${target.model}`;
        throw new ModelNotAllowedError(
          `The model '${name}' is not allowed for ${describeLevel(level.scope, level.id)}` +
            (allowed.length ? ` (allowed: ${allowed.join(', ')}).` : ' (no models are allowed).'),
          i === 0 ? 'model' : `fallbacks[${i - 1}]`,
        );
      }
    }
  }

  /**
   * The most the request can cost on any of its targets: the estimated prompt and the
   * output cap, at each target's catalog prices. Targets without a price count as 0 (their
   * cost is unknown and recorded as such); when none has a price the reservation is 0.
   */
  private worstCaseCost(body: Record<string, unknown>, targets: ResolvedModel[], promptTokens: number): number {
    let worst = 0;
    for (const target of targets) {
      const cost = priceOf(target.entry, promptTokens, maxOutputTokens(body, target.entry));
      if (cost !== null && cost > worst) worst = cost;
    }
    return worst;
  }

  /**
   * The budgets of each level, cached for as long as the auth cache keeps that level's
   * entity: the cache is keyed by the entity's `limits` object, so when AuthService reloads
   * a key, team or customer (after `AUTH_CACHE_TTL_MS`, or at once when the admin API
   * changes a policy or budget and calls `forgetAll`), its budgets are read again with it.
   * Misses for one level while its query is in flight share that query (the first request
   * after a reload typically comes with many others, each with its own freshly loaded
   * entity); an entity that joined a query another one started keeps the answer only until
   * a second after that query started, as the query may predate the entity.
   */
  private async budgetsFor(scopes: PolicyScope[]): Promise<LevelBudgets> {
    const now = Date.now();
    const ready = this.loadedBudgets(scopes, now);
    if (ready) return ready;
    const missing: PolicyScope[] = [];
    for (const level of scopes) {
      if (this.cachedBudgets(level, now)) continue;
      const loading = this.budgetsLoading.get(levelKey(level));
      if (loading) this.cacheBudgets(level, { budgets: loading.budgets, expiresAt: loading.startedAt + JOINED_LOAD_TTL_MS });
      else missing.push(level);
    }
    if (missing.length > 0) {
      const load = this.ledger.findForScopes(missing.map((s) => ({ scope: s.scope, scopeId: s.id })));
      for (const level of missing) {
        const key = levelKey(level);
        const budgets = load.then((all) => all.filter((b) => b.scope === level.scope && b.scopeId === level.id));
        const entry = { budgets, expiresAt: level.limits && typeof level.limits === 'object' ? Infinity : now + this.budgetTtlMs };
        this.cacheBudgets(level, entry);
        const loading = { budgets, startedAt: now };
        this.budgetsLoading.set(key, loading);
        const done = () => this.budgetsLoading.get(key) === loading && this.budgetsLoading.delete(key);
        budgets.then(done, () => {
          done();
          this.uncacheBudgets(level, entry);
        });
      }
      if (this.budgetsByScope.size > 100_000) this.budgetsByScope.clear();
    }
    const settled = await Promise.allSettled(
      scopes.map((level) => this.cachedBudgets(level, now)?.budgets ?? this.budgetsLoading.get(levelKey(level))?.budgets ?? Promise.resolve([])),
    );
    // A failed load (the database is down) falls back to the level's last loaded definitions, for as long as stale keys are served.
    const lists = settled.map((result, i) => {
      const key = levelKey(scopes[i]);
      const known = this.lastLoadedBudgets.get(key);
      if (result.status === 'fulfilled') {
        if (known?.budgets !== result.value) {
          if (this.lastLoadedBudgets.size > 100_000) this.lastLoadedBudgets.clear();
          this.lastLoadedBudgets.set(key, { budgets: result.value, at: now });
        }
        return result.value;
      }
      if (known && now - known.at <= this.staleMaxMs) return known.budgets;
      this.logger.error({ err: result.reason }, 'loading budget definitions failed');
      throw new GovernanceUnavailableError();
    });
    return scopes.flatMap((level, i) => lists[i].map((budget) => ({ budget, level: level.scope })));
  }

  /** Every level's definitions when each is cached and loaded (what almost every request finds), else null. */
  private loadedBudgets(scopes: PolicyScope[], now: number): LevelBudgets | null {
    let found: LevelBudgets | null = null;
    for (const level of scopes) {
      const loaded = this.cachedBudgets(level, now)?.loaded;
      if (!loaded) return null;
      for (const budget of loaded) (found ??= []).push({ budget, level: level.scope });
    }
    return found ?? NO_BUDGETS;
  }

  private cachedBudgets(level: PolicyScope, now: number): CachedBudgets | undefined {
    const cached = level.limits && typeof level.limits === 'object' ? this.budgetsByEntity.get(level.limits) : this.budgetsByScope.get(levelKey(level));
    return cached && cached.expiresAt > now ? cached : undefined;
  }

  private cacheBudgets(level: PolicyScope, entry: CachedBudgets): void {
    entry.budgets.then(
      (loaded) => (entry.loaded = loaded),
      () => undefined,
    );
    if (level.limits && typeof level.limits === 'object') this.budgetsByEntity.set(level.limits, entry);
    else this.budgetsByScope.set(levelKey(level), entry);
  }

  /** A failed load is not kept: the next request tries again. */
  private uncacheBudgets(level: PolicyScope, entry: CachedBudgets): void {
    if (level.limits && typeof level.limits === 'object') {
      if (this.budgetsByEntity.get(level.limits) === entry) this.budgetsByEntity.delete(level.limits);
    } else if (this.budgetsByScope.get(levelKey(level)) === entry) {
      this.budgetsByScope.delete(levelKey(level));
    }
  }
}

const levelKey = (level: PolicyScope) => `${level.scope}:${level.id}`;

/**
 * What one admitted request holds. `release` settles budgets to the actual cost, adds the
 * tokens used and frees the concurrency slot; it runs once (later calls do nothing) and
 * never throws.
 */
export class Admission {
  private released: Promise<void> | null = null;

  constructor(
    private readonly plan: AdmissionPlan,
    /** `x-ratelimit-*` headers for the response. */
    readonly headers: Record<string, string>,
    private readonly promptTokens: number,
    private readonly body: Record<string, unknown>,
    private readonly store: LimitStore,
    private readonly catalog: ModelCatalog,
    private readonly logger: Logger,
  ) {}

  applyHeaders(res: ServerResponse): void {
    for (const [name, value] of Object.entries(this.headers)) res.setHeader(name, value);
  }

  release(outcome: RequestOutcome): Promise<void> {
    this.released ??= this.store.settle(this.plan, this.settlement(outcome)).catch((err) => {
      this.logger.error({ err, requestId: this.plan.requestId }, 'settling limits and budgets failed');
    });
    return this.released;
  }

  /**
   * The actual cost: 0 when nothing was served; the catalog's cost of the reported usage;
   * 0 for a model without a price (its cost is recorded as unknown). When a served answer
   * reported no usage (a stream cut short by the client or the provider), the cost is
   * estimated: the prompt estimate plus one output token per streamed chunk, or the whole
   * output cap for a non-streamed answer.
   */
  private settlement(outcome: RequestOutcome): Settlement {
    if (!outcome.servedProvider || !outcome.servedModel) return { spentUsd: 0, tokens: outcome.usage?.totalTokens ?? 0 };
    if (outcome.usage) return { spentUsd: outcome.costUsd ?? 0, tokens: outcome.usage.totalTokens };
    const entry = this.catalog.lookup(outcome.servedProvider, outcome.servedModel);
    const completion = outcome.stream ? outcome.streamedChunks : maxOutputTokens(this.body, entry);
    const prompt = this.promptTokens || estimatePromptTokens(this.body);
    return { spentUsd: priceOf(entry, prompt, completion) ?? 0, tokens: prompt + completion };
  }
}

function describeLevel(level: BudgetScope, id: string): string {
  return level === 'key' ? `this key (${id})` : `this key's ${level} (${id})`;
}

const LIMIT_WORDS: Record<CounterKind, string> = {
  requests_per_minute: 'requests per minute',
  requests_per_day: 'requests per day',
  tokens_per_minute: 'tokens per minute',
  tokens_per_day: 'tokens per day',
  max_concurrency: 'requests in flight at once',
};

/**
 * OpenAI's rate-limit headers for the tightest request limit and the tightest token limit
 * on the path (the one with the fewest left, then the soonest reset).
 */
function rateLimitHeaders(plan: AdmissionPlan, result: AdmitResult, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const admitted = result.refusal === null;
  const tightest = (counters: CounterPlan[], remainingOf: (c: CounterPlan, i: number) => number) => {
    let best: { c: CounterPlan; remaining: number; resetMs: number } | null = null;
    counters.forEach((c, i) => {
      const remaining = Math.max(0, remainingOf(c, i));
      const resetMs = (c.windowEnd?.getTime() ?? now) - now;
      if (!best || remaining < best.remaining || (remaining === best.remaining && resetMs < best.resetMs)) best = { c, remaining, resetMs };
    });
    return best as { c: CounterPlan; remaining: number; resetMs: number } | null;
  };
  const requests = tightest(plan.requests, (c, i) => {
    if (result.refusal?.kind === 'requests' && result.refusal.index === i) return 0;
    return c.limit - (result.requestCounts[i] ?? 0) - (admitted ? 1 : 0);
  });
  if (requests) {
    headers['x-ratelimit-limit-requests'] = String(requests.c.limit);
    headers['x-ratelimit-remaining-requests'] = String(requests.remaining);
    headers['x-ratelimit-reset-requests'] = formatDuration(requests.resetMs);
  }
  const tokens = tightest(plan.tokens, (c, i) => c.limit - (result.tokensUsed[i] ?? 0));
  if (tokens) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.c.limit);
    headers['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    headers['x-ratelimit-reset-tokens'] = formatDuration(tokens.resetMs);
  }
  return headers;
}

function refusalError(plan: AdmissionPlan, refusal: Refusal, headers: Record<string, string>, now: number, reservation: number): GatewayError {
  switch (refusal.kind) {
    case 'requests':
    case 'tokens': {
      const c = (refusal.kind === 'requests' ? plan.requests : plan.tokens)[refusal.index];
      const waitMs = Math.max(0, (c.windowEnd?.getTime() ?? now) - now);
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      const used = refusal.kind === 'tokens' ? ` and ${refusal.used} have been used` : '';
      return new RateLimitExceededError(
        `Rate limit reached: ${describeLevel(c.level, c.levelId)} allows ${c.limit} ${LIMIT_WORDS[c.kind]}${used}. Try again in ${formatDuration(waitMs)}.`,
        { ...headers, 'retry-after': String(retryAfter) },
      );
    }
    case 'concurrency': {
      const c = plan.concurrency[refusal.index];
      return new RateLimitExceededError(
        `Concurrency limit reached: ${describeLevel(c.level, c.levelId)} allows ${c.limit} ${LIMIT_WORDS[c.kind]}. Try again when one finishes.`,
        { ...headers, 'retry-after': '1' },
      );
    }
    case 'budget': {
      const b: BudgetPlan = plan.budgets[refusal.index];
      const remaining = Math.max(0, refusal.limitUsd - refusal.spentUsd - refusal.reservedUsd);
      const resets = b.windowEnd ? ` The window resets at ${b.windowEnd.toISOString()}.` : '';
      const held = refusal.reservedUsd > 0 ? `, ${usd(refusal.reservedUsd)} held by requests in flight` : '';
      return new BudgetExceededError(
        `Budget exceeded: the ${b.period} budget of ${describeLevel(b.level, b.levelId)} is ${usd(refusal.limitUsd)} and has ${usd(remaining)} remaining ` +
          `(spent ${usd(refusal.spentUsd)}${held}); this request may cost up to ${usd(roundUsdUp(reservation))}.${resets}`,
        headers,
      );
    }
  }
}

const usd = (value: number): string => `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 6 : 2)}`;
