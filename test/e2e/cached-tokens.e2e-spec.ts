import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCatalog } from '@tokenhub/providers';
import OpenAI from 'openai';
import { FakeAzureOpenAI } from '../fakes/fake-azure';
import { FakeOpenAI } from '../fakes/fake-openai';
import { Gateway, startGateway } from './harness';

jest.setTimeout(30_000);

/** Azure deployments have no bundled price: the spec's catalog overlay gives them one. */
const AZURE_PRICES = {
  'azure/o4-mini': { input: 1.21, cachedInput: 0.3025, output: 4.84, temperature: false },
  'azure/gpt-4o-mini': { input: 0.165, cachedInput: 0.083, output: 0.66 },
};
/** Long enough (over 1024 tokens) for the fakes to report part of it as read from the prompt cache. */
const PREAMBLE = `You are the support assistant of a large shop. ${'Policy: answer politely and cite the order number. '.repeat(90)}`;

/**
 * OpenAI's wire format, passed through by the `openai` and `azure` providers: the upstream's
 * `prompt_tokens_details.cached_tokens` (and `completion_tokens_details.reasoning_tokens`)
 * reach the caller untouched, and the usage record keeps the cached tokens and prices them at
 * the catalog's cached-input price. The fakes report cached tokens for a prompt of 1024 tokens or
 * more, and 16 reasoning tokens from a reasoning model.
 */
describe('cached-token accounting for OpenAI-format providers', () => {
  let openai: FakeOpenAI;
  let azure: FakeAzureOpenAI;
  let gw: Gateway;
  let client: OpenAI;
  let dir: string;

  beforeAll(async () => {
    openai = new FakeOpenAI();
    azure = new FakeAzureOpenAI(new Set(['o4-mini', 'gpt-4o-mini']));
    const [openaiBase, azureBase] = await Promise.all([openai.start(), azure.start()]);
    dir = mkdtempSync(join(tmpdir(), 'tokenhub-cached-'));
    const catalog = join(dir, 'catalog.json');
    writeFileSync(catalog, JSON.stringify({ version: 'cached-spec', models: AZURE_PRICES }));
    gw = await startGateway({
      MODEL_CATALOG_PATH: catalog,
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: openaiBase,
      AZURE_API_KEY: 'az-upstream',
      AZURE_BASE_URL: azureBase,
    });
    client = new OpenAI({ apiKey: (await gw.createKey('cached-spec')).key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await openai?.stop();
    await azure?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The bundled catalog's price of an OpenAI model (which has a cached-input price below its input price). */
  const bundledPrice = (model: string) => () => {
    const entry = new ModelCatalog().lookup('openai', model);
    expect(entry?.cachedInput).toBeLessThan(entry!.input!);
    return entry as { input: number; cachedInput: number; output: number };
  };

  describe.each([
    { provider: 'openai', model: 'openai/o4-mini', price: bundledPrice('o4-mini'), plain: 'openai/gpt-4o-mini', plainPrice: bundledPrice('gpt-4o-mini') },
    { provider: 'azure', model: 'azure/o4-mini', price: () => AZURE_PRICES['azure/o4-mini'], plain: 'azure/gpt-4o-mini', plainPrice: () => AZURE_PRICES['azure/gpt-4o-mini'] },
  ])('the $provider provider', ({ provider, model, price, plain, plainPrice }) => {
    const params = (content: string) => ({
      model,
      messages: [{ role: 'system' as const, content: PREAMBLE }, { role: 'user' as const, content }],
    });

    async function expectRecord(requestId: string | null, usage: OpenAI.CompletionUsage, stream: boolean) {
      const cached = usage.prompt_tokens_details!.cached_tokens!;
      expect(cached).toBeGreaterThan(0);
      expect(usage.completion_tokens_details?.reasoning_tokens).toBe(16);
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
      expect(record).toMatchObject({
        served_provider: provider,
        served_model: 'o4-mini',
        stream,
        status_code: 200,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cached_tokens: cached,
        total_tokens: usage.total_tokens,
      });
      const p = price();
      const expected = ((usage.prompt_tokens - cached) * p.input + cached * p.cachedInput + usage.completion_tokens * p.output) / 1e6;
      expect(Number(record.cost_usd)).toBeCloseTo(expected, 10);
      expect(Number(record.cost_usd)).toBeLessThan((usage.prompt_tokens * p.input + usage.completion_tokens * p.output) / 1e6);
    }

    it('records the cached tokens of a plain chat and prices them at the cached-input price', async () => {
      const { data, response } = await client.chat.completions.create(params('Hello from the cache')).withResponse();
      expect(response.headers.get('x-tokenhub-provider')).toBe(provider);
      expect(data.choices[0].message.content).toBe('echo: Hello from the cache');
      await expectRecord(response.headers.get('x-request-id'), data.usage!, false);
    });

    it('records the cached tokens of a streamed chat from its usage chunk', async () => {
      const { data: stream, response } = await client.chat.completions
        .create({ ...params('Stream from the cache'), stream: true, stream_options: { include_usage: true } })
        .withResponse();
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream from the cache');
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      await expectRecord(response.headers.get('x-request-id'), last.usage!, true);
    });

    it('records no cached tokens when the upstream reports none', async () => {
      const { data, response } = await client.chat.completions.create({ model: plain, messages: [{ role: 'user', content: 'No cache here' }] }).withResponse();
      expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [response.headers.get('x-request-id')]);
      expect(record).toMatchObject({ served_provider: provider, cached_tokens: 0 });
      const p = plainPrice();
      expect(Number(record.cost_usd)).toBeCloseTo((data.usage!.prompt_tokens * p.input + data.usage!.completion_tokens * p.output) / 1e6, 10);
    });
  });
});
