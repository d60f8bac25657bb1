import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, closedPort, expectOpenAIError, Gateway, postChat, readSse, startGateway } from './harness';
import { createBudget, createCustomer, createTeam, ensureMinuteLeft, Limits, redisNamespace, REDIS_URL, setLimits, sleep, windowStart } from './governance-helpers';

/**
 * Governance on one gateway, with each limit store (Postgres, then Redis): every refusal
 * (403 model_not_allowed, 402 budget_exceeded, 429 rate_limit_exceeded) with its status,
 * code, message, headers and usage record; `x-ratelimit-*` headers on successes; budgets
 * reserved before the call and settled to the actual cost after it, whatever the outcome.
 * Policies are written into the database directly, before each key's first request.
 */
const GPT_4O = { input: 2.5, output: 10 };

describe.each([['postgres'], ['redis']])('governance (%s store)', (store) => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  const ns = redisNamespace();
  // The fake's slow stream, priced like gpt-4o, so a stream cut short has a cost to estimate.
  const catalogDir = mkdtempSync(join(tmpdir(), 'tokenhub-catalog-'));
  const catalogPath = join(catalogDir, 'models.json');
  writeFileSync(catalogPath, JSON.stringify({ version: 'governance-test', models: { 'openai/slow-stream': { maxOutputTokens: 16384, ...GPT_4O } } }));

  beforeAll(async () => {
    fake = new FakeOpenAI();
    fake.chunkDelayMs = 30;
    fake.completionDelayMs = 400;
    const base = await fake.start();
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: base,
      TOKENHUB_MAX_RETRIES: '0',
      MODEL_CATALOG_PATH: catalogPath,
      ...(store === 'redis' ? { REDIS_URL, REDIS_KEY_PREFIX: ns.prefix } : {}),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
    if (store === 'redis') await ns.cleanup();
    rmSync(catalogDir, { recursive: true, force: true });
  });

  async function keyWith(limits: Limits = {}, teamId: string | null = null): Promise<{ id: string; key: string }> {
    const key = await gw.createKey('governed');
    await setLimits(gw.query, 'virtual_keys', key.id, limits);
    if (teamId) await gw.query(`UPDATE virtual_keys SET team_id = $2 WHERE id = $1`, [key.id, teamId]);
    return key;
  }

  async function usageOf(res: Response): Promise<Record<string, unknown>> {
    const rows = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  /** A budget's current window: from Postgres, or with Redis from Redis (where reservations live). */
  async function windowOf(budgetId: string, period: Parameters<typeof windowStart>[0]): Promise<{ spent: number; reserved: number }> {
    const start = windowStart(period);
    if (store === 'redis') {
      const [spent, reserved] = await ns.redis().hmget(`${ns.prefix}budget:${budgetId}:${start.getTime()}`, 'spent', 'reserved');
      return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) };
    }
    const rows = await gw.query<{ spent_usd: string; reserved_usd: string }>(`SELECT spent_usd, reserved_usd FROM budget_windows WHERE budget_id = $1 AND window_start = $2`, [
      budgetId,
      start,
    ]);
    return { spent: Number(rows[0]?.spent_usd ?? 0), reserved: Number(rows[0]?.reserved_usd ?? 0) };
  }

  /** Spend as Postgres has it (with Redis, written behind within about a second). */
  async function postgresSpent(budgetId: string, expected: number): Promise<number> {
    const deadline = Date.now() + 4_000;
    for (;;) {
      const rows = await gw.query<{ spent: string }>(`SELECT coalesce(sum(spent_usd), 0) AS spent FROM budget_windows WHERE budget_id = $1`, [budgetId]);
      const spent = Number(rows[0].spent);
      if (Math.abs(spent - expected) < 1e-9 || Date.now() > deadline) return spent;
      await sleep(100);
    }
  }

  describe('allowed models', () => {
    it('refuses a model outside the key’s list with 403 model_not_allowed naming it, and records the refusal', async () => {
      const key = await keyWith({ allowedModels: ['openai/gpt-4o-mini'] });
      const before = fake.requests.length;
      const res = await postChat(gw, key.key, chatBody({ model: 'openai/gpt-4o' }));
      expect(res.status).toBe(403);
      const error = expectOpenAIError(await res.json());
      expect(error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
      expect(error.message).toContain("'openai/gpt-4o'");
      expect(error.message).toContain('openai/gpt-4o-mini');
      expect(fake.requests.length).toBe(before);
      expect(await usageOf(res)).toMatchObject({ status_code: 403, error_code: 'model_not_allowed', key_id: key.id });

      const ok = await postChat(gw, key.key, chatBody({ model: 'gpt-4o-mini' }));
      expect(ok.status).toBe(200);
    });

    it('checks every fallback too', async () => {
      const key = await keyWith({ allowedModels: ['openai/gpt-4o-mini'] });
      const res = await postChat(gw, key.key, chatBody({ model: 'openai/gpt-4o-mini', fallbacks: ['openai/gpt-4o'] }));
      expect(res.status).toBe(403);
      const error = expectOpenAIError(await res.json());
      expect(error).toMatchObject({ code: 'model_not_allowed', param: 'fallbacks[0]' });
      expect(error.message).toContain("'openai/gpt-4o'");
    });

    it('applies the list of every level: a key allowing openai/* under a team allowing one model', async () => {
      const team = await createTeam(gw.query, { allowedModels: ['openai/gpt-4o-mini'] });
      const key = await keyWith({ allowedModels: ['openai/*'] }, team);
      const refused = await postChat(gw, key.key, chatBody({ model: 'openai/gpt-4o' }));
      expect(refused.status).toBe(403);
      const error = expectOpenAIError(await refused.json());
      expect(error.message).toContain(`team (${team})`);
      expect((await postChat(gw, key.key, chatBody({ model: 'openai/gpt-4o-mini' }))).status).toBe(200);
      const open = await keyWith({ allowedModels: ['*'] });
      expect((await postChat(gw, open.key, chatBody({ model: 'openai/gpt-4.1' }))).status).toBe(200);
    });
  });

  describe('budgets', () => {
    it('refuses with 402 budget_exceeded when the worst case does not fit, saying which level and period and what remains', async () => {
      const key = await keyWith();
      await createBudget(gw.query, 'key', key.id, 'lifetime', 0.0001);
      const before = fake.requests.length;
      // Worst case: ~13 prompt tokens and 100 output tokens at gpt-4o prices, about $0.00103.
      const res = await postChat(gw, key.key, chatBody({ max_tokens: 100 }));
      expect(res.status).toBe(402);
      const error = expectOpenAIError(await res.json());
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'budget_exceeded', param: null });
      expect(error.message).toContain('lifetime budget of this key');
      expect(error.message).toContain('$0.000100 remaining');
      expect(error.message).toMatch(/may cost up to \$0\.0010\d+/);
      expect(fake.requests.length).toBe(before);
      expect(await usageOf(res)).toMatchObject({ status_code: 402, error_code: 'budget_exceeded', error_type: 'invalid_request_error' });

      // A smaller answer fits.
      expect((await postChat(gw, key.key, chatBody({ max_tokens: 5 }))).status).toBe(200);
    });

    it('refuses when the team’s daily budget is spent, and gives back what the key level had reserved', async () => {
      const team = await createTeam(gw.query);
      const key = await keyWith({}, team);
      const keyBudget = await createBudget(gw.query, 'key', key.id, 'monthly', 100);
      const teamBudget = await createBudget(gw.query, 'team', team, 'daily', 1);
      await gw.query(`INSERT INTO budget_windows (budget_id, window_start, spent_usd) VALUES ($1, $2, 1)`, [teamBudget, windowStart('daily')]);
      const res = await postChat(gw, key.key, chatBody({ max_tokens: 10 }));
      expect(res.status).toBe(402);
      const error = expectOpenAIError(await res.json());
      expect(error.code).toBe('budget_exceeded');
      expect(error.message).toContain(`daily budget of this key's team (${team}) is $1.00 and has $0.00 remaining`);
      expect(error.message).toContain('The window resets at');
      expect(await windowOf(keyBudget, 'monthly')).toEqual({ spent: 0, reserved: 0 });
    });

    it('settles every level to the actual cost, streamed or not, and spends nothing on failures', async () => {
      const customer = await createCustomer(gw.query);
      const team = await createTeam(gw.query, {}, customer);
      const key = await keyWith({}, team);
      const budgets = {
        key: { id: await createBudget(gw.query, 'key', key.id, 'daily', 1), period: 'daily' as const },
        team: { id: await createBudget(gw.query, 'team', team, 'monthly', 5), period: 'monthly' as const },
        customer: { id: await createBudget(gw.query, 'customer', customer, 'weekly', 10), period: 'weekly' as const },
      };
      const expectEveryLevel = async (spent: number) => {
        for (const b of Object.values(budgets)) {
          const w = await windowOf(b.id, b.period);
          expect(w.reserved).toBeCloseTo(0, 12);
          expect(w.spent).toBeCloseTo(spent, 9);
        }
      };

      const res = await postChat(gw, key.key, chatBody());
      expect(res.status).toBe(200);
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      const cost = (body.usage.prompt_tokens * GPT_4O.input + body.usage.completion_tokens * GPT_4O.output) / 1e6;
      expect(Number((await usageOf(res)).cost_usd)).toBeCloseTo(cost, 10);
      await expectEveryLevel(cost);

      const streamed = await postChat(gw, key.key, chatBody({ stream: true }));
      expect(streamed.status).toBe(200);
      await readSse(streamed);
      const streamCost = Number((await usageOf(streamed)).cost_usd);
      expect(streamCost).toBeGreaterThan(0);
      await expectEveryLevel(cost + streamCost);

      const failed = await postChat(gw, key.key, chatBody({ model: 'openai/error-500' }));
      expect(failed.status).toBe(500);
      await expectEveryLevel(cost + streamCost);

      // No price: admitted with nothing reserved; the cost is recorded as unknown and spends nothing.
      const unpriced = await postChat(gw, key.key, chatBody({ model: 'openai/house-model' }));
      expect(unpriced.status).toBe(200);
      expect((await usageOf(unpriced)).cost_usd).toBeNull();
      await expectEveryLevel(cost + streamCost);

      if (store === 'redis') expect(await postgresSpent(budgets.team.id, cost + streamCost)).toBeCloseTo(cost + streamCost, 9);
    });

    it('settles a stream the client hangs up on to an estimate, and releases the rest', async () => {
      const key = await keyWith();
      const budget = await createBudget(gw.query, 'key', key.id, 'hourly', 1);
      const res = await postChat(gw, key.key, chatBody({ model: 'openai/slow-stream', stream: true, max_tokens: 1000 }));
      expect(res.status).toBe(200);
      await readSse(res, (_e, all) => all.length >= 3);
      const deadline = Date.now() + 5_000;
      let w = await windowOf(budget, 'hourly');
      while ((w.reserved > 0 || w.spent === 0) && Date.now() < deadline) {
        await sleep(50);
        w = await windowOf(budget, 'hourly');
      }
      expect(w.reserved).toBeCloseTo(0, 12);
      // Prompt estimate plus about one token per chunk streamed: far below the $0.01 reserved for 1000 output tokens.
      expect(w.spent).toBeGreaterThan(0);
      expect(w.spent).toBeLessThan(0.001);
      expect(await usageOf(res)).toMatchObject({ status_code: 499 });
      expect(fake.abandonedStreams.some((s) => s.model === 'slow-stream')).toBe(true);
    });

    it('sees a budget the admin API creates from the next request on (its cache goes with the key’s)', async () => {
      const key = await keyWith();
      expect((await postChat(gw, key.key, chatBody({ max_tokens: 100 }))).status).toBe(200);
      const created = await gw.admin('/admin/budgets', { method: 'POST', body: JSON.stringify({ scope: 'key', scope_id: key.id, period: 'daily', limit_usd: 0.0001 }) });
      expect(created.status).toBe(201);
      const res = await postChat(gw, key.key, chatBody({ max_tokens: 100 }));
      expect(res.status).toBe(402);
      expect(expectOpenAIError(await res.json()).message).toContain('daily budget of this key');
    });

    it('refuses even a model without a price once the budget is spent', async () => {
      const key = await keyWith();
      await createBudget(gw.query, 'key', key.id, 'lifetime', 0);
      const res = await postChat(gw, key.key, chatBody({ model: 'openai/house-model' }));
      expect(res.status).toBe(402);
      expect(expectOpenAIError(await res.json()).code).toBe('budget_exceeded');
    });
  });

  describe('rate limits', () => {
    it('allows N requests a minute, then 429 rate_limit_exceeded with Retry-After and x-ratelimit-* headers on every response', async () => {
      await ensureMinuteLeft(5_000);
      const key = await keyWith({ requestsPerMinute: 2 });
      const first = await postChat(gw, key.key, chatBody());
      const second = await postChat(gw, key.key, chatBody());
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2');
      expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
      expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?(ms|s)$/);
      expect(first.headers.get('x-ratelimit-limit-tokens')).toBeNull();

      const refused = await postChat(gw, key.key, chatBody());
      expect(refused.status).toBe(429);
      const error = expectOpenAIError(await refused.json());
      expect(error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
      expect(error.message).toContain('allows 2 requests per minute');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('2');
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(await usageOf(refused)).toMatchObject({ status_code: 429, error_code: 'rate_limit_exceeded', error_type: 'rate_limit_error' });
    });

    it('reports the tightest level: a team allowing fewer requests than the key', async () => {
      await ensureMinuteLeft(5_000);
      const team = await createTeam(gw.query, { requestsPerMinute: 3 });
      const key = await keyWith({ requestsPerMinute: 100 }, team);
      const res = await postChat(gw, key.key, chatBody());
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('2');
      // Streams and upstream failures carry the headers too.
      const streamed = await postChat(gw, key.key, chatBody({ stream: true }));
      expect(streamed.status).toBe(200);
      expect(streamed.headers.get('x-ratelimit-remaining-requests')).toBe('1');
      await readSse(streamed);
      const failed = await postChat(gw, key.key, chatBody({ model: 'openai/error-503' }));
      expect(failed.status).toBe(503);
      expect(failed.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      const refused = await postChat(gw, key.key, chatBody());
      expect(refused.status).toBe(429);
      expect(expectOpenAIError(await refused.json()).message).toContain(`team (${team}) allows 3 requests per minute`);
      // The team's refusal did not use up the key's own count.
      const [row] = await gw.query<{ value: string }>(`SELECT value FROM limit_counters WHERE name = $1`, [`rpm:key:${key.id}`]);
      if (store === 'postgres') expect(Number(row.value)).toBe(3);
    });

    it('refuses a key with a limit of zero', async () => {
      const key = await keyWith({ requestsPerDay: 0 });
      const res = await postChat(gw, key.key, chatBody());
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('0');
    });

    it('admits while tokens used are under the limit, adds what was used, then refuses with the tokens headers', async () => {
      await ensureMinuteLeft(5_000);
      const key = await keyWith({ tokensPerMinute: 30, tokensPerDay: 100_000 });
      const first = await postChat(gw, key.key, chatBody());
      expect(first.status).toBe(200);
      const used = ((await first.json()) as { usage: { total_tokens: number } }).usage.total_tokens;
      expect(used).toBeGreaterThan(15);
      expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('30');
      expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('30');
      expect(first.headers.get('x-ratelimit-reset-tokens')).toMatch(/s$/);
      expect(first.headers.get('x-ratelimit-limit-requests')).toBeNull();
      const second = await postChat(gw, key.key, chatBody());
      expect(second.status).toBe(200);
      expect(second.headers.get('x-ratelimit-remaining-tokens')).toBe(String(30 - used));
      const refused = await postChat(gw, key.key, chatBody());
      expect(refused.status).toBe(429);
      const error = expectOpenAIError(await refused.json());
      expect(error.code).toBe('rate_limit_exceeded');
      expect(error.message).toContain('allows 30 tokens per minute');
      expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(await usageOf(refused)).toMatchObject({ status_code: 429, error_code: 'rate_limit_exceeded' });
    });

    it('caps requests in flight, and frees the slot before answering', async () => {
      const key = await keyWith({ maxConcurrency: 1 });
      const slow = postChat(gw, key.key, chatBody({ model: 'openai/slow-complete' }));
      await sleep(150);
      const refused = await postChat(gw, key.key, chatBody());
      expect(refused.status).toBe(429);
      const error = expectOpenAIError(await refused.json());
      expect(error.code).toBe('rate_limit_exceeded');
      expect(error.message).toContain('allows 1 requests in flight at once');
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await usageOf(refused)).toMatchObject({ status_code: 429, error_code: 'rate_limit_exceeded' });
      expect((await slow).status).toBe(200);
      // Sequential callers never trip over their own previous request.
      for (let i = 0; i < 5; i++) expect((await postChat(gw, key.key, chatBody())).status).toBe(200);
      const streamed = await postChat(gw, key.key, chatBody({ stream: true }));
      await readSse(streamed);
      expect((await postChat(gw, key.key, chatBody())).status).toBe(200);
    });
  });

  it('leaves the admin key and keys without policies alone (no headers)', async () => {
    const plain = await gw.createKey('plain');
    const res = await postChat(gw, plain.key, chatBody());
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect((await postChat(gw, ADMIN_KEY, chatBody())).status).toBe(200);
  });
});

describe('governance when Redis cannot be reached', () => {
  it('refuses keys with policies with 503 governance_unavailable (limits are not silently dropped), and serves the others', async () => {
    const fake = new FakeOpenAI();
    const base = await fake.start();
    const gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const limited = await gw.createKey('limited');
      await setLimits(gw.query, 'virtual_keys', limited.id, { requestsPerMinute: 10 });
      const res = await postChat(gw, limited.key, chatBody());
      expect(res.status).toBe(503);
      expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'server_error', code: 'governance_unavailable' });
      expect(res.headers.get('retry-after')).toBe('1');
      expect(fake.requests).toHaveLength(0);
      const plain = await gw.createKey('plain');
      expect((await postChat(gw, plain.key, chatBody())).status).toBe(200);
    } finally {
      await gw.close();
      await fake.stop();
    }
  });
});
