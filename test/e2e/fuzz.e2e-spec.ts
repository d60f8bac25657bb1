import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@tokenhub/common';
import fc from 'fast-check';
import { FakeAnthropic } from '../fakes/fake-anthropic';
import { FakeCohere } from '../fakes/fake-cohere';
import { FakeGemini } from '../fakes/fake-gemini';
import { FakeOpenAI } from '../fakes/fake-openai';
import {
  AdminIds,
  adminCall,
  Answer,
  authorization,
  chatBody,
  checkAnswer,
  closeAgent,
  contentEncoding,
  contentType,
  extraHeaders,
  FUZZ_BODY_LIMIT_BYTES,
  oddBytes,
  Raw,
  send,
  toJson,
} from './fuzz-arbitraries';
import { ADMIN_KEY, Gateway, startGateway } from './harness';

/**
 * Property-based fuzzing of the HTTP surface: thousands of hostile requests to the chat
 * endpoint and the admin API of one gateway (real Postgres; healthy fake OpenAI, Anthropic,
 * Gemini and Cohere upstreams, so odd requests also meet the native translators), each
 * answered below 500 and, when refused, OpenAI-shaped; the process stays alive; and every
 * chat request made with a valid key leaves exactly one usage record.
 *
 * FUZZ_SEED replays a run (the seed is printed when a property fails); FUZZ_RUNS sets the
 * total number of cases (default 3,000), shared among the properties.
 */
jest.setTimeout(300_000);

const seed = Number(process.env.FUZZ_SEED ?? 20261124);
const total = Number(process.env.FUZZ_RUNS ?? 3000);
const runs = (share: number) => Math.max(1, Math.round(total * share));
const CHAT = '/v1/chat/completions';
/** Requests in flight at once: the suite's cases, in batches of this many. */
const CONCURRENCY = 8;

