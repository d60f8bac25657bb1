import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.migrationsRun).toBe(true);
    expect(config.providers).toEqual([]);
  });

  it('enables a known provider by its key, with its published base URL', () => {
    const [openai] = loadConfig({ OPENAI_API_KEY: 'sk-1' }).providers;
    expect(openai).toMatchObject({ name: 'openai', baseUrl: 'https://api.openai.com/v1', credentials: [{ apiKey: 'sk-1', weight: 1 }] });
  });

  it('enables a keyless self-hosted server by its base URL, and named custom providers', () => {
    const providers = loadConfig({
      VLLM_BASE_URL: 'http://10.0.0.5:8000/v1/',
      TOKENHUB_CUSTOM_PROVIDERS: 'my-llm',
      MY_LLM_BASE_URL: 'http://llm.internal/v1',
      MY_LLM_API_KEY: 'k',
    }).providers;
    expect(providers.map((p) => [p.name, p.baseUrl])).toEqual([
      ['vllm', 'http://10.0.0.5:8000/v1'],
      ['my-llm', 'http://llm.internal/v1'],
    ]);
    expect(providers[0].credentials).toEqual([{ weight: 1 }]);
  });

  it('reads several weighted keys per provider from the config file, secrets through env:', () => {
    const dir = mkdtempSync(join(tmpdir(), 'th-config-'));
    const file = join(dir, 'tokenhub.json');
    writeFileSync(file, JSON.stringify({ providers: { openai: { keys: [{ apiKey: 'env:KEY_A', weight: 3 }, { apiKey: 'sk-b' }], maxRetries: 0 } } }));
    const [openai] = loadConfig({ TOKENHUB_CONFIG_FILE: file, KEY_A: 'sk-a' }).providers;
    expect(openai.credentials).toEqual([{ apiKey: 'sk-a', weight: 3 }, { apiKey: 'sk-b', weight: 1 }]);
    expect(openai.maxRetries).toBe(0);
  });

  it('fails with a message naming each bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', TOKENHUB_ADMIN_KEY: 'short' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', TOKENHUB_ADMIN_KEY: 'short' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/TOKENHUB_ADMIN_KEY/);
    }
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ TOKENHUB_ENCRYPTION_KEY: '', PORT: '', REDIS_URL: '' })).toMatchObject({ port: 8080, encryptionKey: undefined, redisUrl: undefined });
  });

  it('refuses a default provider that is not configured', () => {
    expect(() => loadConfig({ TOKENHUB_DEFAULT_PROVIDER: 'groq' })).toThrow(/not a configured provider/);
  });
});
