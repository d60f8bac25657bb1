import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fault, FakeFaults } from '../fakes/fake-faults';
import { chatBody, expectOpenAIError, Gateway, postChat, readSse, SseEvent, startGateway } from './harness';

// Project-level testTimeout in jest.config.js is not applied by Jest; the embedded store takes seconds to open.
jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every fault of the fault-injection upstream, with what the client sees. `faulty` is the
 * fault-injection fake, `healthy` a second one answering normally. Short deadlines: 500 ms
 * to the first byte, 800 ms between chunks, 1.5 s for a whole non-streamed response, 1 MiB
 * of body at most (undici checks the first-byte and idle deadlines on a half-second tick,
 * so they fire within about half a second of their value); no retries (retries are covered by fallbacks.e2e-spec), breaker off (its
 * own suite below).
 */
describe('provider faults', () => {
  let faulty: FakeFaults;
  let healthy: FakeFaults;
  let gw: Gateway;
  let key: string;
  /** Every request made, to check each has its usage record. */
  const requestIds: string[] = [];

  beforeAll(async () => {
    faulty = new FakeFaults();
    healthy = new FakeFaults();
    const [faultyBase, healthyBase] = await Promise.all([faulty.start(), healthy.start()]);
    gw = await startGateway({
      TOKENHUB_CUSTOM_PROVIDERS: 'faulty,healthy',
      FAULTY_BASE_URL: faultyBase,
      FAULTY_API_KEY: 'sk-faulty',
      HEALTHY_BASE_URL: healthyBase,
      HEALTHY_API_KEY: 'sk-healthy',
      TOKENHUB_MAX_RETRIES: '0',
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '500',
      UPSTREAM_IDLE_TIMEOUT_MS: '800',
      UPSTREAM_RESPONSE_TIMEOUT_MS: '1500',
      UPSTREAM_MAX_RESPONSE_BYTES: String(1024 * 1024),
      CIRCUIT_BREAKER_FAILURES: '0',
    });
    ({ key } = await gw.createKey('provider-faults-spec'));
  });
  afterAll(async () => {
    await Promise.all([faulty?.stop(), healthy?.stop()]);
    await gw?.close();
  });

  async function post(body: Record<string, unknown>): Promise<Response> {
    const res = await postChat(gw, key, chatBody(body));
    requestIds.push(res.headers.get('x-request-id')!);
    return res;
  }

  async function usageOf(res: Response): Promise<Record<string, unknown>> {
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
    expect(record).toBeDefined();
    return record;
  }

  async function expectFallback(res: Response, fault: Fault): Promise<void> {
    const text = await res.text();
    expect({ status: res.status, provider: res.headers.get('x-tokenhub-provider'), attempts: res.headers.get('x-tokenhub-attempts') }).toEqual({
      status: 200,
      provider: 'healthy',
      attempts: '2',
    });
    expect(res.headers.get('content-type')).toMatch(/^(application\/json|text\/event-stream)/);
    const record = await usageOf(res);
    expect(record).toMatchObject({ status_code: 200, served_provider: 'healthy' });
    expect((record.attempts as Array<{ provider: string; outcome: string }>).map((a) => [a.provider, a.outcome])).toEqual([
      ['faulty', 'error'],
      ['healthy', 'success'],
    ]);
    expect(faulty.callsFor(`fault-${fault}`)).toBeGreaterThan(0);
    if (res.headers.get('content-type')!.startsWith('application/json')) expect(JSON.parse(text).choices[0].message.content).toBe('echo: Hello, how are you?');
    else expect(text).toContain('data: [DONE]');
  }

  /** What the client sees when the fault has nowhere to fall back. */
  const nonStreamed: Array<{ fault: Fault; status: number; code: string | null; message?: RegExp }> = [
    { fault: 'reset-before-headers', status: 502, code: 'upstream_connection_error' },
    { fault: 'reset-mid-body', status: 502, code: 'upstream_connection_error' },
    { fault: 'malformed-json', status: 502, code: 'upstream_protocol_error' },
    { fault: 'html-502', status: 502, code: null, message: /HTTP 502: 502 Bad Gateway$/ },
    { fault: 'slow-drip', status: 504, code: 'upstream_timeout', message: /response deadline/ },
    { fault: 'hang-before-headers', status: 504, code: 'upstream_timeout', message: /first-byte deadline/ },
    // The idle deadline, or the response deadline should undici's coarse timer be late.
    { fault: 'hang-after-headers', status: 504, code: 'upstream_timeout', message: /silent|response deadline/ },
    { fault: 'wrong-content-type', status: 502, code: 'upstream_protocol_error' },
    { fault: 'huge-body', status: 502, code: 'upstream_response_too_large' },
    { fault: 'error-500', status: 500, code: null },
  ];

  describe('non-streamed', () => {
    it.each(nonStreamed)('$fault: falls back to the next provider', async ({ fault }) => {
      await expectFallback(await post({ model: `faulty/fault-${fault}`, fallbacks: ['healthy/gpt-4o'] }), fault);
    });

    it.each(nonStreamed)('$fault: without a fallback, $status $code, OpenAI-shaped', async ({ fault, status, code, message }) => {
      const res = await post({ model: `faulty/fault-${fault}` });
      expect(res.status).toBe(status);
      const error = expectOpenAIError(await res.json());
      expect(error.code).toBe(code);
      expect(error.message).not.toMatch(/<|127\.0\.0\.1/);
      if (message) expect(error.message).toMatch(message);
      expect(await usageOf(res)).toMatchObject({ status_code: status, error_code: code });
    });
  });

  describe('streamed, before the first chunk', () => {
    const early: Array<{ fault: Fault; status: number; code: string | null }> = [
      { fault: 'reset-before-headers', status: 502, code: 'upstream_connection_error' },
      { fault: 'hang-before-headers', status: 504, code: 'upstream_timeout' },
      { fault: 'hang-after-headers', status: 504, code: 'upstream_timeout' },
      { fault: 'malformed-sse-first', status: 502, code: 'upstream_protocol_error' },
      { fault: 'wrong-content-type', status: 502, code: 'upstream_stream_truncated' },
      { fault: 'html-502', status: 502, code: null },
    ];

    it.each(early)('$fault: falls back, and the fallback streams', async ({ fault }) => {
      await expectFallback(await post({ model: `faulty/fault-${fault}`, stream: true, fallbacks: ['healthy/gpt-4o'] }), fault);
    });

    it.each(early)('$fault: without a fallback, an HTTP $status $code, not a stream', async ({ fault, status, code }) => {
      const res = await post({ model: `faulty/fault-${fault}`, stream: true });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(expectOpenAIError(await res.json()).code).toBe(code);
      expect(await usageOf(res)).toMatchObject({ status_code: status, error_code: code, stream: true });
    });
  });

  describe('streamed, after the first chunk', () => {
    const late: Array<{ fault: Fault; status: number; code: string }> = [
      { fault: 'reset-mid-stream', status: 502, code: 'upstream_connection_error' },
      { fault: 'truncated-stream', status: 502, code: 'upstream_stream_truncated' },
      { fault: 'malformed-sse', status: 502, code: 'upstream_protocol_error' },
      { fault: 'silence-mid-stream', status: 504, code: 'upstream_timeout' },
    ];

    it.each(late)('$fault: the chunks so far, then an SSE error event ($code) and no [DONE], no fallback', async ({ fault, status, code }) => {
      const healthyCalls = healthy.callsFor('gpt-4o');
      const res = await post({ model: `faulty/fault-${fault}`, stream: true, fallbacks: ['healthy/gpt-4o'] });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-provider')).toBe('faulty');
      const { events, raw } = await readSse(res);
      expect(raw).not.toContain('[DONE]');
      const last = events[events.length - 1];
      expect(last.event).toBe('error');
      expect(expectOpenAIError(JSON.parse(last.data)).code).toBe(code);
      const before = events.slice(0, -1);
      expect(before.length).toBeGreaterThanOrEqual(2);
      for (const e of before) expect(chunkOf(e).object).toBe('chat.completion.chunk');
      expect(raw).not.toContain('chatcmpl-broken');
      expect(healthy.callsFor('gpt-4o')).toBe(healthyCalls);
      expect(await usageOf(res)).toMatchObject({ status_code: status, error_code: code, stream: true, served_provider: 'faulty' });
    });
  });

  describe('streamed, ending without [DONE] after the finish', () => {
    it('truncated-after-usage: the whole answer, [DONE] from the gateway, and the usage recorded', async () => {
      const res = await post({ model: 'faulty/fault-truncated-after-usage', stream: true, stream_options: { include_usage: true } });
      expect(res.status).toBe(200);
      const { events, raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      const usageChunk = chunkOf(events[events.length - 2]);
      expect(usageChunk.usage).toMatchObject({ total_tokens: expect.any(Number) });
      const record = await usageOf(res);
      expect(record).toMatchObject({ status_code: 200, error_code: null });
      expect(record.total_tokens).toBeGreaterThan(0);
    });

    it('truncated-before-usage: the whole answer and [DONE]; the record has no token counts', async () => {
      const res = await post({ model: 'faulty/fault-truncated-before-usage', stream: true });
      expect(res.status).toBe(200);
      const { events, raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      const text = events.filter((e) => e.data !== '[DONE]').map((e) => (chunkOf(e).choices as Array<{ delta: { content?: string } }>)[0]?.delta.content ?? '').join('');
      expect(text).toBe('echo: Hello, how are you?');
      expect(await usageOf(res)).toMatchObject({ status_code: 200, total_tokens: null });
    });
  });

  it('slow-drip stream: chunks within the idle deadline are served in full, though the whole takes longer than the response deadline', async () => {
    faulty.streamChunks = 12;
    try {
      const res = await post({ model: 'faulty/fault-slow-drip', stream: true });
      expect(res.status).toBe(200);
      const { events, raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      // The point of the test: the stream outlived UPSTREAM_RESPONSE_TIMEOUT_MS (1.5 s), which binds non-streamed bodies only.
      expect(events[events.length - 2].at).toBeGreaterThan(1_500);
      expect(await usageOf(res)).toMatchObject({ status_code: 200 });
    } finally {
      faulty.streamChunks = 5;
    }
  });

  it('stays healthy afterwards: liveness, a normal answer, and a usage record for every request above', async () => {
    const live = await fetch(`${gw.url}/health/live`);
    expect(live.status).toBe(200);
    const res = await post({ model: 'faulty/gpt-4o' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('echo: Hello, how are you?');
    const records = await gw.waitForUsage(requestIds.length, 'request_id = ANY($1)', [requestIds]);
    expect(records.map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
  });
});

/**
 * The circuit breaker as seen from outside: the fake counts calls per credential. Three
 * consecutive failures open a credential's circuit for two seconds; up to three retries.
 */
describe('circuit breaker per provider credential', () => {
  let upstream: FakeFaults;
  let healthy: FakeFaults;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    upstream = new FakeFaults();
    healthy = new FakeFaults();
    const [base, healthyBase] = await Promise.all([upstream.start(), healthy.start()]);
    gw = await startGateway({
      TOKENHUB_CUSTOM_PROVIDERS: 'pair,solo,healthy',
      SOLO_BASE_URL: base,
      SOLO_API_KEY: 'sk-solo',
      HEALTHY_BASE_URL: healthyBase,
      HEALTHY_API_KEY: 'sk-healthy',
      TOKENHUB_MAX_RETRIES: '3',
      CIRCUIT_BREAKER_FAILURES: '3',
      CIRCUIT_BREAKER_COOLDOWN_MS: '2000',
      TOKENHUB_CONFIG_FILE: configFile({
        providers: { pair: { baseUrl: base, keys: [{ apiKey: 'sk-pair-a', weight: 1000 }, { apiKey: 'sk-pair-b', weight: 1 }] } },
      }),
    });
    ({ key } = await gw.createKey('circuit-breaker-spec'));
  });
  afterAll(async () => {
    await Promise.all([upstream?.stop(), healthy?.stop()]);
    await gw?.close();
  });

  function configFile(content: object): string {
    const path = join(require('node:os').tmpdir(), `tokenhub-breaker-${process.pid}-${Date.now()}.json`);
    writeFileSync(path, JSON.stringify(content));
    return path;
  }

  it('skips a failing credential once its circuit opens; the other credential serves every request', async () => {
    upstream.keyFaults.set('sk-pair-a', 'error-500');
    for (let i = 0; i < 10; i++) {
      const res = await postChat(gw, key, chatBody({ model: 'pair/gpt-4o' }));
      expect(res.status).toBe(200);
      await res.text();
    }
    // Three failures opened it; then no more calls with that key.
    expect(upstream.callsWithKey('sk-pair-a')).toBe(3);
    expect(upstream.callsWithKey('sk-pair-b')).toBe(10);
  });

  it('opens, fails fast with 503 circuit_open, lets one probe through after the cooldown, and closes when the probe succeeds', async () => {
    upstream.keyFaults.set('sk-solo', 'error-500');

    // Three failures (the first try and two retries) open the circuit; the third retry fails fast, and the fallback serves.
    let res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o', fallbacks: ['healthy/gpt-4o'] }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('healthy');
    await res.text();
    expect(upstream.callsWithKey('sk-solo')).toBe(3);

    // Open: no upstream call; a fallbackable 503 with Retry-After.
    res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const error = expectOpenAIError(await res.json());
    expect(error.code).toBe('circuit_open');
    expect(upstream.callsWithKey('sk-solo')).toBe(3);
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
    expect(record).toMatchObject({ status_code: 503, error_code: 'circuit_open' });

    // Half-open after the cooldown: one probe, which fails and reopens the circuit.
    await sleep(2_100);
    res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o', fallbacks: ['healthy/gpt-4o'] }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('healthy');
    await res.text();
    expect(upstream.callsWithKey('sk-solo')).toBe(4);
    res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
    expect(res.status).toBe(503);
    await res.text();
    expect(upstream.callsWithKey('sk-solo')).toBe(4);

    // The upstream recovers: the next probe succeeds and closes the circuit.
    upstream.keyFaults.delete('sk-solo');
    await sleep(2_100);
    for (let i = 0; i < 3; i++) {
      res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-provider')).toBe('solo');
      await res.text();
    }
    expect(upstream.callsWithKey('sk-solo')).toBe(7);
  });

  it('does not count client errors (4xx) as failures', async () => {
    upstream.keyFaults.set('sk-solo', 'error-400');
    for (let i = 0; i < 5; i++) {
      const res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).code).toBe('invalid_value');
    }
    upstream.keyFaults.delete('sk-solo');
    const res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('solo');
  });

  it('counts a body that breaks off after a 200 as a failure', async () => {
    upstream.keyFaults.set('sk-solo', 'reset-mid-body');
    const before = upstream.callsWithKey('sk-solo');
    let res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o', fallbacks: ['healthy/gpt-4o'] }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('healthy');
    await res.text();
    expect(upstream.callsWithKey('sk-solo') - before).toBe(3);
    res = await postChat(gw, key, chatBody({ model: 'solo/gpt-4o' }));
    expect(res.status).toBe(503);
    expect(expectOpenAIError(await res.json()).code).toBe('circuit_open');
    expect(upstream.callsWithKey('sk-solo') - before).toBe(3);
  });
});

function chunkOf(event: SseEvent): Record<string, unknown> {
  return JSON.parse(event.data) as Record<string, unknown>;
}
