import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { CacheWriter } from '../../apps/gateway/src/cache/cache-writer.service';
import { FakeAnthropic } from '../fakes/fake-anthropic';
import { bagOfWordsEmbedding, FakeOpenAI } from '../fakes/fake-openai';
import { adminJson, ok } from './admin-fixtures';
import { expectOpenAIError, Gateway, postChat, readSse, startGateway } from './harness';

/**
 * The response cache keyed by `prompt_cache_key`: exact and semantic hits that never reach
 * the upstream, scoped per team, replayed as JSON or as a stream, recorded at zero provider
 * cost; `Cache-Control`, TTLs and the admin purge; failures that degrade to a miss.
 */
const QUESTION = 'What is the capital city of France?';
const PARAPHRASE = 'what is the capital city of France please';
const FAR = 'Tell me the capital of Germany today';
const THRESHOLD = 0.8;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: Response): Promise<any> => res.json();

const cosine = (a: string, b: string) => {
  const x = bagOfWordsEmbedding(a, 1536);
  const y = bagOfWordsEmbedding(b, 1536);
  return x.reduce((sum, v, i) => sum + v * y[i], 0);
};

describe('response cache (prompt_cache_key)', () => {
  const fake = new FakeOpenAI();
  let gw: Gateway;
  let teamA: { id: string };
  let keyA: { id: string; key: string };
  let keyA2: { id: string; key: string };
  let keyB: { id: string; key: string };

  beforeAll(async () => {
    const base = await fake.start();
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: base,
      CACHE_EMBEDDINGS_MODEL: 'openai/text-embedding-3-small',
      CACHE_SIMILARITY_THRESHOLD: String(THRESHOLD),
      // Generous: a slow machine must not turn the lookups these tests expect into deadline misses.
      CACHE_EMBEDDING_TIMEOUT_MS: '30000',
      CACHE_LOOKUP_TIMEOUT_MS: '60000',
    });
    teamA = await ok(gw, 'POST', '/admin/teams', { name: 'alpha' });
    const teamB = await ok(gw, 'POST', '/admin/teams', { name: 'beta' });
    keyA = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'a1', team_id: teamA.id });
    keyA2 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'a2', team_id: teamA.id });
    keyB = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'b', team_id: teamB.id });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await fake.stop();
  });

  const ns = () => `ns-${randomUUID()}`;
  const body = (namespace: string, question = QUESTION, extra: Record<string, unknown> = {}) => ({
    model: 'openai/gpt-4o',
    prompt_cache_key: namespace,
    messages: [
      { role: 'system', content: 'You answer geography questions.' },
      { role: 'user', content: question },
    ],
    ...extra,
  });
  const chatCalls = () => fake.requests.length;
  /** Cache writes are queued; this waits for the queue to reach the database. */
  const flushed = () => gw.app.get(CacheWriter).flush();
  const entries = async (namespace: string) => Number((await gw.query<{ n: string }>('SELECT count(*) AS n FROM response_cache_entries WHERE namespace = $1', [namespace]))[0].n);
  const usageOf = async (res: Response) => {
    const [row] = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
    return row as Record<string, unknown>;
  };

  it('an identical second request is an exact hit: no upstream call, the same answer, $0 in the usage store, what it saved recorded', async () => {
    const namespace = ns();
    const first = await postChat(gw, keyA.key, body(namespace));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-tokenhub-cache')).toBe('miss');
    const answer = await json(first);
    // Also forwarded to OpenAI for its own prompt caching.
    expect(fake.requests[fake.requests.length - 1].body.prompt_cache_key).toBe(namespace);
    await flushed();
    expect(await entries(namespace)).toBe(1);

    const calls = chatCalls();
    const second = await postChat(gw, keyA.key, body(namespace));
    expect(second.status).toBe(200);
    expect(second.headers.get('x-tokenhub-cache')).toBe('hit');
    expect(second.headers.get('x-tokenhub-cache-similarity')).toBeNull();
    const cached = await json(second);
    expect(chatCalls()).toBe(calls);
    expect(cached).toMatchObject({ object: 'chat.completion', model: answer.model, choices: answer.choices, usage: answer.usage });
    expect(cached.id).toMatch(/^chatcmpl-/);
    expect(cached.id).not.toBe(answer.id);

    const missRecord = await usageOf(first);
    const hitRecord = await usageOf(second);
    expect(missRecord.cache_result).toBe('miss');
    expect(Number(missRecord.cost_usd)).toBeGreaterThan(0);
    expect(hitRecord).toMatchObject({ cache_result: 'hit', status_code: 200, served_provider: 'openai', cache_similarity: null });
    expect(Number(hitRecord.cost_usd)).toBe(0);
    // The miss paid the answer and the lookup's embedding; the hit saved the answer.
    const saved = Number(hitRecord.cache_saved_usd);
    expect(saved).toBeGreaterThan(0);
    expect(Number(missRecord.cost_usd) - saved).toBeGreaterThan(0);
    expect(Number(missRecord.cost_usd) - saved).toBeLessThan(0.000001);
    expect(hitRecord.prompt_tokens).toBe(answer.usage.prompt_tokens);

    // Another key of the same team shares the team's answers.
    const sameTeam = await postChat(gw, keyA2.key, body(namespace));
    expect(sameTeam.headers.get('x-tokenhub-cache')).toBe('hit');
    expect(chatCalls()).toBe(calls);
  });

  it('a hit streams as a well-formed chunk stream, with usage only when asked; a streamed answer is stored too', async () => {
    const namespace = ns();
    const streamed = await postChat(gw, keyA.key, body(namespace, QUESTION, { stream: true, stream_options: { include_usage: true } }));
    expect(streamed.headers.get('x-tokenhub-cache')).toBe('miss');
    const original = await readSse(streamed);
    const text = (events: Array<{ data: string }>) =>
      events
        .filter((e) => e.data !== '[DONE]')
        .map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '')
        .join('');
    await flushed();

    const calls = chatCalls();
    const replay = await postChat(gw, keyA.key, body(namespace, QUESTION, { stream: true, stream_options: { include_usage: true } }));
    expect(replay.status).toBe(200);
    expect(replay.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(replay.headers.get('x-tokenhub-cache')).toBe('hit');
    const { events } = await readSse(replay);
    expect(chatCalls()).toBe(calls);
    expect(events[events.length - 1].data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
    const finish = chunks[chunks.length - 2];
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usageChunk = chunks[chunks.length - 1];
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(JSON.parse(original.events[original.events.length - 2].data).usage);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(text(events)).toBe(text(original.events));
    expect(text(events)).toBe(`echo: ${QUESTION}`);

    // Without include_usage: no usage chunk, no `usage` field; the JSON form of the same entry.
    const plain = await postChat(gw, keyA.key, body(namespace, QUESTION, { stream: true }));
    const plainEvents = (await readSse(plain)).events;
    const plainChunks = plainEvents.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(plainChunks.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
    const completion = await json(await postChat(gw, keyA.key, body(namespace)));
    expect(completion.choices[0].message.content).toBe(`echo: ${QUESTION}`);
    expect(chatCalls()).toBe(calls);

    const record = await usageOf(replay);
    expect(record).toMatchObject({ cache_result: 'hit', stream: true });
    expect(Number(record.cost_usd)).toBe(0);
  });

  it('a JSON answer replays as a stream', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace)));
    await flushed();
    const calls = chatCalls();
    const res = await postChat(gw, keyA.key, body(namespace, QUESTION, { stream: true }));
    expect(res.headers.get('x-tokenhub-cache')).toBe('hit');
    const { events } = await readSse(res);
    expect(events[events.length - 1].data).toBe('[DONE]');
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.data).choices[0].delta.content ?? '')
      .join('');
    expect(content).toBe(`echo: ${QUESTION}`);
    expect(chatCalls()).toBe(calls);
  });

  it('a paraphrased last question with the same history is a semantic hit above the threshold, a miss below it, and a miss after another history', async () => {
    expect(cosine(QUESTION, PARAPHRASE)).toBeGreaterThan(THRESHOLD);
    expect(cosine(QUESTION, FAR)).toBeLessThan(THRESHOLD);
    const namespace = ns();
    const first = await postChat(gw, keyA.key, body(namespace));
    expect(first.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(first);
    await flushed();

    const calls = chatCalls();
    const embeddingCalls = fake.embeddingRequests.length;
    const paraphrased = await postChat(gw, keyA.key, body(namespace, PARAPHRASE));
    expect(paraphrased.status).toBe(200);
    expect(paraphrased.headers.get('x-tokenhub-cache')).toBe('semantic-hit');
    const similarity = Number(paraphrased.headers.get('x-tokenhub-cache-similarity'));
    expect(similarity).toBeCloseTo(cosine(QUESTION, PARAPHRASE), 3);
    expect((await json(paraphrased)).choices[0].message.content).toBe(`echo: ${QUESTION}`);
    expect(chatCalls()).toBe(calls);
    expect(fake.embeddingRequests.length).toBe(embeddingCalls + 1);
    expect(fake.embeddingRequests[fake.embeddingRequests.length - 1]).toMatchObject({ model: 'text-embedding-3-small', input: [PARAPHRASE] });
    const record = await usageOf(paraphrased);
    expect(record.cache_result).toBe('semantic-hit');
    expect(Number(record.cache_similarity)).toBeCloseTo(similarity, 3);
    // The embedding's cost only: text-embedding-3-small at $0.02 per million tokens.
    expect(Number(record.cost_usd)).toBeGreaterThan(0);
    expect(Number(record.cost_usd)).toBeLessThan(0.000001);
    expect(Number(record.cache_saved_usd)).toBeGreaterThan(Number(record.cost_usd));

    const far = await postChat(gw, keyA.key, body(namespace, FAR));
    expect(far.headers.get('x-tokenhub-cache')).toBe('miss');
    expect((await json(far)).choices[0].message.content).toBe(`echo: ${FAR}`);
    expect(chatCalls()).toBe(calls + 1);

    const otherHistory = body(namespace, PARAPHRASE);
    (otherHistory.messages as unknown[]).splice(1, 0, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! Ask away.' });
    const different = await postChat(gw, keyA.key, otherHistory);
    expect(different.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(different);
    expect(chatCalls()).toBe(calls + 2);
  });

  it('parameters that change the answer are part of the key', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace)));
    await flushed();
    const res = await postChat(gw, keyA.key, body(namespace, QUESTION, { temperature: 0.1 }));
    expect(res.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(res);
  });

  it('the same request from a key of another team is a miss', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace)));
    await flushed();
    const calls = chatCalls();
    const res = await postChat(gw, keyB.key, body(namespace));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(res);
    expect(chatCalls()).toBe(calls + 1);
  });

  it('Cache-Control: no-store answers without storing', async () => {
    const namespace = ns();
    const res = await postChat(gw, keyA.key, body(namespace), { 'cache-control': 'no-store' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(res);
    await flushed();
    expect(await entries(namespace)).toBe(0);
    const again = await postChat(gw, keyA.key, body(namespace));
    expect(again.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(again);
  });

  it('Cache-Control: no-cache skips the lookup and refreshes the entry', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace)));
    await flushed();
    const [before] = await gw.query<{ created_at: Date; id: string }>('SELECT id, created_at FROM response_cache_entries WHERE namespace = $1', [namespace]);
    const calls = chatCalls();
    const res = await postChat(gw, keyA.key, body(namespace), { 'cache-control': 'no-cache' });
    expect(res.headers.get('x-tokenhub-cache')).toBe('bypass');
    await json(res);
    expect(chatCalls()).toBe(calls + 1);
    await flushed();
    const after = await gw.query<{ created_at: Date; id: string }>('SELECT id, created_at FROM response_cache_entries WHERE namespace = $1', [namespace]);
    expect(after).toHaveLength(1);
    expect(after[0].id).toBe(before.id);
    expect(after[0].created_at.getTime()).toBeGreaterThan(before.created_at.getTime());
    expect((await usageOf(res)).cache_result).toBe('bypass');
    // The refresh made no embedding (no lookup); the stored vector is kept for semantic hits.
    const paraphrased = await postChat(gw, keyA.key, body(namespace, PARAPHRASE));
    expect(paraphrased.headers.get('x-tokenhub-cache')).toBe('semantic-hit');
    await json(paraphrased);
  });

  it('an entry expires after its TTL (x-tokenhub-cache-ttl); a malformed TTL is a 400', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace), { 'x-tokenhub-cache-ttl': '1' }));
    await flushed();
    const hit = await postChat(gw, keyA.key, body(namespace));
    expect(hit.headers.get('x-tokenhub-cache')).toBe('hit');
    await json(hit);
    await new Promise((r) => setTimeout(r, 1_300));
    const expired = await postChat(gw, keyA.key, body(namespace));
    expect(expired.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(expired);

    for (const ttl of ['0', 'soon', '-5', '99999999999']) {
      const bad = await postChat(gw, keyA.key, body(namespace), { 'x-tokenhub-cache-ttl': ttl });
      expect(bad.status).toBe(400);
      expect(expectOpenAIError(await json(bad))).toMatchObject({ param: 'x-tokenhub-cache-ttl', code: 'invalid_cache_ttl' });
    }
  });

  it('the admin purge deletes a namespace or a key\'s entries, audited; without criteria it is a 400', async () => {
    const namespace = ns();
    await json(await postChat(gw, keyA.key, body(namespace)));
    await json(await postChat(gw, keyA.key, body(namespace, FAR)));
    await flushed();
    expect(await entries(namespace)).toBe(2);

    const purged = await ok(gw, 'DELETE', `/admin/cache?namespace=${encodeURIComponent(namespace)}`);
    expect(purged).toMatchObject({ object: 'cache.purge', deleted: 2, namespace });
    expect(await entries(namespace)).toBe(0);
    const after = await postChat(gw, keyA.key, body(namespace));
    expect(after.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(after);
    const [audit] = await gw.query<{ action: string; after: Record<string, unknown> }>(`SELECT action, after FROM admin_audit_log WHERE action = 'cache.purge' ORDER BY id DESC LIMIT 1`);
    expect(audit.after).toMatchObject({ deleted: 2, namespace });

    const other = ns();
    await json(await postChat(gw, keyA2.key, body(other)));
    await flushed();
    expect(await ok(gw, 'DELETE', `/admin/cache?key_id=${keyA2.id}`)).toMatchObject({ deleted: 1, key_id: keyA2.id });
    expect(await entries(other)).toBe(0);

    const none = await gw.admin('/admin/cache', { method: 'DELETE' });
    expect(none.status).toBe(400);
    expectOpenAIError(await json(none));
    const virtualKey = await fetch(`${gw.url}/admin/cache?namespace=x`, { method: 'DELETE', headers: { authorization: `Bearer ${keyA.key}` } });
    expect(virtualKey.status).toBe(403);
  });

  it('reports count hits and the money they saved', async () => {
    const key = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'reported', team_id: teamA.id });
    const namespace = ns();
    const miss = await postChat(gw, key.key, body(namespace));
    await json(miss);
    await flushed();
    const hit = await postChat(gw, key.key, body(namespace));
    await json(hit);
    const semantic = await postChat(gw, key.key, body(namespace, PARAPHRASE));
    expect(semantic.headers.get('x-tokenhub-cache')).toBe('semantic-hit');
    await json(semantic);
    await gw.waitForUsage(3, 'key_id = $1', [key.id]);
    const saved = Number((await usageOf(hit)).cache_saved_usd);
    let report: any;
    for (let i = 0; i < 50; i++) {
      report = await ok(gw, 'GET', `/admin/reports/usage?group_by=key&key_id=${key.id}`);
      if (report.totals.requests === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(report.totals).toMatchObject({ requests: 3, cache_hits: 2 });
    expect(report.totals.cache_saved_usd).toBeCloseTo(2 * saved, 9);
  });

  it('governance applies to hits: rate limits count them, budgets settle at their real cost', async () => {
    const key = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'limited', team_id: teamA.id, requests_per_minute: 2, budgets: [{ period: 'daily', limit_usd: 5 }] });
    const namespace = ns();
    await json(await postChat(gw, key.key, body(namespace)));
    await flushed();
    const spent = async () => Number((await gw.query<{ spent_usd: string }>('SELECT w.spent_usd FROM budget_windows w JOIN budgets b ON b.id = w.budget_id WHERE b.scope_id = $1', [key.id]))[0].spent_usd);
    const afterMiss = await spent();
    expect(afterMiss).toBeGreaterThan(0);
    const hit = await postChat(gw, key.key, body(namespace));
    expect(hit.headers.get('x-tokenhub-cache')).toBe('hit');
    expect(hit.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    await json(hit);
    expect(await spent()).toBe(afterMiss);
    const refused = await postChat(gw, key.key, body(namespace));
    expect(refused.status).toBe(429);
    expectOpenAIError(await json(refused));
  });

  it('a key policy enables the cache for requests without prompt_cache_key, in its namespace and with its TTL', async () => {
    const namespace = ns();
    const key = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'policy', team_id: teamA.id, cache_namespace: namespace, cache_ttl_seconds: 120 });
    expect(key).toMatchObject({ cache_namespace: namespace, cache_ttl_seconds: 120 });
    const plain = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: QUESTION }] };
    const first = await postChat(gw, key.key, plain);
    expect(first.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(first);
    expect(fake.requests[fake.requests.length - 1].body.prompt_cache_key).toBeUndefined();
    await flushed();
    const [entry] = await gw.query<{ ttl: number }>('SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM response_cache_entries WHERE namespace = $1', [namespace]);
    expect(entry.ttl).toBe(120);
    const second = await postChat(gw, key.key, plain);
    expect(second.headers.get('x-tokenhub-cache')).toBe('hit');
    await json(second);
    // Another key of the team (without the policy) shares the entry when it names the namespace.
    const named = await postChat(gw, keyA.key, { ...plain, prompt_cache_key: namespace });
    expect(named.headers.get('x-tokenhub-cache')).toBe('hit');
    await json(named);
    const bad = await adminJson(gw, 'POST', '/admin/virtual-keys', { name: 'bad', cache_ttl_seconds: 0 });
    expect(bad.status).toBe(400);
  });

  it('without prompt_cache_key the cache is not involved', async () => {
    const res = await postChat(gw, keyA.key, { model: 'openai/gpt-4o', messages: [{ role: 'user', content: QUESTION }] });
    expect(res.headers.get('x-tokenhub-cache')).toBeNull();
    await json(res);
    expect((await usageOf(res)).cache_result).toBeNull();
  });
});

