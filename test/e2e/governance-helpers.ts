import Redis from 'ioredis';

/**
 * Shared by the governance specs: policies written straight into the test database (as
 * the admin API would), windows, and a Redis namespace per test run.
 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Query = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

export interface Limits {
  requestsPerMinute?: number;
  requestsPerDay?: number;
  tokensPerMinute?: number;
  tokensPerDay?: number;
  maxConcurrency?: number;
  allowedModels?: string[];
}

const COLUMNS: Record<keyof Limits, string> = {
  requestsPerMinute: 'requests_per_minute',
  requestsPerDay: 'requests_per_day',
  tokensPerMinute: 'tokens_per_minute',
  tokensPerDay: 'tokens_per_day',
  maxConcurrency: 'max_concurrency',
  allowedModels: 'allowed_models',
};

/** Sets a key's, team's or customer's limits (before the key's first request, so no cache hides them). */
export async function setLimits(query: Query, table: 'virtual_keys' | 'teams' | 'customers', id: string, limits: Limits): Promise<void> {
  const entries = Object.entries(limits) as Array<[keyof Limits, unknown]>;
  if (entries.length === 0) return;
  const sets = entries.map(([field], i) => `${COLUMNS[field]} = $${i + 2}`).join(', ');
  await query(`UPDATE ${table} SET ${sets} WHERE id = $1`, [id, ...entries.map(([, v]) => v)]);
}

export async function createCustomer(query: Query, limits: Limits = {}): Promise<string> {
  const [row] = await query<{ id: string }>(`INSERT INTO customers (name) VALUES ('customer') RETURNING id`);
  await setLimits(query, 'customers', row.id, limits);
  return row.id;
}

export async function createTeam(query: Query, limits: Limits = {}, customerId: string | null = null): Promise<string> {
  const [row] = await query<{ id: string }>(`INSERT INTO teams (name, customer_id) VALUES ('team', $1) RETURNING id`, [customerId]);
  await setLimits(query, 'teams', row.id, limits);
  return row.id;
}

export async function createBudget(query: Query, scope: 'key' | 'team' | 'customer', scopeId: string, period: string, limitUsd: number): Promise<string> {
  const [row] = await query<{ id: string }>(`INSERT INTO budgets (scope, scope_id, period, limit_usd) VALUES ($1, $2, $3, $4) RETURNING id`, [
    scope,
    scopeId,
    period,
    limitUsd,
  ]);
  return row.id;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the next minute when fewer than `neededMs` are left in this one, so a test's requests share one rate window. */
export async function ensureMinuteLeft(neededMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < neededMs) await sleep(left + 100);
}

/** A Redis key prefix no other run shares, and a way to delete everything under it. */
export function redisNamespace(): { prefix: string; redis: () => Redis; cleanup: () => Promise<void> } {
  const prefix = `tokenhub-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
  let client: Redis | null = null;
  const redis = () => (client ??= new Redis(REDIS_URL, { maxRetriesPerRequest: 2 }));
  return {
    prefix,
    redis,
    async cleanup() {
      const r = redis();
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await r.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await r.quit();
      client = null;
    },
  };
}

/** Start of the current UTC window, as the gateway computes it. */
export function windowStart(period: 'daily' | 'monthly' | 'weekly' | 'lifetime' | 'hourly', now = Date.now()): Date {
  const DAY = 86_400_000;
  const d = new Date(now);
  switch (period) {
    case 'hourly':
      return new Date(Math.floor(now / 3_600_000) * 3_600_000);
    case 'daily':
      return new Date(Math.floor(now / DAY) * DAY);
    case 'weekly': {
      const day = Math.floor(now / DAY) * DAY;
      return new Date(day - ((new Date(day).getUTCDay() + 6) % 7) * DAY);
    }
    case 'monthly':
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    case 'lifetime':
      return new Date(0);
  }
}
