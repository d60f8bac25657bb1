import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, closedPort, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

// Project-level testTimeout in jest.config.js is not applied by Jest; the embedded store takes seconds to open.
jest.setTimeout(30_000);

/**
 * Three upstreams: `openai` (a fake), `backup` (a second fake, a custom provider) and
 * `deadhost` (a custom provider whose port refuses connections). One retry per target.
 */
describe('fallbacks and retries', () => {
  let fake: FakeOpenAI;
  let backup: FakeOpenAI;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    backup = new FakeOpenAI();
    const [base, backupBase, deadPort] = await Promise.all([fake.start(), backup.start(), closedPort()]);
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: base,
      TOKENHUB_CUSTOM_PROVIDERS: 'deadhost,backup',
      DEADHOST_BASE_URL: `http://127.0.0.1:${deadPort}/v1`,
      DEADHOST_API_KEY: 'x',
      BACKUP_BASE_URL: backupBase,
      BACKUP_API_KEY: 'sk-backup',
      TOKENHUB_MAX_RETRIES: '1',
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '300',
    });
    ({ key } = await gw.createKey('fallbacks-spec'));
  });
  afterAll(async () => {
    // The fakes first: should a test leave a request hanging upstream, the gateway still closes at once.
    await Promise.all([fake?.stop(), backup?.stop()]);
    await gw?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    backup.requests.length = 0;
    fake.failNext = null;
  });

  function routing(res: Response) {
    return {
      provider: res.headers.get('x-tokenhub-provider'),
      model: res.headers.get('x-tokenhub-model'),
      attempts: res.headers.get('x-tokenhub-attempts'),
    };
  }

  async function servedBy(res: Response, provider: string, model: string, attempts: number) {
    const text = await res.text();
    expect({ status: res.status, text }).toEqual({ status: 200, text: expect.any(String) });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(routing(res)).toEqual({ provider, model, attempts: String(attempts) });
    const json = JSON.parse(text);
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0].message.content).toBe('echo: Hello, how are you?');
  }

  describe('fall back to the next model', () => {
    it('after a 503, retried once first', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503', fallbacks: ['backup/gpt-4o-mini'] }));
      await servedBy(res, 'backup', 'gpt-4o-mini', 3);
      expect(fake.callsFor('error-503')).toBe(2);
      expect(backup.callsFor('gpt-4o-mini')).toBe(1);
      expect(backup.requests[0].headers.authorization).toBe('Bearer sk-backup');
    });

    it('after a 429, retried once first (retry-after: 0)', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-429', fallbacks: ['backup/gpt-4o-mini'] }));
      await servedBy(res, 'backup', 'gpt-4o-mini', 3);
      expect(fake.callsFor('error-429')).toBe(2);
    });

    it('after a refused connection, retried once first', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'deadhost/gpt-4o', fallbacks: ['openai/gpt-4o-mini'] }));
      await servedBy(res, 'openai', 'gpt-4o-mini', 3);
      expect(fake.callsFor('gpt-4o-mini')).toBe(1);
    });

    it('after a context-length error, without retrying it', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/context-length', fallbacks: ['backup/gpt-4.1'] }));
      await servedBy(res, 'backup', 'gpt-4.1', 2);
      expect(fake.callsFor('context-length')).toBe(1);
    });

    it('after a malformed answer, without retrying it', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/malformed', fallbacks: ['backup/gpt-4o'] }));
      await servedBy(res, 'backup', 'gpt-4o', 2);
      expect(fake.callsFor('malformed')).toBe(1);
    });

    it('after the first-byte deadline passes, retried once first', async () => {
      const started = Date.now();
      const res = await postChat(gw, key, chatBody({ model: 'openai/hang', fallbacks: ['backup/gpt-4o'] }));
      await servedBy(res, 'backup', 'gpt-4o', 3);
      expect(fake.callsFor('hang')).toBe(2);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('through several failing fallbacks in order, to the first that answers', async () => {
      const res = await postChat(
        gw,
        key,
        chatBody({ model: 'deadhost/gpt-4o', fallbacks: ['openai/context-length', 'backup/error-502', 'openai/gpt-4o-mini', 'backup/gpt-4o'] }),
      );
      await servedBy(res, 'openai', 'gpt-4o-mini', 6);
      expect(fake.requests.map((r) => r.body.model)).toEqual(['context-length', 'gpt-4o-mini']);
      expect(backup.requests.map((r) => r.body.model)).toEqual(['error-502', 'error-502']);
    });

    it('sends each fallback the request with its own model name and no gateway fields', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-500', fallbacks: ['backup/gpt-4o-mini'], metadata: { a: 1 }, seed: 7 }));
      await servedBy(res, 'backup', 'gpt-4o-mini', 3);
      const sent = backup.requests[0].body;
      expect(sent).toMatchObject({ model: 'gpt-4o-mini', seed: 7, temperature: 0.7, messages: [{ role: 'user', content: 'Hello, how are you?' }] });
      expect(sent).not.toHaveProperty('fallbacks');
      expect(sent).not.toHaveProperty('metadata');
    });
  });

  describe('do not fall back', () => {
    it('on a 400 from the provider: neither retried nor fallen back, passed through', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-400', fallbacks: ['backup/gpt-4o-mini'] }));
      expect(res.status).toBe(400);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.headers.get('x-tokenhub-attempts')).toBe('1');
      expect(res.headers.get('x-tokenhub-provider')).toBeNull();
      const error = expectOpenAIError(await res.json());
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toContain('The fake answers 400 for error-400');
      expect(fake.callsFor('error-400')).toBe(1);
      expect(backup.requests).toHaveLength(0);
    });

    it('on a 400 the provider gives for a parameter, passing on its param', async () => {
      // OpenAI's reasoning models reject any temperature but 1.
      const res = await postChat(gw, key, chatBody({ model: 'openai/o3-mini', temperature: 0.2, fallbacks: ['backup/gpt-4o'] }));
      expect(res.status).toBe(400);
      const error = expectOpenAIError(await res.json());
      expect(error).toMatchObject({ param: 'temperature', code: 'unsupported_value' });
      expect(backup.requests).toHaveLength(0);
    });
  });

  describe('retries', () => {
    it('tries a 503 twice (TOKENHUB_MAX_RETRIES=1) before giving up when there is no fallback', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503' }));
      expect(res.status).toBe(503);
      expect(res.headers.get('x-tokenhub-attempts')).toBe('2');
      expect(fake.callsFor('error-503')).toBe(2);
      const error = expectOpenAIError(await res.json());
      expect(error.type).toBe('server_error');
    });

    it('serves from the same model when the retry succeeds', async () => {
      fake.failNext = { count: 1, status: 503 };
      const res = await postChat(gw, key, chatBody({ model: 'openai/gpt-4o', fallbacks: ['backup/gpt-4o'] }));
      await servedBy(res, 'openai', 'gpt-4o', 2);
      expect(fake.callsFor('gpt-4o')).toBe(2);
      expect(backup.requests).toHaveLength(0);
    });

    it('does not retry a 4xx such as 422', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-422' }));
      expect(res.status).toBe(422);
      expect(fake.callsFor('error-422')).toBe(1);
    });
  });

  describe('when every attempt fails', () => {
    it("answers with the last upstream's status and lists each attempt", async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503', fallbacks: ['backup/error-502'] }));
      expect(res.status).toBe(502);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.headers.get('x-tokenhub-attempts')).toBe('4');
      expect(res.headers.get('x-tokenhub-provider')).toBeNull();
      const error = expectOpenAIError(await res.json());
      expect(error.type).toBe('server_error');
      expect(error.message).toMatch(/^All 4 attempts failed: /);
      expect(error.message).toContain('(1) openai/error-503: 503 The fake answers 503 for error-503');
      expect(error.message).toContain('(2) openai/error-503: 503');
      expect(error.message).toContain('(3) backup/error-502: 502 The fake answers 502 for error-502');
      expect(error.message).toContain('(4) backup/error-502: 502');
    });

    it('lists a refused connection and a rate limit, answering 429 with retry-after', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'deadhost/gpt-4o', fallbacks: ['openai/error-429'] }));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('0');
      const error = expectOpenAIError(await res.json());
      expect(error.type).toBe('rate_limit_error');
      expect(error.message).toMatch(/^All 4 attempts failed: /);
      expect(error.message).toMatch(/\(1\) deadhost\/gpt-4o: connection failed \(ECONNREFUSED/);
      expect(error.message).toContain('(3) openai/error-429: 429');
    });

    it('answers a refused connection alone with a 502', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'deadhost/gpt-4o' }));
      expect(res.status).toBe(502);
      const error = expectOpenAIError(await res.json());
      expect(error).toMatchObject({ type: 'server_error', code: 'upstream_connection_error' });
      expect(error.message).toContain('ECONNREFUSED');
    });

    it('stops at a non-fallbackable failure part way through the list', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/error-503', fallbacks: ['backup/error-400', 'openai/gpt-4o'] }));
      expect(res.status).toBe(400);
      const error = expectOpenAIError(await res.json());
      expect(error.message).toMatch(/^All 3 attempts failed: /);
      expect(fake.callsFor('gpt-4o')).toBe(0);
    });
  });

  it('puts an x-request-id on every response, each different', async () => {
    const responses = await Promise.all([
      postChat(gw, key, chatBody()),
      postChat(gw, key, chatBody({ model: 'openai/error-503', fallbacks: ['backup/gpt-4o'] })),
      postChat(gw, key, chatBody({ model: 'openai/error-404' })),
      postChat(gw, key, chatBody({ stream: true })),
      postChat(gw, key, chatBody({ temperature: 9 })),
      postChat(gw, key, '{not json'),
      postChat(gw, 'sk-bf-wrong', chatBody()),
      fetch(`${gw.url}/v1/chat/completions`, { method: 'POST' }),
      fetch(`${gw.url}/v1/chat/completions`),
      fetch(`${gw.url}/v1/nothing-here`),
      fetch(`${gw.url}/health/live`),
      fetch(`${gw.url}/admin/virtual-keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
    ]);
    const ids = await Promise.all(
      responses.map(async (res) => {
        await res.arrayBuffer();
        return res.headers.get('x-request-id');
      }),
    );
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 200, 400, 400, 401, 401, 404, 404, 200, 200]);
  });
});
