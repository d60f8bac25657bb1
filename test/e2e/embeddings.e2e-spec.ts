import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { FakeAnthropic } from '../fakes/fake-anthropic';
import { FakeAzureOpenAI } from '../fakes/fake-azure';
import { FAKE_AWS, FakeBedrock } from '../fakes/fake-bedrock';
import { FakeCohere } from '../fakes/fake-cohere';
import { FakeGemini } from '../fakes/fake-gemini';
import { bagOfWordsEmbedding, FakeOpenAI } from '../fakes/fake-openai';
import { FakeVertex, startFakeVertex } from '../fakes/fake-vertex';
import { EmbeddingsService } from '../../apps/gateway/src/embeddings/embeddings.service';
import { UpstreamError } from '@tokenhub/providers';
import { createBudget, setLimits } from './governance-helpers';
import { expectOpenAIError, Gateway, startGateway } from './harness';

jest.setTimeout(60_000);

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));
const fromBase64 = (s: string) => {
  const bytes = Buffer.from(s, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
};

describe('POST /v1/embeddings', () => {
  let openai: FakeOpenAI;
  let azure: FakeAzureOpenAI;
  let anthropic: FakeAnthropic;
  let gemini: FakeGemini;
  let cohere: FakeCohere;
  let bedrock: FakeBedrock;
  let gw: Gateway;
  let key: string;
  let keyId: string;
  let client: OpenAI;

  beforeAll(async () => {
    openai = new FakeOpenAI();
    azure = new FakeAzureOpenAI(new Set(['text-embedding-3-small']));
    anthropic = new FakeAnthropic();
    gemini = new FakeGemini();
    cohere = new FakeCohere();
    bedrock = new FakeBedrock();
    const [openaiBase, azureBase, anthropicBase, geminiBase, cohereBase, bedrockBase] = await Promise.all([
      openai.start(),
      azure.start(),
      anthropic.start(),
      gemini.start(),
      cohere.start(),
      bedrock.start(),
    ]);
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: openaiBase,
      AZURE_API_KEY: 'az-upstream',
      AZURE_BASE_URL: azureBase,
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
      ANTHROPIC_BASE_URL: anthropicBase,
      GEMINI_API_KEY: 'gm-upstream',
      GEMINI_BASE_URL: geminiBase,
      COHERE_API_KEY: 'co-upstream',
      COHERE_BASE_URL: cohereBase,
      AWS_ACCESS_KEY_ID: FAKE_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS.secretAccessKey,
      AWS_REGION: FAKE_AWS.region,
      BEDROCK_BASE_URL: bedrockBase,
    });
    ({ key, id: keyId } = await gw.createKey('embeddings-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([openai?.stop(), azure?.stop(), anthropic?.stop(), gemini?.stop(), cohere?.stop(), bedrock?.stop()]);
  });

  describe('OpenAI', () => {
    it('embeds several texts as floats, in order, with usage, through the official SDK', async () => {
      const { data, response } = await client.embeddings
        .create({ model: 'openai/text-embedding-3-small', input: ['How do I reset my password?', 'What is the capital of France?'], encoding_format: 'float' })
        .withResponse();
      expect(response.headers.get('x-tokenhub-provider')).toBe('openai');
      expect(data.object).toBe('list');
      expect(data.model).toBe('text-embedding-3-small');
      expect(data.data.map((d) => [d.object, d.index])).toEqual([['embedding', 0], ['embedding', 1]]);
      expect(data.data[0].embedding).toHaveLength(1536);
      expect(data.data[0].embedding[0]).toBeCloseTo(bagOfWordsEmbedding('How do I reset my password?', 1536)[0], 6);
      expect(data.usage.prompt_tokens).toBeGreaterThan(0);
      expect(data.usage.total_tokens).toBe(data.usage.prompt_tokens);
      expect(openai.embeddingRequests[openai.embeddingRequests.length - 1]).toEqual({
        model: 'text-embedding-3-small',
        input: ['How do I reset my password?', 'What is the capital of France?'],
        encoding_format: 'float',
      });
    });

    it('answers base64 (little-endian float32) when asked, as the SDK decodes by default', async () => {
      // The SDK asks for base64 unless told otherwise, and decodes it to numbers.
      const decoded = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world' });
      const raw = (await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world', encoding_format: 'base64' })) as unknown as {
        data: Array<{ embedding: string }>;
      };
      expect(typeof raw.data[0].embedding).toBe('string');
      const floats = fromBase64(raw.data[0].embedding);
      expect(floats).toHaveLength(1536);
      expect(decoded.data[0].embedding).toHaveLength(1536);
      for (let i = 0; i < 1536; i += 97) expect(decoded.data[0].embedding[i]).toBeCloseTo(floats[i], 6);
      expect(floats[5]).toBeCloseTo(bagOfWordsEmbedding('hello world', 1536)[5], 6);
    });

    it('passes dimensions and user; paraphrases are close and different questions far', async () => {
      const res = await client.embeddings.create({
        model: 'openai/text-embedding-3-small',
        input: ['How do I reset my password?', 'How can I reset my password?', 'What is the weather in Paris today?'],
        dimensions: 64,
        user: 'user-42',
        encoding_format: 'float',
      });
      expect(openai.embeddingRequests[openai.embeddingRequests.length - 1]).toMatchObject({ dimensions: 64, user: 'user-42' });
      const [a, b, c] = res.data.map((d) => d.embedding);
      expect(a).toHaveLength(64);
      expect(cosine(a, b)).toBeGreaterThan(0.7);
      expect(cosine(a, c)).toBeLessThan(0.4);
    });

    it('accepts token-id arrays for OpenAI', async () => {
      const res = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: [[1, 2, 3], [4, 5]], encoding_format: 'float' });
      expect(res.data).toHaveLength(2);
      expect(openai.embeddingRequests[openai.embeddingRequests.length - 1].input).toEqual([[1, 2, 3], [4, 5]]);
    });

    it("passes the provider's refusal through, OpenAI-shaped", async () => {
      const res = await post({ model: 'openai/text-embedding-ada-002', input: 'x', dimensions: 8 });
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).message).toMatch(/does not support specifying dimensions/);
      const missing = await post({ model: 'openai/no-such-embedder', input: 'x' });
      expect(missing.status).toBe(404);
    });
  });

  it('Azure OpenAI: the deployment /embeddings with api-version and api-key', async () => {
    const res = await client.embeddings.create({ model: 'azure/text-embedding-3-small', input: ['hello'], encoding_format: 'float' });
    expect(res.data[0].embedding.length).toBeGreaterThan(0);
    const sent = azure.requests[azure.requests.length - 1];
    expect(sent.path).toBe('/openai/deployments/text-embedding-3-small/embeddings');
    expect(sent.apiVersion).toBe('2024-10-21');
    expect(sent.headers['api-key']).toBe('az-upstream');
  });

  describe('Gemini', () => {
    it('batchEmbedContents: one request per text, outputDimensionality from dimensions, base64 too', async () => {
      const res = await client.embeddings.create({ model: 'gemini/gemini-embedding-001', input: ['first text', 'second text'], dimensions: 128, encoding_format: 'float' });
      expect(res.model).toBe('gemini-embedding-001');
      expect(res.data.map((d) => d.embedding.length)).toEqual([128, 128]);
      expect(res.data[1].embedding[3]).toBeCloseTo(bagOfWordsEmbedding('second text', 128)[3], 6);
      const sent = gemini.embeddingRequests[gemini.embeddingRequests.length - 1];
      expect(sent.model).toBe('gemini-embedding-001');
      expect(sent.body.requests[0]).toEqual({ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'first text' }] }, outputDimensionality: 128 });
      // The Gemini API reports no token counts for embeddings.
      expect(res.usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
      const b64 = (await client.embeddings.create({ model: 'gemini-embedding-001', input: 'bare name', encoding_format: 'base64' })) as unknown as { data: Array<{ embedding: string }> };
      expect(fromBase64(b64.data[0].embedding)).toHaveLength(3072);
    });

    it('refuses token arrays with a 400 naming the provider, and passes Gemini refusals through', async () => {
      const tokens = await post({ model: 'gemini/gemini-embedding-001', input: [1, 2, 3] });
      expect(tokens.status).toBe(400);
      expect(expectOpenAIError(await tokens.json())).toMatchObject({ param: 'input', message: expect.stringMatching(/gemini/) });
      const tooWide = await post({ model: 'gemini/gemini-embedding-001', input: 'x', dimensions: 5000 });
      expect(tooWide.status).toBe(400);
      expect(expectOpenAIError(await tooWide.json()).message).toMatch(/between 1 and 3072/);
    });
  });

  describe('Cohere', () => {
    it('v2 /embed with input_type search_query and float embedding types; usage from billed units; more than 96 texts split', async () => {
      const res = await client.embeddings.create({ model: 'cohere/embed-v4.0', input: ['hello there', 'general kenobi'], dimensions: 256, encoding_format: 'float' });
      expect(res.data.map((d) => d.embedding.length)).toEqual([256, 256]);
      expect(cohere.embeddingRequests[cohere.embeddingRequests.length - 1]).toEqual({
        model: 'embed-v4.0',
        texts: ['hello there', 'general kenobi'],
        input_type: 'search_query',
        embedding_types: ['float'],
        output_dimension: 256,
      });
      expect(res.usage.prompt_tokens).toBe(3 + 4);
      const before = cohere.embeddingRequests.length;
      const many = Array.from({ length: 100 }, (_, i) => `text number ${i}`);
      const big = await client.embeddings.create({ model: 'cohere/embed-english-v3.0', input: many, encoding_format: 'float' });
      expect(big.data).toHaveLength(100);
      expect(big.data[99].embedding[0]).toBeCloseTo(bagOfWordsEmbedding('text number 99', 1024)[0], 6);
      expect(cohere.embeddingRequests.slice(before).map((b) => (b.texts as string[]).length).sort()).toEqual([4, 96]);
    });
  });

  describe('Bedrock', () => {
    it('Titan Text Embeddings V2: one signed InvokeModel per text, dimensions, token counts added up', async () => {
      const before = bedrock.embeddingRequests.length;
      const res = await client.embeddings.create({ model: 'bedrock/amazon.titan-embed-text-v2:0', input: ['alpha beta', 'gamma delta epsilon'], dimensions: 256, encoding_format: 'float' });
      expect(res.data.map((d) => d.embedding.length)).toEqual([256, 256]);
      expect(res.data[1].embedding[7]).toBeCloseTo(bagOfWordsEmbedding('gamma delta epsilon', 256)[7], 6);
      const sent = bedrock.embeddingRequests.slice(before);
      expect(sent.map((r) => r.body).sort((a, b) => a.inputText.localeCompare(b.inputText))).toEqual([
        { inputText: 'alpha beta', dimensions: 256, normalize: true },
        { inputText: 'gamma delta epsilon', dimensions: 256, normalize: true },
      ]);
      expect(res.usage.prompt_tokens).toBe(3 + 5);
    });

    it('Cohere Embed on Bedrock: texts in one call, tokens from the response header', async () => {
      const res = await client.embeddings.create({ model: 'bedrock/cohere.embed-english-v3', input: ['one', 'two'], encoding_format: 'float' });
      expect(res.data.map((d) => d.embedding.length)).toEqual([1024, 1024]);
      expect(bedrock.embeddingRequests[bedrock.embeddingRequests.length - 1].body).toEqual({ texts: ['one', 'two'], input_type: 'search_query', embedding_types: ['float'] });
      expect(res.usage.prompt_tokens).toBe(2);
    });

    it('other Bedrock models are a 400', async () => {
      const res = await post({ model: 'bedrock/anthropic.claude-3-haiku-20240307-v1:0', input: 'x' });
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).code).toBe('embeddings_not_supported');
    });
  });

  it('Anthropic has no embeddings API: a 400 naming the provider', async () => {
    const err = await client.embeddings.create({ model: 'anthropic/claude-sonnet-4-5', input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const body = (err as InstanceType<typeof OpenAI.BadRequestError>).error as { message: string; code: string; param: string };
    expect(body.message).toMatch(/anthropic/);
    expect(body.code).toBe('embeddings_not_supported');
    expect(body.param).toBe('model');
  });

  it('validates the request: 400s naming the field', async () => {
    for (const [body, param] of [
      [{ model: 'openai/text-embedding-3-small' }, 'input'],
      [{ model: 'openai/text-embedding-3-small', input: '' }, 'input'],
      [{ model: 'openai/text-embedding-3-small', input: [] }, 'input'],
      [{ model: 'openai/text-embedding-3-small', input: ['a', 3] }, 'input'],
      [{ model: 'openai/text-embedding-3-small', input: 'a', encoding_format: 'int8' }, 'encoding_format'],
      [{ model: 'openai/text-embedding-3-small', input: 'a', dimensions: 0 }, 'dimensions'],
      [{ input: 'a' }, 'model'],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).param).toBe(param);
    }
    const noKey = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expectOpenAIError(await noKey.json());
  });

  it('writes one usage record per request, with tokens and cost', async () => {
    const { response } = await client.embeddings.create({ model: 'openai/text-embedding-3-large', input: 'price me', encoding_format: 'float' }).withResponse();
    const requestId = response.headers.get('x-request-id');
    const [row] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    expect(row).toMatchObject({ endpoint: '/v1/embeddings', served_provider: 'openai', served_model: 'text-embedding-3-large', status_code: 200, stream: false });
    expect(Number(row.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(row.completion_tokens)).toBe(0);
    expect(Number(row.cost_usd)).toBeCloseTo((Number(row.prompt_tokens) * 0.13) / 1e6, 12);
    const refused = await post({ model: 'anthropic/claude-sonnet-4-5', input: 'x' });
    const [failed] = await gw.waitForUsage(1, 'request_id = $1', [refused.headers.get('x-request-id')]);
    expect(failed).toMatchObject({ endpoint: '/v1/embeddings', status_code: 400, error_code: 'embeddings_not_supported' });
  });

  it("enforces the key's allowed models", async () => {
    const limited = await gw.createKey('embeddings-limited');
    await setLimits(gw.query, 'virtual_keys', limited.id, { allowedModels: ['openai/text-embedding-3-small'] });
    const ok = await post({ model: 'openai/text-embedding-3-small', input: 'fine' }, limited.key);
    expect(ok.status).toBe(200);
    const refused = await post({ model: 'openai/text-embedding-3-large', input: 'not fine' }, limited.key);
    expect(refused.status).toBe(403);
    expect(expectOpenAIError(await refused.json()).code).toBe('model_not_allowed');
  });

  it('settles the actual cost against budgets, refuses a spent budget (402) and counts requests against rate limits (429)', async () => {
    const budgeted = await gw.createKey('embeddings-budget');
    const budgetId = await createBudget(gw.query, 'key', budgeted.id, 'daily', 1);
    const ok = await post({ model: 'openai/text-embedding-3-small', input: 'count my cost please' }, budgeted.key);
    expect(ok.status).toBe(200);
    const [row] = await gw.waitForUsage(1, 'request_id = $1', [ok.headers.get('x-request-id')]);
    const cost = Number(row.cost_usd);
    expect(cost).toBeGreaterThan(0);
    const deadline = Date.now() + 5_000;
    let spent = 0;
    while (Date.now() < deadline) {
      const rows = await gw.query<{ spent: string; reserved: string }>(`SELECT coalesce(sum(spent_usd), 0) AS spent, coalesce(sum(reserved_usd), 0) AS reserved FROM budget_windows WHERE budget_id = $1`, [budgetId]);
      spent = Number(rows[0].spent);
      if (Math.abs(spent - cost) < 1e-9 && Number(rows[0].reserved) === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(spent).toBeCloseTo(cost, 9);
    await gw.query(`UPDATE budget_windows SET spent_usd = 1 WHERE budget_id = $1`, [budgetId]);
    const refused = await post({ model: 'openai/text-embedding-3-small', input: 'no money left' }, budgeted.key);
    expect(refused.status).toBe(402);
    expect(expectOpenAIError(await refused.json()).code).toBe('budget_exceeded');

    const limited = await gw.createKey('embeddings-rpm');
    await setLimits(gw.query, 'virtual_keys', limited.id, { requestsPerDay: 1 });
    expect((await post({ model: 'openai/text-embedding-3-small', input: 'first' }, limited.key)).status).toBe(200);
    const second = await post({ model: 'openai/text-embedding-3-small', input: 'second' }, limited.key);
    expect(second.status).toBe(429);
    expect(expectOpenAIError(await second.json()).code).toBe('rate_limit_exceeded');
  });

  it('embedForGateway: the same call for TokenHub itself, priced, with no usage record and no governance', async () => {
    const service = gw.app.get(EmbeddingsService);
    // Earlier tests' records are flushed every 50 ms.
    await new Promise((r) => setTimeout(r, 300));
    const before = await gw.query<{ n: string }>(`SELECT count(*) AS n FROM usage_records`);
    const outcome = await service.embedForGateway('openai/text-embedding-3-small', ['What is the capital of France?', 'Tell me the capital of France']);
    expect(outcome).toMatchObject({ provider: 'openai', model: 'text-embedding-3-small' });
    expect(outcome.vectors).toHaveLength(2);
    expect(cosine(outcome.vectors[0], outcome.vectors[1])).toBeGreaterThan(0.5);
    expect(outcome.usage!.promptTokens).toBeGreaterThan(0);
    expect(outcome.costUsd).toBeCloseTo((outcome.usage!.promptTokens * 0.02) / 1e6, 12);
    await expect(service.embedForGateway('anthropic/claude-sonnet-4-5', ['x'])).rejects.toMatchObject({ status: 400, code: 'embeddings_not_supported' });
    await expect(service.embedForGateway('openai/error-503', ['x'])).rejects.toBeInstanceOf(UpstreamError);
    await new Promise((r) => setTimeout(r, 300));
    const after = await gw.query<{ n: string }>(`SELECT count(*) AS n FROM usage_records`);
    expect(after[0].n).toBe(before[0].n);
  });

  it('answers malformed JSON and a wrong content type OpenAI-shaped', async () => {
    const bad = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: '{"model": ' });
    expect(bad.status).toBe(400);
    expectOpenAIError(await bad.json());
    const text = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` }, body: 'hello' });
    expect(text.status).toBe(415);
    expectOpenAIError(await text.json());
  });

  function post(body: unknown, bearer = key): Promise<Response> {
    void keyId;
    return fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
  }
});

describe('POST /v1/embeddings on Vertex AI', () => {
  const PROJECT = 'tokenhub-test';
  const LOCATION = 'europe-west4';
  let vertex: FakeVertex;
  let gw: Gateway;
  let client: OpenAI;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokenhub-vertex-embed-'));
    let env: Record<string, string>;
    ({ vertex, env } = await startFakeVertex({ project: PROJECT, location: LOCATION, keyId: 'kid-embed-1', dir }));
    gw = await startGateway(env);
    const { key } = await gw.createKey('vertex-embeddings');
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await vertex?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gemini-embedding-001: one :predict instance per request, token counts added up, priced', async () => {
    const before = vertex.requests.length;
    const { data, response } = await client.embeddings
      .create({ model: 'vertex/gemini-embedding-001', input: ['one two', 'three four five', 'six'], dimensions: 32, encoding_format: 'float' })
      .withResponse();
    expect(data.data.map((d) => d.embedding.length)).toEqual([32, 32, 32]);
    expect(data.data[1].embedding[2]).toBeCloseTo(bagOfWordsEmbedding('three four five', 32)[2], 6);
    const sent = vertex.requests.slice(before);
    expect(sent).toHaveLength(3);
    for (const r of sent) {
      expect(r).toMatchObject({ publisher: 'google', model: 'gemini-embedding-001', method: 'predict' });
      expect(r.body.instances).toHaveLength(1);
      expect(r.body.parameters).toEqual({ outputDimensionality: 32 });
      expect(r.headers.authorization).toMatch(/^Bearer ya29\.fake-/);
    }
    expect(data.usage.prompt_tokens).toBe(2 + 4 + 1);
    const [row] = await gw.waitForUsage(1, 'request_id = $1', [response.headers.get('x-request-id')]);
    expect(row).toMatchObject({ endpoint: '/v1/embeddings', served_provider: 'vertex', served_model: 'gemini-embedding-001', status_code: 200 });
    expect(Number(row.cost_usd)).toBeCloseTo((7 * 0.15) / 1e6, 12);
  });

  it('text-embedding-005: several instances a request', async () => {
    const before = vertex.requests.length;
    const res = await client.embeddings.create({ model: 'vertex/text-embedding-005', input: ['a b', 'c d'], encoding_format: 'float' });
    expect(res.data.map((d) => d.embedding.length)).toEqual([768, 768]);
    expect(vertex.requests.slice(before).map((r) => r.body.instances.length)).toEqual([2]);
  });

  it('Claude on Vertex has no embeddings: a 400', async () => {
    const err = await client.embeddings.create({ model: 'vertex/claude-sonnet-4-5', input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(((err as InstanceType<typeof OpenAI.BadRequestError>).error as { message: string }).message).toMatch(/Vertex AI/);
  });
});