describe('response cache when embeddings fail', () => {
  const fake = new FakeOpenAI();
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, CACHE_EMBEDDINGS_MODEL: 'openai/error-500', TOKENHUB_MAX_RETRIES: '0' });
    key = (await gw.createKey('k')).key;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await fake.stop();
  });

  it('a failing embeddings model degrades to exact lookups: misses, never errors', async () => {
    const namespace = `ns-${randomUUID()}`;
    const ask = (q: string) => postChat(gw, key, { model: 'openai/gpt-4o', prompt_cache_key: namespace, messages: [{ role: 'user', content: q }] });
    const first = await ask(QUESTION);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(first);
    expect(fake.embeddingRequests.length).toBeGreaterThan(0);
    await gw.app.get(CacheWriter).flush();
    const paraphrased = await ask(PARAPHRASE);
    expect(paraphrased.status).toBe(200);
    expect(paraphrased.headers.get('x-tokenhub-cache')).toBe('miss');
    await json(paraphrased);
    const exact = await ask(QUESTION);
    expect(exact.headers.get('x-tokenhub-cache')).toBe('hit');
    await json(exact);
  });

  it('a cache store that fails makes misses, never errors', async () => {
    await gw.query('ALTER TABLE response_cache_entries RENAME TO response_cache_entries_away');
    try {
      const res = await postChat(gw, key, { model: 'openai/gpt-4o', prompt_cache_key: 'ns-broken', messages: [{ role: 'user', content: QUESTION }] });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-cache')).toBe('miss');
      expect((await json(res)).choices[0].message.content).toBe(`echo: ${QUESTION}`);
      await gw.app.get(CacheWriter).flush();
      const streamed = await postChat(gw, key, { model: 'openai/gpt-4o', prompt_cache_key: 'ns-broken', stream: true, messages: [{ role: 'user', content: QUESTION }] });
      expect(streamed.status).toBe(200);
      const { events } = await readSse(streamed);
      expect(events[events.length - 1].data).toBe('[DONE]');
      await gw.app.get(CacheWriter).flush();
    } finally {
      await gw.query('ALTER TABLE response_cache_entries_away RENAME TO response_cache_entries');
    }
  });
});

