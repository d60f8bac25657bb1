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
