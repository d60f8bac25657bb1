import { BudgetLedgerRepository } from '@tokenhub/store';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { AdmissionPlan, AdmitResult, BudgetPlan, COUNTER_GRACE_MS, CounterPlan, LimitStore, Refusal, Settlement } from './limit-store';

/** How long a concurrency slot is held without a heartbeat (a crashed replica's slots free themselves after this). */
export const LEASE_MS = 30_000;
const HEARTBEAT_MS = LEASE_MS / 3;
/** How often settled spend is written to Postgres `budget_windows`. */
const SPEND_FLUSH_MS = 1_000;

/**
 * Checks every limit and budget of a plan, then takes them all, in one atomic step.
 * KEYS: every key the plan names; ARGV[1]: the plan as JSON, keys by 1-based index:
 *   r: [[key, limit, ttlMs]]          request counters (INCR, PEXPIRE on creation)
 *   t: [[key, limit]]                 token counters (used < limit)
 *   c: [[key, cap, member, leaseMs]]  concurrency: a sorted set of leases scored by expiry
 *   b: [[key, limitUsd, amountUsd]]   budget windows: hashes {spent, reserved}
 * Answers JSON: {s: 'ok' | 'requests' | 'tokens' | 'concurrency' | 'budget' | 'seed', i, r, t, ...}.
 * 'seed' means a budget window is not in Redis yet (new window, or Redis lost it): the
 * caller loads its spend from Postgres, seeds it, and asks again.
 */
const ADMIT = `
local p = cjson.decode(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rv, tv = {}, {}
for i, r in ipairs(p.r) do
  local v = tonumber(redis.call('GET', KEYS[r[1]]) or '0')
  rv[i] = v
  if v >= r[2] then return cjson.encode({s = 'requests', i = i, r = rv, t = tv}) end
end
for i, c in ipairs(p.t) do
  local v = tonumber(redis.call('GET', KEYS[c[1]]) or '0')
  tv[i] = v
  if v >= c[2] then return cjson.encode({s = 'tokens', i = i, r = rv, t = tv}) end
end
for i, c in ipairs(p.c) do
  redis.call('ZREMRANGEBYSCORE', KEYS[c[1]], '-inf', now)
  if redis.call('ZCARD', KEYS[c[1]]) >= c[2] then return cjson.encode({s = 'concurrency', i = i, r = rv, t = tv}) end
end
for i, b in ipairs(p.b) do
  local w = redis.call('HMGET', KEYS[b[1]], 'spent', 'reserved')
  if not w[1] then return cjson.encode({s = 'seed', i = i}) end
  local spent, reserved = tonumber(w[1]), tonumber(w[2] or '0')
  if spent >= b[2] or spent + reserved + b[3] > b[2] then
    return cjson.encode({s = 'budget', i = i, spent = w[1], reserved = w[2] or '0', r = rv, t = tv})
  end
end
for i, r in ipairs(p.r) do
  if redis.call('INCR', KEYS[r[1]]) == 1 then redis.call('PEXPIRE', KEYS[r[1]], r[3]) end
end
for i, c in ipairs(p.c) do
  redis.call('ZADD', KEYS[c[1]], now + c[4], c[3])
  redis.call('PEXPIRE', KEYS[c[1]], c[4] * 2)
end
for i, b in ipairs(p.b) do
  if b[3] > 0 then redis.call('HINCRBYFLOAT', KEYS[b[1]], 'reserved', b[3]) end
end
return cjson.encode({s = 'ok', r = rv, t = tv})
`;

/**
 * Gives back what a request took. ARGV[1]:
 *   b: [[key, reservedUsd, spentUsd]]  release the reservation, add the actual cost
 *   t: [[key, tokens, ttlMs]]          add the tokens used
 *   c: [[key, member]]                 free the concurrency slot
 * A budget window that has expired meanwhile is left alone (not recreated without a TTL).
 */
const SETTLE = `
local p = cjson.decode(ARGV[1])
for i, b in ipairs(p.b) do
  local k = KEYS[b[1]]
  if redis.call('HEXISTS', k, 'spent') == 1 then
    if b[2] > 0 then
      local r = tonumber(redis.call('HINCRBYFLOAT', k, 'reserved', -b[2]))
      if r < 1e-12 then redis.call('HSET', k, 'reserved', '0') end
    end
    if b[3] > 0 then redis.call('HINCRBYFLOAT', k, 'spent', b[3]) end
  end
end
for i, c in ipairs(p.t) do
  if c[2] > 0 then
    redis.call('INCRBY', KEYS[c[1]], c[2])
    if redis.call('PTTL', KEYS[c[1]]) < 0 then redis.call('PEXPIRE', KEYS[c[1]], c[3]) end
  end
end
for i, c in ipairs(p.c) do redis.call('ZREM', KEYS[c[1]], c[2]) end
return 1
`;

