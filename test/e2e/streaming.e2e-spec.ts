import OpenAI from 'openai';
import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, expectOpenAIError, Gateway, postChat, readSse, SseEvent, startGateway } from './harness';

// Project-level testTimeout in jest.config.js is not applied by Jest; the embedded store takes seconds to open.
jest.setTimeout(30_000);

/** 20 characters once echoed ("echo: count to seven"), so each of the fake's 20 chunks carries one. */
const TWENTY = 'count to seven';

const chunkOf = (e: SseEvent) => JSON.parse(e.data) as { object: string; choices: Array<{ delta: { content?: string; role?: string }; finish_reason: string | null }>; usage?: unknown };
const isChunk = (e: SseEvent) => e.event === null && e.data !== '[DONE]';
/** Events that carry a piece of the answer (not the opening role chunk, not the finish or usage chunks). */
const contentEvents = (events: SseEvent[]) => events.filter((e) => isChunk(e) && !!chunkOf(e).choices[0]?.delta.content);

describe('streaming', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, TOKENHUB_MAX_RETRIES: '1' });
    ({ key } = await gw.createKey('streaming-spec'));
  });
  afterAll(async () => {
    // The fake first: should a test leave a request hanging upstream, the gateway still closes at once.
    await fake?.stop();
    await gw?.close();
  });
  beforeEach(() => {
    fake.chunkDelayMs = 100;
  });

  it('delivers chunks as the upstream sends them, not at the end', async () => {
    const started = performance.now();
    const res = await postChat(gw, key, chatBody({ model: 'openai/slow-stream', stream: true, messages: [{ role: 'user', content: TWENTY }] }));
    const headersAfter = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { events, raw } = await readSse(res);
    const pieces = contentEvents(events);
    expect(pieces).toHaveLength(20);
    expect(pieces.map((e) => chunkOf(e).choices[0].delta.content).join('')).toBe(`echo: ${TWENTY}`);
    const first = pieces[0].at;
    const last = pieces[pieces.length - 1].at;
    // The upstream sends one piece every 100 ms: ~2 s from the first to the last.
    expect(headersAfter).toBeLessThan(1_000);
    expect(first).toBeLessThan(700);
    expect(last - first).toBeGreaterThan(1_000);
    // And they come one at a time: most pieces arrive well after the one before.
    const gaps = pieces.slice(1).map((e, i) => e.at - pieces[i].at);
    expect(gaps.filter((g) => g > 50).length).toBeGreaterThanOrEqual(15);
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  describe('the usage chunk', () => {
    it('is hidden when the client did not ask for include_usage, yet the usage is recorded', async () => {
      const res = await postChat(gw, key, chatBody({ stream: true }));
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-request-id');
      const { events } = await readSse(res);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const chunks = events.filter(isChunk).map(chunkOf);
      expect(chunks.length).toBeGreaterThan(2);
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
      expect(chunks.some((c) => c.usage)).toBe(false);
      // Not even the `"usage": null` OpenAI adds to every chunk once usage is asked for.
      expect(chunks.every((c) => !("usage" in c))).toBe(true);
      expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('stop');
      // The gateway asked the upstream for usage anyway, to account the request.
      expect(fake.requests[fake.requests.length - 1].body.stream_options).toEqual({ include_usage: true });
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
      expect(record).toMatchObject({ stream: true, status_code: 200 });
      expect(record.total_tokens).toBeGreaterThan(0);
    });

    it('is the last chunk before [DONE] when the client asked for include_usage', async () => {
      const res = await postChat(gw, key, chatBody({ stream: true, stream_options: { include_usage: true } }));
      expect(res.status).toBe(200);
      const { events } = await readSse(res);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const chunks = events.filter(isChunk).map(chunkOf);
      const usageChunks = chunks.filter((c) => c.choices.length === 0);
      expect(usageChunks).toHaveLength(1);
      expect(chunks[chunks.length - 1]).toBe(usageChunks[0]);
      expect(usageChunks[0].usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
      expect(fake.requests[fake.requests.length - 1].body.stream_options).toEqual({ include_usage: true });
    });

    it('is hidden when the client said include_usage: false', async () => {
      const res = await postChat(gw, key, chatBody({ stream: true, stream_options: { include_usage: false } }));
      const { events } = await readSse(res);
      expect(events.filter(isChunk).map(chunkOf).every((c) => c.choices.length === 1)).toBe(true);
    });
  });

  it('closes the upstream connection within a second of the client disconnecting', async () => {
    const abandoned = fake.abandonedStreams.length;
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ model: 'openai/slow-stream', stream: true, messages: [{ role: 'user', content: TWENTY }] })),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    let hungUpAt = 0;
    await readSse(res, (_e, all) => {
      if (contentEvents(all).length < 3) return false;
      hungUpAt = Date.now();
      controller.abort();
      return true;
    }).catch(() => undefined);
    expect(hungUpAt).toBeGreaterThan(0);
    while (fake.abandonedStreams.length === abandoned && Date.now() - hungUpAt < 2_000) await new Promise((r) => setTimeout(r, 10));
    expect(fake.abandonedStreams.length).toBe(abandoned + 1);
    const entry = fake.abandonedStreams[fake.abandonedStreams.length - 1];
    expect(entry.model).toBe('slow-stream');
    expect(entry.at - hungUpAt).toBeLessThan(1_000);
    // The request is recorded as cancelled by the client, and the gateway serves on.
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    expect(record).toMatchObject({ status_code: 499, error_code: 'client_closed_request' });
    const next = await postChat(gw, key, chatBody());
    expect(next.status).toBe(200);
  });

  it.each([true, false])('closes the upstream connection within a second of the client disconnecting before any answer (stream: %s)', async (stream) => {
    const abandoned = fake.abandonedRequests.length;
    const hangs = fake.callsFor('hang');
    const controller = new AbortController();
    const pending = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ model: 'openai/hang', stream })),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    // Wait until the gateway's request is at the upstream, then hang up.
    const deadline = Date.now() + 2_000;
    while (fake.callsFor('hang') === hangs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(fake.callsFor('hang')).toBe(hangs + 1);
    const hungUpAt = Date.now();
    controller.abort();
    expect(((await pending) as Error).name).toBe('AbortError');
    while (fake.abandonedRequests.length === abandoned && Date.now() - hungUpAt < 2_000) await new Promise((r) => setTimeout(r, 10));
    expect(fake.abandonedRequests.length).toBe(abandoned + 1);
    const entry = fake.abandonedRequests[fake.abandonedRequests.length - 1];
    expect(entry.model).toBe('hang');
    expect(entry.at - hungUpAt).toBeLessThan(1_000);
  });

  describe('a failure', () => {
    it('after the first chunks ends the stream with an SSE error event and no [DONE], without falling back', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/die-mid-stream', stream: true, fallbacks: ['openai/gpt-4o-mini'] }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-attempts')).toBe('1');
      const { events, raw } = await readSse(res);
      expect(raw).not.toContain('[DONE]');
      const last = events[events.length - 1];
      expect(last.event).toBe('error');
      expect(raw.endsWith(`event: error\ndata: ${last.data}\n\n`)).toBe(true);
      const error = expectOpenAIError(JSON.parse(last.data));
      expect(error.type).toBe('server_error');
      // What came before the failure reached the client.
      const before = events.slice(0, -1);
      expect(before.length).toBeGreaterThanOrEqual(2);
      for (const e of before) expect(chunkOf(e).object).toBe('chat.completion.chunk');
      expect(fake.callsFor('gpt-4o-mini')).toBe(0);
    });

    it('after the first chunks makes the SDK iterator throw', async () => {
      const client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: 'openai/die-mid-stream', messages: [{ role: 'user', content: 'hi' }], stream: true });
      const seen: OpenAI.ChatCompletionChunk[] = [];
      const err = await (async () => {
        for await (const chunk of stream) seen.push(chunk);
      })().catch((e: unknown) => e);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(err).toBeInstanceOf(OpenAI.APIError);
    });

    it('before the first chunk falls back, and the stream is served by the fallback', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503', stream: true, fallbacks: ['openai/gpt-4o-mini'] }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-tokenhub-provider')).toBe('openai');
      expect(res.headers.get('x-tokenhub-model')).toBe('gpt-4o-mini');
      expect(res.headers.get('x-tokenhub-attempts')).toBe('3');
      const { events, raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(events.filter(isChunk).map(chunkOf).map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Hello, how are you?');
    });

    it('before the first chunk, with nowhere to fall back, is an HTTP error, not a stream', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503', stream: true }));
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expectOpenAIError(await res.json());
    });

    it('that is a 200 carrying no event stream at all is a 502 before any chunk, and falls back', async () => {
      // `malformed` answers a broken JSON body even to a streamed request: no chunk ever arrives.
      const alone = await postChat(gw, key, chatBody({ model: 'openai/malformed', stream: true }));
      expect(alone.status).toBe(502);
      expect(alone.headers.get('content-type')).toMatch(/^application\/json/);
      expect(expectOpenAIError(await alone.json()).type).toBe('server_error');
      const res = await postChat(gw, key, chatBody({ model: 'openai/malformed', stream: true, fallbacks: ['openai/gpt-4o'] }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-model')).toBe('gpt-4o');
      const { raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    });
  });
});