describe(`HTTP fuzzing (FUZZ_SEED=${seed}, FUZZ_RUNS=${total})`, () => {
  let fake: FakeOpenAI;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let cohere: FakeCohere;
  let gw: Gateway;
  let key: string;
  /** Request ids of chat requests made with the valid key: each must leave one usage record. */
  const authenticated: string[] = [];
  let chatRequests = 0;
  /** Cases sent by the properties, printed at the end. */
  let sent = 0;
  /** The gateway's error log lines, shown with a failure (an unhandled error's stack says where it came from). */
  const errorLog: string[] = [];
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      errorLog.push(chunk.toString('utf8').slice(0, 3000));
      if (errorLog.length > 20) errorLog.shift();
      done();
    },
  });

  beforeAll(async () => {
    fake = new FakeOpenAI();
    fake.streamChunks = 3;
    [anthropic, gemini, cohere] = [new FakeAnthropic(), new FakeGemini(), new FakeCohere()];
    const [base, anthropicBase, geminiBase, cohereBase] = await Promise.all([fake.start(), anthropic.start(), gemini.start(), cohere.start()]);
    const natives = { ANTHROPIC_API_KEY: 'sk-ant-upstream', ANTHROPIC_BASE_URL: anthropicBase, GEMINI_API_KEY: 'gm-upstream', GEMINI_BASE_URL: geminiBase, COHERE_API_KEY: 'co-upstream', COHERE_BASE_URL: cohereBase };
    gw = await startGateway({ ...natives, OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, BODY_LIMIT: `${FUZZ_BODY_LIMIT_BYTES / 1024}kb`, TOKENHUB_ENCRYPTION_KEY: 'ab'.repeat(32) }, { logger: createLogger('error', logSink) });
    ({ key } = await gw.createKey('fuzz'));
  });
  afterAll(async () => {
    closeAgent();
    await gw?.close();
    await Promise.all([fake?.stop(), anthropic?.stop(), gemini?.stop(), cohere?.stop()]);
  });

  /**
   * Checks `cases` values of `arbitrary`, CONCURRENCY requests at a time (each run of the
   * property is a batch; the failure message names the failing case), then that the process is alive.
   */
  async function assertProperty<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void>, cases: number): Promise<void> {
    const property = fc.asyncProperty(fc.array(arbitrary, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
      sent += batch.length;
      const outcomes = await Promise.allSettled(batch.map(check));
      const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failure) throw failure.reason;
    });
    const details = await fc.check(property, { seed, numRuns: Math.ceil(cases / CONCURRENCY), endOnFailure: false });
    if (details.failed) {
      const cut = (text: string) => (text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} characters)` : text);
      const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      throw new Error(
        `${name} failed after ${details.numRuns} batches; replay with FUZZ_SEED=${seed} FUZZ_RUNS=${total} (path ${details.counterexamplePath})\n` +
          `${cut(why)}\ncounterexample: ${cut(fc.stringify(details.counterexample))}\ngateway error log:\n${errorLog.slice(-3).join('')}`,
      );
    }
    const live = await send(gw.url, 'GET', '/health/live', {});
    expect(live.status).toBe(200);
  }

  async function chat(headers: Record<string, string | string[] | undefined>, body: Buffer, valid: boolean): Promise<Answer> {
    const answer = await send(gw.url, 'POST', CHAT, headers, body);
    chatRequests++;
    const requestId = answer.headers['x-request-id'];
    // Headers over Node's 16 KiB are refused (431) before any request exists: nothing to record.
    if (answer.status === 431) return answer;
    if (typeof requestId !== 'string') throw new Error(`no x-request-id: ${answer.status} ${answer.body.slice(0, 200)}`);
    if (valid) authenticated.push(requestId);
    return answer;
  }

  it('answers any JSON body on the chat endpoint below 500, refusals OpenAI-shaped', async () => {
    await assertProperty(
      'chat JSON',
      chatBody,
      async (body) => {
        const json = toJson(body);
        const answer = await chat({ authorization: `Bearer ${key}`, 'content-type': 'application/json' }, Buffer.from(json), true);
        checkAnswer(answer, json.slice(0, 300));
      },
      runs(0.45),
    );
  });

  it('answers odd bytes, content types, encodings and headers on the chat endpoint below 500', async () => {
    await assertProperty(
      'chat bytes and headers',
      fc.tuple(fc.oneof(chatBody.map((b) => ({ kind: 'json', body: Buffer.from(toJson(b)) })), oddBytes), authorization(key), contentType, contentEncoding, extraHeaders),
      async ([payload, auth, type, encoding, extra]) => {
          const headers = { ...extra, authorization: auth.value, 'content-type': type, 'content-encoding': encoding };
          const answer = await chat(headers, payload.body, auth.valid);
          checkAnswer(answer, `${payload.kind} ${JSON.stringify({ auth: String(auth.value).slice(0, 80), type, encoding, extra: Object.keys(extra) })} ${payload.body.subarray(0, 200).toString('latin1')}`);
          // With the valid key and a plain JSON request (headers within Node's limit), the body decides the answer.
          const plain = auth.valid && type === 'application/json' && !encoding && answer.status !== 431;
          if (payload.kind === 'too-large' && plain) {
            expect({ status: answer.status, code: JSON.parse(answer.body).error.code }).toEqual({ status: 413, code: 'request_too_large' });
          }
          if (payload.kind === 'invalid-utf8' && plain) expect({ status: answer.status, code: JSON.parse(answer.body).error.code }).toEqual({ status: 400, code: 'invalid_encoding' });
          if (payload.kind === 'deep' && plain) expect({ status: answer.status, code: JSON.parse(answer.body).error.code }).toEqual({ status: 400, code: 'nesting_too_deep' });
      },
      runs(0.25),
    );
  });

  it('answers any body, query and id on the admin API below 500, refusals OpenAI-shaped', async () => {
    const admin = async (method: string, path: string, body?: unknown) => {
      const answer = await send(gw.url, method, path, { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body === undefined ? undefined : Buffer.from(toJson(body)));
      if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body}`);
      return JSON.parse(answer.body) as { id: string };
    };
    const customer = await admin('POST', '/admin/customers', { name: 'fuzz-customer' });
    const team = await admin('POST', '/admin/teams', { name: 'fuzz-team', customer_id: customer.id });
    const target = await admin('POST', '/admin/virtual-keys', { name: 'fuzz-target', team_id: team.id });
    const budget = await admin('POST', '/admin/budgets', { scope: 'team', scope_id: team.id, period: 'daily', limit_usd: 5 });
    const credential = await admin('POST', '/admin/provider-credentials', { provider: 'openai', name: 'fuzz-credential', api_key: 'sk-fuzz-0' });
    const ids: AdminIds = { key: target.id, team: team.id, customer: customer.id, budget: budget.id, credential: credential.id };

    await assertProperty(
      'admin API',
      fc.tuple(adminCall, fc.oneof({ weight: 9, arbitrary: fc.constant('admin' as const) }, { weight: 1, arbitrary: authorization(key) })),
      async ([callOf, auth]) => {
        const call = callOf(ids);
        const path = `${call.path}${call.query ? `?${call.query}` : ''}`;
        const body = call.body === undefined ? undefined : Buffer.from(toJson(call.body));
        const headers = { authorization: auth === 'admin' ? `Bearer ${ADMIN_KEY}` : auth.value, 'content-type': body ? 'application/json' : undefined };
        const answer = await send(gw.url, call.method, path, headers, body);
        checkAnswer(answer, `${call.method} ${path.slice(0, 300)} ${body?.subarray(0, 300).toString('utf8') ?? ''}`);
      },
      runs(0.3),
    );
  });

  it('leaves exactly one usage record per chat request made with a valid key', async () => {
    expect(authenticated.length).toBeGreaterThan(0);
    expect(new Set(authenticated).size).toBe(authenticated.length);
    let found: Array<{ request_id: string; n: string }> = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      found = await gw.query(`SELECT request_id, count(*) AS n FROM usage_records WHERE request_id = ANY($1::uuid[]) GROUP BY request_id`, [authenticated]);
      if (found.length === authenticated.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const recorded = new Set(found.map((r) => r.request_id));
    const missing = authenticated.filter((id) => !recorded.has(id));
    expect({ missing: missing.slice(0, 10), missingCount: missing.length }).toEqual({ missing: [], missingCount: 0 });
    expect(found.every((r) => Number(r.n) === 1)).toBe(true);
    // Printed for the record: how many cases this run sent.
    process.stdout.write(`fuzz: ${sent} cases, ${chatRequests} of them chat requests (${authenticated.length} with the valid key), seed ${seed}\n`);
  });
  describe('what fuzzing found, pinned', () => {
    const json = (body: unknown) => Buffer.from(toJson(body));
    const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra });
    const errorOf = (answer: Answer) => {
      checkAnswer(answer, 'pinned case');
      return { status: answer.status, code: (JSON.parse(answer.body) as { error: { code: string | null } }).error.code };
    };

    it('refuses 10k-deep nesting in any field with a 400, on the chat endpoint and the admin API', async () => {
      const deep = new Raw('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
      expect(errorOf(await chat(headers(), json({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], extra: deep }), true))).toEqual({ status: 400, code: 'nesting_too_deep' });
      const admin = await send(gw.url, 'POST', '/admin/teams', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, json({ name: 'x', extra: deep }));
      expect(errorOf(admin)).toEqual({ status: 400, code: 'nesting_too_deep' });
    });

    it('refuses a body that is not valid UTF-8 with a 400', async () => {
      const body = Buffer.concat([Buffer.from('{"model":"openai/gpt-4o","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
      expect(errorOf(await chat(headers(), body, true))).toEqual({ status: 400, code: 'invalid_encoding' });
    });

    it('validates objects with a constructor member, as in a tool parameter of that name', async () => {
      const tool = { type: 'function', function: { name: 'build', parameters: { type: 'object', properties: { constructor: { type: 'string' } } } } };
      const answer = await chat(headers(), json({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], tools: [tool] }), true);
      expect(answer.status).toBe(200);
    });

    it('refuses a budget of 5e-324 USD with a 400 naming limit_usd', async () => {
      const answer = await send(gw.url, 'POST', '/admin/budgets', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, Buffer.from('{"scope":"team","scope_id":"00000000-0000-4000-8000-000000000000","period":"daily","limit_usd":5e-324}'));
      checkAnswer(answer, 'budget 5e-324');
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error.param).toBe('limit_usd');
    });

    it('refuses an array in place of a budget or a message with a 400', async () => {
      const team = await send(gw.url, 'POST', '/admin/teams', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, json({ name: 'x', budgets: [[]] }));
      expect(errorOf(team).status).toBe(400);
      const chatAnswer = await chat(headers(), json({ model: 'openai/gpt-4o', messages: [[{ role: 'user', content: 'hi' }]] }), true);
      expect(errorOf(chatAnswer)).toEqual({ status: 400, code: 'invalid_value' });
    });

    it('refuses NUL in what the admin API stores or searches for with a 400 naming the field', async () => {
      const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
      for (const path of ['/admin/usage?user=%00', '/admin/audit-log?actor=a%00', '/admin/provider-credentials?provider=%00', '/admin/usage/export?model=%00']) {
        const answer = await send(gw.url, 'GET', path, admin);
        expect({ path, ...errorOf(answer) }).toEqual({ path, status: 400, code: 'invalid_value' });
      }
      const team = await send(gw.url, 'POST', '/admin/teams', admin, json({ name: 'a\u0000b' }));
      expect(errorOf(team).status).toBe(400);
      expect(JSON.parse(team.body).error.param).toBe('name');
      const key = await send(gw.url, 'POST', '/admin/virtual-keys', admin, json({ name: 'k', allowed_models: ['openai/*', 'x\u0000'] }));
      expect(JSON.parse(key.body).error.param).toBe('allowed_models[1]');
    });

    it('answers malformed JSON on the admin API as on the chat endpoint', async () => {
      const answer = await send(gw.url, 'POST', '/admin/teams', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, Buffer.from('{"name":'));
      expect(errorOf(answer).status).toBe(400);
      expect(JSON.parse(answer.body).error.message).toBe('The request body is not valid JSON.');
    });

    it('answers a request Node cannot parse (two Content-Lengths) with an OpenAI-shaped 400', async () => {
      const { port } = new URL(gw.url);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}'));
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString('utf8')));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      const [head, body] = raw.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
      expect(head.toLowerCase()).toContain('content-type: application/json');
      expect(errorOf({ status: 400, headers: { 'content-type': 'application/json' }, body })).toEqual({ status: 400, code: 'invalid_http' });
    });

    it('refuses tool calls and content parts the native adapters cannot read with a 400', async () => {
      for (const model of ['gemini/gemini-2.5-flash', 'anthropic/claude-sonnet-4-5', 'cohere/command-r-plus']) {
        const toolCalls = await chat(headers(), json({ model, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: '', tool_calls: [0, 1] }] }), true);
        expect({ model, ...errorOf(toolCalls) }).toEqual({ model, status: 400, code: 'invalid_value' });
        const image = await chat(headers(), json({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: null }] }] }), true);
        expect({ model, ...errorOf(image) }).toEqual({ model, status: 400, code: 'invalid_value' });
        const tools = await chat(headers(), json({ model, messages: [{ role: 'user', content: 'hi' }], tools: [null] }), true);
        expect({ model, status: errorOf(tools).status }).toEqual({ model, status: 400 });
      }
    });

    it('ignores an Expect header it does not know instead of a bare 417', async () => {
      const answer = await chat(headers({ expect: 'x-unknown' }), json({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), true);
      expect(answer.status).toBe(200);
    });

    it('answers headers over 16 KiB with an OpenAI-shaped 431', async () => {
      const answer = await send(gw.url, 'POST', CHAT, headers({ 'x-padding': 'x'.repeat(20_000) }), json({}));
      expect(errorOf(answer)).toEqual({ status: 431, code: 'request_headers_too_large' });
    });

    it('refuses a model name holding NUL (it would reach URLs and headers) and records the request, NUL and unpaired surrogates in user and metadata included', async () => {
      const answer = await chat(headers(), json({ model: 'openai/gpt-4o\u0000', messages: [{ role: 'user', content: 'hi' }], user: 'u\u0000\ud800', metadata: { 'k\u0000': 'v\udfff' } }), true);
      expect(errorOf(answer)).toEqual({ status: 400, code: 'invalid_value' });
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [answer.headers['x-request-id']]);
      expect(record).toMatchObject({ user: 'u\ufffd\ufffd', requested_model: 'openai/gpt-4o\ufffd', metadata: { 'k\ufffd': 'v\ufffd' } });
    });
  });
});