/** Creates a budget window with the spend Postgres has for it, unless another replica already did. ARGV: spent, ttlMs (0: none). */
const SEED = `
if redis.call('HEXISTS', KEYS[1], 'spent') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'spent', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'reserved') == 0 then redis.call('HSET', KEYS[1], 'reserved', '0') end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/** Extends the leases of requests still running. KEYS: lease sets; ARGV: leaseMs, then one member per key. */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], lease * 2)
end
return #KEYS
`;

interface Scripts {
  thAdmit(numKeys: number, ...args: string[]): Promise<string>;
  thSettle(numKeys: number, ...args: string[]): Promise<number>;
  thSeed(key: string, spent: string, ttlMs: string): Promise<number>;
  thRenew(numKeys: number, ...args: string[]): Promise<number>;
}

interface ScriptReply {
  s: 'ok' | 'requests' | 'tokens' | 'concurrency' | 'budget' | 'seed';
  i?: number;
  r?: number[] | Record<string, never>;
  t?: number[] | Record<string, never>;
  spent?: string;
  reserved?: string;
}

/**
 * Limits and budgets in Redis: each admission is one Lua script (all checks, then all
 * increments, atomically), each settlement another; the hot path makes no Postgres round
 * trip. Keys (all under `REDIS_KEY_PREFIX`):
 *
 * - `rl:<kind>:<level>:<id>:<windowStartMs>`: request and token counters, expiring a
 *   minute after their window;
 * - `conc:<level>:<id>`: a sorted set of in-flight request ids scored by lease expiry;
 *   this process renews its leases every 10 s, so a crashed replica's slots free
 *   themselves within {@link LEASE_MS};
 * - `budget:<budgetId>:<windowStartMs>`: a hash {spent, reserved} per budget window,
 *   expiring a day after the window ends (never, for lifetime budgets). A window Redis
 *   does not have yet is seeded once from Postgres `budget_windows`.
 *
 * Settled spend is written behind to Postgres `budget_windows.spent_usd` every second (and
 * on shutdown), so spend survives Redis and reports read it from Postgres; reservations
 * live only in Redis.
 */
export class RedisLimitStore implements LimitStore {
  private readonly redis: Redis & Scripts;
  private readonly leases = new Map<string, string[]>();
  private readonly pendingSpend = new Map<string, { budgetId: string; windowStart: Date; spentUsd: number }>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly flusher: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;

