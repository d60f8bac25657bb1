import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, expectOpenAIError, Gateway, postChat, readSse, startGateway } from './harness';

/**
 * Usage accounting: every request to the chat endpoint, whatever becomes of it, is one
 * usage record, readable through GET /admin/usage within 2 seconds; and the admin API's
 * filters and cursor pagination.
 */
interface UsageView {
  request_id: string;
  created_at: string;
  finished_at: string;
  endpoint: string;
  key_id: string | null;
  principal: string;
  user: string | null;
  metadata: Record<string, unknown> | null;
  requested_model: string | null;
  provider: string | null;
  model: string | null;
  attempts: Array<{ provider: string; model: string; status?: number; outcome: 'success' | 'error'; error?: string; latencyMs: number }>;
  status: number;
  error: { type: string; code: string | null; message: string } | null;
  usage: { prompt_tokens: number | null; completion_tokens: number | null; cached_tokens: number | null; total_tokens: number | null };
  cost_usd: number | null;
  cost_known: boolean;
  price_catalog_version: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  stream: boolean;
}
interface UsagePage {
  object: 'list';
  data: UsageView[];
  has_more: boolean;
  next_cursor: string | null;
}

/** openai/gpt-4o in the bundled catalog, USD per million tokens. */
const GPT_4O = { input: 2.5, output: 10 };
const VISIBLE_WITHIN_MS = 2_000;

