import type { ProviderConfig } from '@tokenhub/config';
import { loadConfig } from '@tokenhub/config';
import { Readable } from 'node:stream';
import type { UpstreamHttpClient } from '../http/upstream-http-client';
import { AzureOpenAIProvider } from './azure-openai.provider';

const config = (over: Partial<ProviderConfig> = {}): ProviderConfig => ({
  name: 'azure',
  family: 'azure-openai',
  baseUrl: 'https://myres.openai.azure.com',
  credentials: [{ apiKey: 'az-key', weight: 1 }],
  maxRetries: 0,
  acceptsPromptCacheKey: false,
  headers: {},
  ...over,
});

function capture() {
  const posts: Array<{ url: string; headers: Record<string, string> }> = [];
  const http = {
    post: async (req: { url: string; headers: Record<string, string> }) => {
      posts.push(req);
      return { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{"choices":[],"usage":null}')]) };
    },
  } as unknown as UpstreamHttpClient;
  return { posts, http };
}

const call = (model: string) => ({ model, body: { model, messages: [] }, signal: new AbortController().signal });

describe('AzureOpenAIProvider', () => {
  it('posts to the deployment with the default api-version and the api-key header', async () => {
    const { posts, http } = capture();
    await new AzureOpenAIProvider(config(), http).complete(call('gpt-4o'));
    expect(posts[0].url).toBe('https://myres.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
    expect(posts[0].headers['api-key']).toBe('az-key');
    expect(posts[0].headers.authorization).toBeUndefined();
  });

  it('uses the configured api-version, tolerates a base URL ending in /openai, and sends an Entra ID token as a bearer', async () => {
    const { posts, http } = capture();
    await new AzureOpenAIProvider(config({ baseUrl: 'https://myres.openai.azure.com/openai', apiVersion: '2025-01-01-preview', bearerAuth: true }), http).complete(call('my deployment'));
    expect(posts[0].url).toBe('https://myres.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2025-01-01-preview');
    expect(posts[0].headers.authorization).toBe('Bearer az-key');
    expect(posts[0].headers['api-key']).toBeUndefined();
  });

  it('is configured from AZURE_* variables', () => {
    expect(() => loadConfig({ AZURE_API_KEY: 'k' })).toThrow(/AZURE_BASE_URL/);
    const withKey = loadConfig({ AZURE_API_KEY: 'k', AZURE_BASE_URL: 'https://r.openai.azure.com/', AZURE_API_VERSION: '2024-06-01' }).providers.find((p) => p.name === 'azure');
    expect(withKey).toMatchObject({ family: 'azure-openai', baseUrl: 'https://r.openai.azure.com', apiVersion: '2024-06-01', credentials: [{ apiKey: 'k' }] });
    expect(withKey?.bearerAuth).toBeUndefined();
    const withToken = loadConfig({ AZURE_AD_TOKEN: 't', AZURE_BASE_URL: 'https://r.openai.azure.com' }).providers.find((p) => p.name === 'azure');
    expect(withToken).toMatchObject({ bearerAuth: true, credentials: [{ apiKey: 't' }] });
  });
});
