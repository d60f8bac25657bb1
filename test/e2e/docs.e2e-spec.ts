import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeOpenAI } from '../fakes/fake-openai';
import { Gateway, postChat, startGateway } from './harness';

/** Swagger UI and the OpenAPI document describe the contract; the health probes answer. */
type Schema = Record<string, any>;

/** Every request field the contract (../shared/spec/chat-completions.md) lists. */
const CONTRACT_FIELDS = [
  'model', 'messages', 'fallbacks', 'stream', 'temperature', 'frequency_penalty', 'presence_penalty', 'max_tokens',
  'max_completion_tokens', 'logit_bias', 'logprobs', 'metadata', 'modalities', 'parallel_tool_calls', 'prompt_cache_key', 'stop', 'user',
];
/** The contract's own curl example body. */
const CONTRACT_EXAMPLE = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello, how are you?' }], temperature: 0.7, max_tokens: 100 };

describe('docs and health', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let doc: Schema;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base });
    const res = await fetch(`${gw.url}/docs-json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Schema;
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  const resolve = (schema: Schema): Schema => {
    if (!schema.$ref) return schema;
    const name = (schema.$ref as string).replace('#/components/schemas/', '');
    expect(doc.components.schemas).toHaveProperty(name);
    return doc.components.schemas[name];
  };

  describe('Swagger UI', () => {
    it('GET /docs serves the Swagger UI page, without a key', async () => {
      const res = await fetch(`${gw.url}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toContain('<title>Swagger UI</title>');
      expect(html).toMatch(/swagger-ui/);
    });

    it('the page\'s script and stylesheet are served too', async () => {
      const init = await fetch(`${gw.url}/docs/swagger-ui-init.js`);
      expect(init.status).toBe(200);
      expect(await init.text()).toContain('/v1/chat/completions');
      const css = await fetch(`${gw.url}/docs/swagger-ui.css`);
      expect(css.status).toBe(200);
      await css.arrayBuffer();
    });
  });

  describe('GET /docs-json', () => {
    it('is an OpenAPI 3 document describing TokenHub', () => {
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe('TokenHub');
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/v1/chat/completions', '/admin/virtual-keys', '/admin/virtual-keys/{id}', '/admin/virtual-keys/{id}/revoke', '/admin/usage', '/health/live', '/health/ready']),
      );
    });

    it('declares a bearer security scheme, and the chat and admin operations require it', () => {
      const schemes = Object.entries(doc.components.securitySchemes as Record<string, Schema>);
      const bearer = schemes.find(([, s]) => s.type === 'http' && String(s.scheme).toLowerCase() === 'bearer');
      expect(bearer).toBeDefined();
      const [name, scheme] = bearer!;
      expect(scheme.bearerFormat).not.toBe('JWT'); // keys are opaque strings, not JWTs
      expect(doc.paths['/v1/chat/completions'].post.security).toEqual([{ [name]: [] }]);
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Schema>>)) {
        if (!path.startsWith('/admin')) continue;
        for (const op of Object.values(ops)) expect(op.security).toEqual([{ [name]: [] }]);
      }
    });

    describe('POST /v1/chat/completions', () => {
      let op: Schema;
      let body: Schema;
      beforeAll(() => {
        op = doc.paths['/v1/chat/completions'].post;
        expect(op).toBeDefined();
        body = resolve(op.requestBody.content['application/json'].schema);
      });

      it('has a required JSON request body whose schema lists every contract field', () => {
        expect(op.requestBody.required).toBe(true);
        expect(body.type).toBe('object');
        for (const field of CONTRACT_FIELDS) expect(Object.keys(body.properties)).toContain(field);
        expect([...body.required].sort()).toEqual(['messages', 'model']);
      });

      it('gives each field the contract\'s type, range and default', () => {
        const p = body.properties as Record<string, Schema>;
        expect(p.model.type).toBe('string');
        expect(p.messages.type).toBe('array');
        expect(resolve(p.messages.items).properties).toHaveProperty('role');
        expect(resolve(p.messages.items).properties).toHaveProperty('content');
        expect(p.fallbacks).toMatchObject({ type: 'array', items: { type: 'string' } });
        expect(p.stream).toMatchObject({ type: 'boolean', default: false });
        expect(p.temperature).toMatchObject({ type: 'number', minimum: -2, maximum: 2, default: 0.7 });
        expect(p.frequency_penalty).toMatchObject({ type: 'number', minimum: -2, maximum: 2, default: 0 });
        expect(p.presence_penalty).toMatchObject({ type: 'number', minimum: -2, maximum: 2, default: 0 });
        expect(p.max_tokens.type).toBe('integer');
        expect(p.max_completion_tokens.type).toBe('integer');
        expect(p.logit_bias.type).toBe('object');
        expect(p.logprobs).toMatchObject({ type: 'boolean', default: false });
        expect(p.metadata.type).toBe('object');
        expect(p.modalities).toMatchObject({ type: 'array', default: ['text'] });
        expect(p.parallel_tool_calls).toMatchObject({ type: 'boolean', default: true });
        expect(p.prompt_cache_key.type).toBe('string');
        expect(p.stop.oneOf).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'string' }), expect.objectContaining({ type: 'array' })]));
        expect(p.user.type).toBe('string');
      });

      it('carries the contract\'s example, and it is accepted as documented', async () => {
        const examples = Object.values(op.requestBody.content['application/json'].examples as Record<string, { value: unknown }>);
        expect(examples.map((e) => e.value)).toContainEqual(CONTRACT_EXAMPLE);
        // The example runs, unchanged, against this gateway.
        const { key } = await gw.createKey('docs');
        const res = await postChat(gw, key, CONTRACT_EXAMPLE);
        expect(res.status).toBe(200);
        expect(((await res.json()) as Schema).choices[0].message.content).toBe('echo: Hello, how are you?');
      });

      it('documents the 200 answer (JSON and SSE) and OpenAI-shaped 400 and 401 errors', () => {
        expect(Object.keys(op.responses['200'].content)).toEqual(expect.arrayContaining(['application/json', 'text/event-stream']));
        for (const status of ['400', '401']) {
          const error = resolve(op.responses[status].content['application/json'].schema);
          expect(error.required).toContain('error');
          const detail = resolve(error.properties.error);
          expect(Object.keys(detail.properties).sort()).toEqual(['code', 'message', 'param', 'type']);
        }
      });
    });

    it('lists the same contract fields as the contract document itself', () => {
      // Guards CONTRACT_FIELDS against drifting from the spec it was copied from.
      const spec = join(__dirname, '..', '..', '..', 'shared', 'spec', 'chat-completions.md');
      let text: string;
      try {
        text = readFileSync(spec, 'utf8');
      } catch {
        return; // the contract lives outside the repository; not every checkout has it
      }
      const section = text.slice(text.indexOf('## Request body'), text.indexOf('## Messages'));
      const fields = [...section.matchAll(/^\| (\w+) \|/gm)].map((m) => m[1]).filter((f) => f !== 'field');
      expect(fields.sort()).toEqual([...CONTRACT_FIELDS].sort());
    });
  });

  describe('health', () => {
    it('GET /health/live: 200 without a key', async () => {
      const res = await fetch(`${gw.url}/health/live`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    });

    it('GET /health/ready: 200 with the database up and the ledger accepting', async () => {
      const res = await fetch(`${gw.url}/health/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', database: 'up', ledger: { accepting: true } });
    });
  });
});