describe('response cache with a native provider (Anthropic)', () => {
  const fake = new FakeAnthropic();
  let gw: Gateway;
  let client: OpenAI;
  const WEATHER_TOOL = {
    type: 'function' as const,
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  };

  beforeAll(async () => {
    const base = await fake.start();
    gw = await startGateway({ ANTHROPIC_API_KEY: 'sk-ant-upstream', ANTHROPIC_BASE_URL: base });
    client = new OpenAI({ apiKey: (await gw.createKey('anthropic-cache')).key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await fake.stop();
  });

  it('a translated stream of parallel tool calls is stored, then replayed through the OpenAI SDK as JSON and as a stream', async () => {
    const request = {
      model: 'anthropic/claude-sonnet-4-5',
      messages: [{ role: 'user' as const, content: 'weather in Paris and Tokyo?' }],
      tools: [WEATHER_TOOL],
      prompt_cache_key: `ns-${randomUUID()}`,
    };
    const streamed = await client.chat.completions.create({ ...request, stream: true });
    for await (const chunk of streamed) void chunk;
    // Not OpenAI: prompt_cache_key is TokenHub's only.
    expect(fake.last.body.prompt_cache_key).toBeUndefined();
    await gw.app.get(CacheWriter).flush();
    const calls = fake.requests.length;

    const { data, response } = await client.chat.completions.create(request).withResponse();
    expect(response.headers.get('x-tokenhub-cache')).toBe('hit');
    expect(data.choices[0].finish_reason).toBe('tool_calls');
    expect(data.choices[0].message.tool_calls).toEqual([
      { id: 'toolu_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'toolu_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo","unit":"c"}' } },
    ]);

    const replay = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const assembled: Array<{ id?: string; name?: string; args: string }> = [];
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const chunk of replay) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
        assembled[tc.index] ??= { args: '' };
        if (tc.id) assembled[tc.index].id = tc.id;
        if (tc.function?.name) assembled[tc.index].name = tc.function.name;
        assembled[tc.index].args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(finish).toBe('tool_calls');
    expect(assembled).toEqual([
      { id: 'toolu_paris', name: 'get_weather', args: '{"city":"Paris"}' },
      { id: 'toolu_tokyo', name: 'get_weather', args: '{"city":"Tokyo","unit":"c"}' },
    ]);
    expect(usage).toEqual(data.usage);
    expect(fake.requests.length).toBe(calls);
  });
});