  constructor(
    url: string,
    private readonly prefix: string,
    private readonly ledger: BudgetLedgerRepository,
    private readonly logger: Logger,
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true, connectTimeout: 5_000, disconnectTimeout: 200 }) as Redis & Scripts;
    this.redis.on('error', (err) => this.logger.warn({ err }, 'redis error'));
    this.redis.defineCommand('thAdmit', { lua: ADMIT });
    this.redis.defineCommand('thSettle', { lua: SETTLE });
    this.redis.defineCommand('thSeed', { lua: SEED, numberOfKeys: 1 });
    this.redis.defineCommand('thRenew', { lua: RENEW });
    this.heartbeat = setInterval(() => void this.renewLeases(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.flusher = setInterval(() => void this.flushSpend(), SPEND_FLUSH_MS);
    this.flusher.unref();
  }

  async admit(plan: AdmissionPlan): Promise<AdmitResult> {
    const keys: string[] = [];
    const ref = (key: string) => keys.push(key);
    const now = Date.now();
    const spec = {
      r: plan.requests.map((c) => [ref(this.counterKey(c)), c.limit, ttl(c.windowEnd, now)]),
      t: plan.tokens.map((c) => [ref(this.counterKey(c)), c.limit]),
      c: plan.concurrency.map((c) => [ref(this.counterKey(c)), c.limit, plan.requestId, LEASE_MS]),
      b: plan.budgets.map((b) => [ref(this.budgetKey(b)), b.limitUsd, b.amountUsd]),
    };
    const json = JSON.stringify(spec);
    for (let attempt = 0; ; attempt++) {
      const reply = JSON.parse(await this.redis.thAdmit(keys.length, ...keys, json)) as ScriptReply;
      if (reply.s === 'seed' && attempt < 3) {
        await this.seed(plan.budgets[reply.i! - 1]);
        continue;
      }
      const requestCounts = plan.requests.map((_, i) => list(reply.r)[i] ?? null);
      const tokensUsed = plan.tokens.map((_, i) => list(reply.t)[i] ?? null);
      if (reply.s === 'ok') {
        for (const b of plan.budgets) b.held = true;
        if (plan.concurrency.length > 0) this.leases.set(plan.requestId, plan.concurrency.map((c) => this.counterKey(c)));
        return { refusal: null, requestCounts, tokensUsed };
      }
      return { refusal: this.refusal(reply, plan), requestCounts, tokensUsed };
    }
  }

  async settle(plan: AdmissionPlan, settlement: Settlement): Promise<void> {
    this.leases.delete(plan.requestId);
    const keys: string[] = [];
    const ref = (key: string) => keys.push(key);
    const now = Date.now();
    const held = plan.budgets.filter((b) => b.held);
    const spec = {
      b: held.map((b) => [ref(this.budgetKey(b)), b.amountUsd, settlement.spentUsd]),
      t: settlement.tokens > 0 ? plan.tokens.map((c) => [ref(this.counterKey(c)), Math.round(settlement.tokens), ttl(c.windowEnd, now)]) : [],
      c: plan.concurrency.map((c) => [ref(this.counterKey(c)), plan.requestId]),
    };
    if (keys.length > 0) await this.redis.thSettle(keys.length, ...keys, JSON.stringify(spec));
    if (settlement.spentUsd > 0) {
      for (const b of held) {
        const id = `${b.budgetId}@${b.windowStart.getTime()}`;
        const pending = this.pendingSpend.get(id);
        if (pending) pending.spentUsd += settlement.spentUsd;
        else this.pendingSpend.set(id, { budgetId: b.budgetId, windowStart: b.windowStart, spentUsd: settlement.spentUsd });
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.flusher);
    await this.flushSpend();
    if (this.pendingSpend.size > 0) await this.flushSpend();
    // A client still (re)connecting would wait for Redis to quit; it is just dropped.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }

  /** Writes settled spend to Postgres; a failed write is kept for the next flush. */
  flushSpend(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pendingSpend.size === 0) return Promise.resolve();
    const batch = [...this.pendingSpend.values()];
    this.pendingSpend.clear();
    this.flushing = this.ledger
      .addSpent(batch)
      .catch((err) => {
        this.logger.warn({ err }, 'writing budget spend to Postgres failed; retrying with the next flush');
        for (const entry of batch) {
          const id = `${entry.budgetId}@${entry.windowStart.getTime()}`;
          const pending = this.pendingSpend.get(id);
          if (pending) pending.spentUsd += entry.spentUsd;
          else this.pendingSpend.set(id, entry);
        }
      })
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async seed(budget: BudgetPlan): Promise<void> {
    const spent = await this.ledger.spent(budget.budgetId, budget.windowStart);
    const ttlMs = budget.windowEnd ? budget.windowEnd.getTime() - Date.now() + 24 * 3_600_000 : 0;
    await this.redis.thSeed(this.budgetKey(budget), spent.toFixed(10), String(Math.max(ttlMs, 0)));
  }

  private refusal(reply: ScriptReply, plan: AdmissionPlan): Refusal {
    const index = (reply.i ?? 1) - 1;
    switch (reply.s) {
      case 'requests':
        return { kind: 'requests', index };
      case 'tokens':
        return { kind: 'tokens', index, used: list(reply.t)[index] ?? plan.tokens[index].limit };
      case 'concurrency':
        return { kind: 'concurrency', index };
      case 'budget':
        return { kind: 'budget', index, spentUsd: Number(reply.spent), reservedUsd: Number(reply.reserved), limitUsd: plan.budgets[index].limitUsd };
      default:
        throw new Error(`unexpected answer from the admission script: ${JSON.stringify(reply)}`);
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.leases.size === 0) return;
    const keys: string[] = [];
    const members: string[] = [];
    for (const [requestId, sets] of this.leases) {
      for (const key of sets) {
        keys.push(key);
        members.push(requestId);
      }
    }
    try {
      for (let i = 0; i < keys.length; i += 500) {
        await this.redis.thRenew(Math.min(500, keys.length - i), ...keys.slice(i, i + 500), String(LEASE_MS), ...members.slice(i, i + 500));
      }
    } catch (err) {
      this.logger.warn({ err }, 'renewing concurrency leases failed');
    }
  }

  private counterKey(c: CounterPlan): string {
    return c.windowEnd ? `${this.prefix}rl:${c.name}:${c.windowStart.getTime()}` : `${this.prefix}${c.name}`;
  }

  private budgetKey(b: BudgetPlan): string {
    return `${this.prefix}budget:${b.budgetId}:${b.windowStart.getTime()}`;
  }
}

/** A counter key lives until a minute after its window ends. */
const ttl = (windowEnd: Date | null, now: number): number => Math.max(1_000, (windowEnd?.getTime() ?? now) - now + COUNTER_GRACE_MS);

/** cjson writes an empty Lua table as `{}`. */
const list = (value: number[] | Record<string, never> | undefined): number[] => (Array.isArray(value) ? value : []);
