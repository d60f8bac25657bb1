import { loadConfig } from '@tokenhub/config';
import { ModelCatalog } from './catalog/model-catalog';
import { UpstreamHttpClient } from './http/upstream-http-client';
import { ProviderRegistry } from './provider-registry';

describe('ProviderRegistry.resolve', () => {
  const build = (env: NodeJS.ProcessEnv) => {
    const config = loadConfig(env);
    return new ProviderRegistry(config, new ModelCatalog(), new UpstreamHttpClient(config.timeouts));
  };
  const registry = build({ OPENAI_API_KEY: 'a', GROQ_API_KEY: 'b', VLLM_BASE_URL: 'http://127.0.0.1:9/v1' });

  it('routes provider/model to the provider, keeping slashes in the model name', () => {
    expect(registry.resolve('openai/gpt-4o')).toMatchObject({ providerName: 'openai', model: 'gpt-4o' });
    expect(registry.resolve('vllm/meta-llama/Llama-3.1-8B')).toMatchObject({ providerName: 'vllm', model: 'meta-llama/Llama-3.1-8B' });
  });

  it('resolves a bare catalog name to its provider', () => {
    expect(registry.resolve('gpt-4o')).toMatchObject({ providerName: 'openai', model: 'gpt-4o' });
    expect(registry.resolve('llama-3.3-70b-versatile')).toMatchObject({ providerName: 'groq' });
  });

  it('says what would work for an unknown or unconfigured name', () => {
    expect(() => registry.resolve('mistral/mistral-large-latest')).toThrow(/not configured.*openai, groq, vllm/);
    expect(() => registry.resolve('mystery-model')).toThrow(/Unknown model 'mystery-model'.*openai, groq, vllm/);
    try {
      registry.resolve('mystery-model', 'fallbacks[1]');
    } catch (err) {
      expect((err as { param: string }).param).toBe('fallbacks[1]');
      expect((err as { status: number }).status).toBe(400);
    }
  });

  it('sends bare unknown names to the default provider when one is set', () => {
    const withDefault = build({ VLLM_BASE_URL: 'http://127.0.0.1:9/v1', TOKENHUB_DEFAULT_PROVIDER: 'vllm' });
    expect(withDefault.resolve('qwen2.5-7b')).toMatchObject({ providerName: 'vllm', model: 'qwen2.5-7b' });
  });
});

describe('ProviderRegistry stored credentials', () => {
  const config = loadConfig({ OPENAI_API_KEY: 'sk-env-1234567890', TOKENHUB_CUSTOM_PROVIDERS: 'mycorp', MYCORP_BASE_URL: 'http://127.0.0.1:9/v1' });
  const registry = new ProviderRegistry(config, new ModelCatalog(), new UpstreamHttpClient(config.timeouts));
  const row = (id: string, provider: string) => ({
    id,
    provider,
    name: id,
    apiKey: `sk-${id}-secret`,
    hint: 'cret',
    weight: 1,
    allowedModels: null,
    enabled: true,
    disabledReason: null,
    updatedAt: new Date(),
  });

  it('adds stored keys to configured providers, enables known ones, and reports the rest', () => {
    expect(registry.acceptsCredentialsFor('mycorp')).toBe(true);
    expect(registry.acceptsCredentialsFor('groq')).toBe(true);
    expect(registry.acceptsCredentialsFor('vllm')).toBe(false);
    expect(() => registry.resolve('groq/llama-3.3-70b-versatile')).toThrow(/not configured/);
    const { unusable } = registry.setStoredCredentials([row('a', 'openai'), row('b', 'groq'), row('c', 'vllm')]);
    expect(unusable).toEqual(['vllm']);
    expect(registry.resolve('groq/llama-3.3-70b-versatile')).toMatchObject({ providerName: 'groq' });
    expect(registry.credentialStates().map((s) => `${s.source}:${s.id}`).sort()).toEqual(['database:a', 'database:b', 'env:env:openai:1']);
    expect(JSON.stringify(registry.credentialStates())).not.toContain('secret');
    registry.setStoredCredentials([]);
    expect(() => registry.resolve('groq/llama-3.3-70b-versatile')).toThrow(/not configured/);
    expect(registry.credentialStates().map((s) => s.id)).toEqual(['env:openai:1']);
  });
});
