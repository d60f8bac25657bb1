import type { ProviderConfig } from '@tokenhub/config';
import { loadConfig } from '@tokenhub/config';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamHttpClient } from '../http/upstream-http-client';
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

/** A local server standing in for Azure: records what it is sent, answers an empty completion. */
function capture() {
  const posts: Array<{ url: string; headers: Record<string, string | string[] | undefined> }> = [];
  const server = createServer((req, res) => {
    posts.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices":[],"usage":null}');
    });
  });
  const http = new UpstreamHttpClient({ connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, responseMs: 5_000, maxResponseBytes: 1_000_000 });
  const origin = new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  const close = async () => {
    await http.close();
    await new Promise((r) => server.close(r));
  };
  return { posts, http, origin, close };
}

const call = (model: string) => ({ model, body: { model, messages: [] }, signal: new AbortController().signal });

describe('AzureOpenAIProvider', () => {
  it('posts to the deployment with the default api-version and the api-key header', async () => {
    const { posts, http, origin, close } = capture();
    try {
      await new AzureOpenAIProvider(config({ baseUrl: await origin }), http).complete(call('gpt-4o'));
      expect(posts[0].url).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21');
      expect(posts[0].headers['api-key']).toBe('az-key');
      expect(posts[0].headers.authorization).toBeUndefined();
    } finally {
      await close();
    }
  });

  it('uses the configured api-version, tolerates a base URL ending in /openai, and sends an Entra ID token as a bearer', async () => {
    const { posts, http, origin, close } = capture();
    try {
      await new AzureOpenAIProvider(config({ baseUrl: `${await origin}/openai`, apiVersion: '2025-01-01-preview', bearerAuth: true }), http).complete(call('my deployment'));
      expect(posts[0].url).toBe('/openai/deployments/my%20deployment/chat/completions?api-version=2025-01-01-preview');
      expect(posts[0].headers.authorization).toBe('Bearer az-key');
      expect(posts[0].headers['api-key']).toBeUndefined();
    } finally {
      await close();
    }
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