describe('usage records', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: { id: string; key: string };
  /** Every request id this file sent to the chat endpoint, to check the table holds exactly these. */
  const sent: string[] = [];

  beforeAll(async () => {
    fake = new FakeOpenAI();
    fake.chunkDelayMs = 20;
    const base = await fake.start();
    // The production flush interval, so "within 2 s" is measured as deployed.
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, USAGE_FLUSH_INTERVAL_MS: '250', TOKENHUB_MAX_RETRIES: '0' });
    key = await gw.createKey('usage');
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  /** Sends a chat request and remembers its request id (every response carries one). */
  async function chat(body: unknown, headers: Record<string, string> = {}, token = key.key): Promise<{ res: Response; requestId: string }> {
    const res = await postChat(gw, token, body, headers);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    sent.push(requestId!);
    return { res, requestId: requestId! };
  }

  async function usagePage(query: Record<string, string | number> = {}): Promise<UsagePage> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await gw.admin(`/admin/usage?${qs}`);
    expect(res.status).toBe(200);
    return (await res.json()) as UsagePage;
  }

  /** Polls the admin API for the record of `requestId`; fails unless it is there, once, within 2 s. */
  async function recordOf(requestId: string): Promise<UsageView> {
    const deadline = Date.now() + VISIBLE_WITHIN_MS;
    for (;;) {
      const matches = (await usagePage({ limit: 1000 })).data.filter((r) => r.request_id === requestId);
      if (matches.length > 0) {
        expect(matches).toHaveLength(1);
        const [{ count }] = await gw.query<{ count: string }>('SELECT count(*) FROM usage_records WHERE request_id = $1', [requestId]);
        expect(Number(count)).toBe(1);
        return matches[0];
      }
      if (Date.now() > deadline) throw new Error(`no usage record for ${requestId} within ${VISIBLE_WITHIN_MS} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  describe('one record per request, whatever happened', () => {
    it('a successful completion: tokens from the provider, a cost, latency, user and metadata', async () => {
      const { res, requestId } = await chat(chatBody({ user: 'alice', metadata: { team: 'a', feature: 'chat' } }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
      const record = await recordOf(requestId);

      expect(record).toMatchObject({
        request_id: requestId,
        endpoint: '/v1/chat/completions',
        key_id: key.id,
        principal: `key:${key.id}`,
        user: 'alice',
        metadata: { team: 'a', feature: 'chat' },
        requested_model: 'openai/gpt-4o',
        provider: 'openai',
        model: 'gpt-4o',
        status: 200,
        error: null,
        stream: false,
        ttft_ms: null,
        cost_known: true,
      });
      expect(record.usage).toEqual({
        prompt_tokens: body.usage.prompt_tokens,
        completion_tokens: body.usage.completion_tokens,
        cached_tokens: 0,
        total_tokens: body.usage.total_tokens,
      });
      expect(record.usage.total_tokens).toBeGreaterThan(0);
      const expectedCost = (body.usage.prompt_tokens * GPT_4O.input + body.usage.completion_tokens * GPT_4O.output) / 1e6;
      expect(typeof record.cost_usd).toBe('number');
      expect(record.cost_usd).toBeGreaterThan(0);
      expect(record.cost_usd).toBeCloseTo(expectedCost, 10);
      expect(record.price_catalog_version).toEqual(expect.any(String));
      expect(record.attempts).toEqual([{ provider: 'openai', model: 'gpt-4o', status: 200, outcome: 'success', latencyMs: expect.any(Number) }]);
      expect(record.latency_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(record.finished_at)).toBeGreaterThanOrEqual(Date.parse(record.created_at));
    });

    it('stores user and metadata exactly as sent, whatever characters they hold', async () => {
      const user = 'NULL';
      const metadata = { quote: 'say "hi"', backslash: 'C:\\tmp\\', braces: '{a,b}', comma: 'x, y', empty: '', unicode: 'ünï 😀', nested: { arr: ['"', '\\', null] } };
      const { res, requestId } = await chat(chatBody({ user, metadata, model: 'openai/gpt-4o-2024-08-06' }));
      expect(res.status).toBe(200);
      const record = await recordOf(requestId);
      expect(record).toMatchObject({ user, metadata, requested_model: 'openai/gpt-4o-2024-08-06', cost_known: true });
      const [row] = await gw.query<{ user: string; metadata: unknown }>('SELECT "user", metadata FROM usage_records WHERE request_id = $1', [requestId]);
      expect(row).toEqual({ user, metadata });
    });

    it('a model missing from the price catalog: tokens recorded, cost unknown (null), never 0', async () => {
      const { res, requestId } = await chat(chatBody({ model: 'openai/in-house-model-x' }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
      const record = await recordOf(requestId);
      expect(record).toMatchObject({ provider: 'openai', model: 'in-house-model-x', status: 200, cost_usd: null, cost_known: false });
      expect(record.usage.total_tokens).toBe(body.usage.total_tokens);
      const [row] = await gw.query<{ cost_usd: unknown }>('SELECT cost_usd FROM usage_records WHERE request_id = $1', [requestId]);
      expect(row.cost_usd).toBeNull();
    });

    it('a stream whose client did not ask for usage: accounted all the same, with a time to first token', async () => {
      const { res, requestId } = await chat(chatBody({ stream: true, user: 'streamer', metadata: { team: 'b' } }));
      expect(res.status).toBe(200);
      const { events } = await readSse(res);
      expect(events[events.length - 1].data).toBe('[DONE]');
      // The usage chunk the gateway asked for is not passed on to this client.
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      expect(chunks.every((c) => c.usage === undefined || c.usage === null)).toBe(true);
      expect(chunks.every((c) => c.choices.length > 0)).toBe(true);

      const record = await recordOf(requestId);
      expect(record).toMatchObject({ stream: true, status: 200, provider: 'openai', model: 'gpt-4o', user: 'streamer', metadata: { team: 'b' }, cost_known: true });
      expect(record.usage.prompt_tokens).toBeGreaterThan(0);
      expect(record.usage.completion_tokens).toBeGreaterThan(0);
      expect(record.usage.total_tokens).toBe(record.usage.prompt_tokens! + record.usage.completion_tokens!);
      expect(record.cost_usd).toBeGreaterThan(0);
      expect(record.ttft_ms).toEqual(expect.any(Number));
      expect(record.ttft_ms).toBeGreaterThanOrEqual(0);
      expect(record.ttft_ms!).toBeLessThanOrEqual(record.latency_ms);
    });

    it('a slow stream that asked for usage: the same tokens the client saw, ttft well below latency', async () => {
      const { res, requestId } = await chat(chatBody({ model: 'openai/slow-stream', stream: true, stream_options: { include_usage: true } }));
      expect(res.status).toBe(200);
      const { events } = await readSse(res);
      const usageChunk = events.map((e) => (e.data === '[DONE]' ? null : JSON.parse(e.data))).find((c) => c?.usage);
      expect(usageChunk).toBeDefined();

      const record = await recordOf(requestId);
      expect(record.usage).toMatchObject({
        prompt_tokens: usageChunk.usage.prompt_tokens,
        completion_tokens: usageChunk.usage.completion_tokens,
        total_tokens: usageChunk.usage.total_tokens,
      });
      expect(record.cost_usd).toBeNull();
      // 20 chunks 20 ms apart: the first token comes long before the last.
      expect(record.latency_ms - record.ttft_ms!).toBeGreaterThanOrEqual(200);
    });

    it('a request every fallback failed on: the upstream status, each attempt, nothing served', async () => {
      const { res, requestId } = await chat(
        chatBody({ model: 'openai/error-500', fallbacks: ['openai/error-503'], user: 'unlucky', metadata: { team: 'a' } }),
      );
      expect(res.status).toBe(503);
      expectOpenAIError(await res.json());
      const record = await recordOf(requestId);
      expect(record).toMatchObject({
        status: 503,
        user: 'unlucky',
        metadata: { team: 'a' },
        requested_model: 'openai/error-500',
        provider: null,
        model: null,
        error: { type: 'server_error', message: expect.stringContaining('error-503') },
        usage: { prompt_tokens: null, completion_tokens: null, cached_tokens: null, total_tokens: null },
        cost_usd: null,
        cost_known: false,
      });
      expect(record.attempts).toEqual([
        { provider: 'openai', model: 'error-500', status: 500, outcome: 'error', error: expect.any(String), latencyMs: expect.any(Number) },
        { provider: 'openai', model: 'error-503', status: 503, outcome: 'error', error: expect.any(String), latencyMs: expect.any(Number) },
      ]);
    });

    it('a request rejected by validation (400): no attempts, what the caller sent kept', async () => {
      const upstreamBefore = fake.requests.length;
      const { res, requestId } = await chat(chatBody({ temperature: 5, user: 'careless', metadata: { team: 'c' } }));
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).param).toBe('temperature');
      const record = await recordOf(requestId);
      expect(record).toMatchObject({
        status: 400,
        key_id: key.id,
        user: 'careless',
        metadata: { team: 'c' },
        requested_model: 'openai/gpt-4o',
        provider: null,
        model: null,
        attempts: [],
        error: { type: 'invalid_request_error', code: 'invalid_value' },
        cost_usd: null,
      });
      expect(fake.requests.length).toBe(upstreamBefore);
    });

    it('an unauthenticated request (401): recorded as anonymous', async () => {
      const { res, requestId } = await chat(chatBody({ user: 'intruder' }), {}, 'sk-bf-not-a-real-key-000000000000000000');
      expect(res.status).toBe(401);
      expectOpenAIError(await res.json());
      const record = await recordOf(requestId);
      expect(record).toMatchObject({
        status: 401,
        principal: 'anonymous',
        key_id: null,
        provider: null,
        attempts: [],
        error: { type: 'authentication_error', code: 'invalid_api_key' },
        cost_usd: null,
      });
    });

    it('a request without any Authorization header (401): recorded too', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) });
      const requestId = res.headers.get('x-request-id')!;
      sent.push(requestId);
      expect(res.status).toBe(401);
      expect(expectOpenAIError(await res.json()).code).toBe('missing_api_key');
      expect(await recordOf(requestId)).toMatchObject({ status: 401, principal: 'anonymous', error: { code: 'missing_api_key' } });
    });

    it('a body that is not JSON (400): recorded with the caller\'s key', async () => {
      const { res, requestId } = await chat('{"model": "openai/gpt-4o", "messages": [');
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).type).toBe('invalid_request_error');
      const record = await recordOf(requestId);
      expect(record).toMatchObject({ status: 400, key_id: key.id, requested_model: null, attempts: [], error: { type: 'invalid_request_error' } });
    });

    it('a body that is not JSON from an unknown key (401): one record, the 401', async () => {
      const { res, requestId } = await chat('{not json', {}, 'sk-bf-unknown-unknown-unknown-unknown-0');
      expect(res.status).toBe(401);
      expectOpenAIError(await res.json());
      expect(await recordOf(requestId)).toMatchObject({ status: 401, principal: 'anonymous' });
    });

    it('the usage table holds exactly one row per request sent so far, and no other', async () => {
      // Give the writer a flush interval to write anything stray.
      await new Promise((r) => setTimeout(r, 400));
      const rows = await gw.query<{ request_id: string }>('SELECT request_id FROM usage_records');
      expect(rows.map((r) => r.request_id).sort()).toEqual([...sent].sort());
      expect(new Set(sent).size).toBe(sent.length);
    });
  });

  describe('GET /admin/usage', () => {
    let keyA: { id: string; key: string };
    let keyB: { id: string; key: string };
    const ids: Record<string, string> = {};
    let all: UsageView[];

    beforeAll(async () => {
      keyA = await gw.createKey('filters-a');
      keyB = await gw.createKey('filters-b');
      const send = async (name: string, token: string, body: unknown) => {
        const { res, requestId } = await chat(body, {}, token);
        await res.arrayBuffer();
        ids[name] = requestId;
      };
      await send('a-alice-4o', keyA.key, chatBody({ user: 'alice', metadata: { team: 'a', env: 'prod' } }));
      await send('a-bob-mini', keyA.key, chatBody({ model: 'openai/gpt-4o-mini', user: 'bob', metadata: { team: 'b' } }));
      await send('b-alice-mini', keyB.key, chatBody({ model: 'openai/gpt-4o-mini', user: 'alice', metadata: { team: 'a', env: 'dev' } }));
      await send('b-carol-400', keyB.key, chatBody({ temperature: 9, user: 'carol', metadata: { team: 'a' } }));
      await send('b-dave-stream', keyB.key, chatBody({ stream: true, user: 'dave', metadata: { team: 'b', nested: { x: 1 } } }));
      const deadline = Date.now() + VISIBLE_WITHIN_MS;
      for (;;) {
        all = (await usagePage({ limit: 1000 })).data;
        if (sent.every((id) => all.some((r) => r.request_id === id))) break;
        if (Date.now() > deadline) throw new Error('records not visible within 2 s');
        await new Promise((r) => setTimeout(r, 25));
      }
    });

    const idsOf = (rows: UsageView[]) => rows.map((r) => r.request_id);

    it('lists newest first and every record this file created', async () => {
      expect(all).toHaveLength(sent.length);
      expect(idsOf(all).sort()).toEqual([...sent].sort());
      for (let i = 1; i < all.length; i++) {
        const [prev, cur] = [all[i - 1], all[i]];
        expect(Date.parse(prev.created_at) > Date.parse(cur.created_at) || (prev.created_at === cur.created_at && prev.request_id > cur.request_id)).toBe(true);
      }
    });

    it('filters by key_id', async () => {
      const a = await usagePage({ key_id: keyA.id });
      expect(idsOf(a.data).sort()).toEqual([ids['a-alice-4o'], ids['a-bob-mini']].sort());
      const b = await usagePage({ key_id: keyB.id });
      expect(idsOf(b.data).sort()).toEqual([ids['b-alice-mini'], ids['b-carol-400'], ids['b-dave-stream']].sort());
    });

    it('filters by user', async () => {
      const alice = await usagePage({ user: 'alice' });
      expect(idsOf(alice.data)).toEqual(idsOf(all.filter((r) => r.user === 'alice')));
      expect(idsOf(alice.data)).toEqual(expect.arrayContaining([ids['a-alice-4o'], ids['b-alice-mini']]));
      expect(alice.data.every((r) => r.user === 'alice')).toBe(true);
      expect((await usagePage({ user: 'nobody-by-that-name' })).data).toEqual([]);
    });

    it('filters by model, requested (provider/model) or served (bare)', async () => {
      const mini = await usagePage({ model: 'gpt-4o-mini' });
      expect(idsOf(mini.data).sort()).toEqual([ids['a-bob-mini'], ids['b-alice-mini']].sort());
      const requested = await usagePage({ model: 'openai/gpt-4o-mini', key_id: keyA.id });
      expect(idsOf(requested.data)).toEqual([ids['a-bob-mini']]);
      const served4o = await usagePage({ model: 'gpt-4o' });
      expect(idsOf(served4o.data)).toEqual(idsOf(all.filter((r) => r.model === 'gpt-4o' || r.requested_model === 'gpt-4o')));
      expect(served4o.data.every((r) => r.model === 'gpt-4o')).toBe(true);
    });

    it('filters by provider and by status', async () => {
      const openai = await usagePage({ provider: 'openai' });
      expect(idsOf(openai.data)).toEqual(idsOf(all.filter((r) => r.provider === 'openai')));
      const bad = await usagePage({ status: 400, key_id: keyB.id });
      expect(idsOf(bad.data)).toEqual([ids['b-carol-400']]);
      const failed = await usagePage({ status: 401 });
      expect(idsOf(failed.data)).toEqual(idsOf(all.filter((r) => r.status === 401)));
      expect(failed.data.length).toBeGreaterThanOrEqual(2);
    });

    it('filters by metadata containment', async () => {
      const teamA = await usagePage({ metadata: JSON.stringify({ team: 'a' }) });
      const expected = all.filter((r) => r.metadata?.team === 'a');
      expect(idsOf(teamA.data)).toEqual(idsOf(expected));
      expect(idsOf(teamA.data)).toEqual(expect.arrayContaining([ids['a-alice-4o'], ids['b-alice-mini'], ids['b-carol-400']]));
      expect(idsOf(teamA.data)).not.toContain(ids['a-bob-mini']);

      const prodA = await usagePage({ metadata: JSON.stringify({ team: 'a', env: 'prod' }) });
      expect(idsOf(prodA.data)).toEqual([ids['a-alice-4o']]);
      const nested = await usagePage({ metadata: JSON.stringify({ nested: { x: 1 } }) });
      expect(idsOf(nested.data)).toEqual([ids['b-dave-stream']]);
      // Combined with another filter.
      const teamAKeyB = await usagePage({ metadata: JSON.stringify({ team: 'a' }), key_id: keyB.id, user: 'alice' });
      expect(idsOf(teamAKeyB.data)).toEqual([ids['b-alice-mini']]);
    });

    it('filters by time: from (inclusive) and to (exclusive)', async () => {
      const ordered = [...all].reverse(); // oldest first
      const from = ordered[2].created_at;
      const to = ordered[ordered.length - 2].created_at;
      expect(Date.parse(to)).toBeGreaterThan(Date.parse(from));
      const expected = all.filter((r) => Date.parse(r.created_at) >= Date.parse(from) && Date.parse(r.created_at) < Date.parse(to));
      const page = await usagePage({ from, to });
      expect(idsOf(page.data)).toEqual(idsOf(expected));
      expect(idsOf(page.data)).toContain(ordered[2].request_id);
      expect(idsOf(page.data)).not.toContain(ordered[ordered.length - 2].request_id);

      const future = await usagePage({ from: new Date(Date.now() + 60_000).toISOString() });
      expect(future.data).toEqual([]);
      const past = await usagePage({ to: '2000-01-01T00:00:00Z' });
      expect(past.data).toEqual([]);
    });

    it('walks every record with limit=2 and the cursor: no duplicates, no gaps, in order', async () => {
      const walked: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: UsagePage = await usagePage({ limit: 2, ...(cursor ? { cursor } : {}) });
        pages++;
        expect(page.data.length).toBeLessThanOrEqual(2);
        expect(page.data.length).toBeGreaterThan(0);
        walked.push(...idsOf(page.data));
        if (page.has_more) expect(page.next_cursor).toEqual(expect.any(String));
        else expect(page.next_cursor).toBeNull();
        cursor = page.next_cursor;
        expect(pages).toBeLessThan(100);
      } while (cursor);
      expect(pages).toBe(Math.ceil(all.length / 2));
      expect(new Set(walked).size).toBe(walked.length);
      expect(walked).toEqual(idsOf(all));
    });

    it('paginates a filtered list too', async () => {
      const expected = idsOf((await usagePage({ metadata: '{"team":"a"}' })).data);
      expect(expected.length).toBeGreaterThanOrEqual(3);
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const page: UsagePage = await usagePage({ metadata: '{"team":"a"}', limit: 2, ...(cursor ? { cursor } : {}) });
        walked.push(...idsOf(page.data));
        cursor = page.next_cursor;
      } while (cursor);
      expect(walked).toEqual(expected);
    });

    it.each([
      ['metadata that is not JSON', { metadata: '{team:a}' }, 'metadata'],
      ['metadata that is JSON but not an object', { metadata: '["team"]' }, 'metadata'],
      ['a cursor this API never returned', { cursor: 'bm90LWEtY3Vyc29y' }, 'cursor'],
      ['a cursor with a well-formed date but no valid id', { cursor: Buffer.from('2026-01-01T00:00:00.000Z|not-a-uuid').toString('base64url') }, 'cursor'],
      ['a key_id that is not a uuid', { key_id: 'not-a-uuid' }, 'key_id'],
      ['a status that is not a number', { status: 'ok' }, 'status'],
      ['a from that is not a date', { from: 'yesterday' }, 'from'],
      ['a limit over 1000', { limit: 5000 }, 'limit'],
      ['a limit of 0', { limit: 0 }, 'limit'],
    ])('rejects %s with an OpenAI-shaped 400', async (_what, query, param) => {
      const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
      const res = await gw.admin(`/admin/usage?${qs}`);
      expect(res.status).toBe(400);
      const error = expectOpenAIError(await res.json());
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).toBe(param);
    });
  });
});
