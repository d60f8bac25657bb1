import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCatalog } from './model-catalog';

describe('ModelCatalog', () => {
  const catalog = new ModelCatalog();

  it('prices uncached, cached and completion tokens separately', () => {
    // gpt-4o: $2.50 in, $1.25 cached in, $10 out per million tokens.
    const cost = catalog.cost('openai', 'gpt-4o', { promptTokens: 1_000, cachedTokens: 400, completionTokens: 100, totalTokens: 1_100 });
    expect(cost).toBeCloseTo((600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6, 12);
  });

  it('reports an unknown price as null, never as zero', () => {
    expect(catalog.cost('openai', 'not-a-model', { promptTokens: 5, cachedTokens: 0, completionTokens: 5, totalTokens: 10 })).toBeNull();
  });

  it('prices a dated snapshot as its base model and resolves bare names to a provider', () => {
    expect(catalog.lookup('openai', 'gpt-4o-2024-08-06')).toBe(catalog.lookup('openai', 'gpt-4o'));
    expect(catalog.providerOf('gpt-4o')).toBe('openai');
    expect(catalog.providerOf('llama-3.3-70b-versatile')).toBe('groq');
  });

  it('knows which models reject a temperature', () => {
    expect(catalog.lookup('openai', 'o3-mini')?.temperature).toBe(false);
    expect(catalog.lookup('openai', 'gpt-4o')?.temperature).toBeUndefined();
  });
});

describe('ModelCatalog for the native providers', () => {
  const catalog = new ModelCatalog();
  const usage = { promptTokens: 1_000, cachedTokens: 600, cacheWriteTokens: 300, completionTokens: 50, totalTokens: 1_050 };

  it('prices Claude cache reads and 5-minute cache writes at their own rates', () => {
    // claude-opus-5-5: $4 in, $0.20 cache read, $5 cache write, $20 out.
    expect(catalog.cost('anthropic', 'claude-opus-5-5', usage)).toBeCloseTo((100 * 4 + 600 * 0.2 + 300 * 5 + 50 * 20) / 1e6, 12);
    expect(catalog.lookup('anthropic', 'claude-haiku-4-5-20251001')).toBe(catalog.lookup('anthropic', 'claude-haiku-4-5'));
  });

  it('resolves Vertex and Bedrock ids to the same prices as the Claude API', () => {
    const sonnet = catalog.cost('anthropic', 'claude-sonnet-4-5', usage);
    expect(sonnet).toBeCloseTo((100 * 3 + 600 * 0.3 + 300 * 3.75 + 50 * 15) / 1e6, 12);
    expect(catalog.cost('vertex', 'claude-sonnet-4-5@20250929', usage)).toBe(sonnet);
    expect(catalog.cost('bedrock', 'anthropic.claude-sonnet-4-5-20250929-v1:0', usage)).toBe(sonnet);
    expect(catalog.cost('bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', usage)).toBe(sonnet);
    expect(catalog.lookup('vertex', 'gemini-2.5-flash')?.input).toBe(catalog.lookup('gemini', 'gemini-2.5-flash')?.input);
    expect(catalog.lookup('bedrock', 'amazon.nova-pro-v1:0')?.output).toBe(3.2);
  });

  it('knows which Claude models reject a temperature, wherever they are served', () => {
    expect(catalog.lookup('anthropic', 'claude-sonnet-5')?.temperature).toBe(false);
    expect(catalog.lookup('vertex', 'claude-sonnet-5')?.temperature).toBe(false);
    expect(catalog.lookup('anthropic', 'claude-sonnet-4-5')?.temperature).toBeUndefined();
  });

  it('keeps every bundled price consistent: both sides priced, cache reads cheaper and writes dearer than input', () => {
    for (const id of catalog.ids()) {
      const slash = id.indexOf('/');
      const entry = catalog.lookup(id.slice(0, slash), id.slice(slash + 1))!;
      expect([id, entry.input === undefined]).toEqual([id, entry.output === undefined]);
      if (entry.cachedInput !== undefined) expect([id, entry.cachedInput <= entry.input!]).toEqual([id, true]);
      if (entry.cacheWriteInput !== undefined) expect([id, entry.cacheWriteInput >= entry.input!]).toEqual([id, true]);
    }
  });
});

describe('ModelCatalog overlay (MODEL_CATALOG_PATH)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
  const write = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds a model, overrides a price and prices an Azure deployment through its base', () => {
    const catalog = new ModelCatalog(
      write('overlay.json', {
        version: 'acme-1',
        models: {
          'mycorp/llama-70b': { contextWindow: 131072, input: 0.2, output: 0.4 },
          'anthropic/claude-sonnet-4-5': { input: 2.7 },
          'azure/prod-gpt4o': { base: 'openai/gpt-4o' },
          'azure/eu-gpt4o': { base: 'openai/gpt-4o', input: 2.75, output: 11 },
        },
      }),
    );
    expect(catalog.version).toBe('2026-11-01+acme-1');
    expect(catalog.cost('mycorp', 'llama-70b', { promptTokens: 1_000, cachedTokens: 0, completionTokens: 1_000, totalTokens: 2_000 })).toBeCloseTo(0.0006, 12);
    // The override changes one field and keeps the bundled rest; entries based on it follow.
    expect(catalog.lookup('anthropic', 'claude-sonnet-4-5')).toMatchObject({ input: 2.7, cachedInput: 0.3, output: 15 });
    expect(catalog.lookup('vertex', 'claude-sonnet-4-5@20250929')?.input).toBe(2.7);
    const gpt4o = { promptTokens: 1_000, cachedTokens: 400, completionTokens: 100, totalTokens: 1_100 };
    expect(catalog.cost('azure', 'prod-gpt4o', gpt4o)).toBe(catalog.cost('openai', 'gpt-4o', gpt4o));
    expect(catalog.lookup('azure', 'eu-gpt4o')).toMatchObject({ input: 2.75, cachedInput: 1.25, output: 11, contextWindow: 128000 });
    expect(catalog.cost('azure', 'unlisted-deployment', gpt4o)).toBeNull();
  });

  it('fails the boot with the file named when the overlay is wrong', () => {
    expect(() => new ModelCatalog(write('bad.json', '{ "models": '))).toThrow(/MODEL_CATALOG_PATH .*bad\.json/);
    expect(() => new ModelCatalog(write('neg.json', { models: { 'x/y': { input: -1 } } }))).toThrow(/'x\/y'\.input must be a non-negative number/);
    expect(() => new ModelCatalog(write('str.json', { models: { 'x/y': { output: '10' } } }))).toThrow(/'x\/y'\.output/);
    expect(() => new ModelCatalog(write('noprov.json', { models: { 'gpt-4o': { input: 1 } } }))).toThrow(/not 'provider\/model'/);
    expect(() => new ModelCatalog(write('base.json', { models: { 'azure/d': { base: 'openai/nope' } } }))).toThrow(/base 'openai\/nope'/);
    expect(() => new ModelCatalog(write('cycle.json', { models: { 'a/x': { base: 'b/x' }, 'b/x': { base: 'a/x' } } }))).toThrow(/cycle/);
  });
});
