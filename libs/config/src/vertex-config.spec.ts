import { ConfigError, loadConfig } from './load-config';

describe('Vertex AI configuration', () => {
  const vertexOf = (env: Record<string, string>) => loadConfig(env).providers.find((p) => p.name === 'vertex');

  it('is off without VERTEX_* variables', () => {
    expect(vertexOf({})).toBeUndefined();
  });

  it('builds the regional base URL, defaulting to us-central1', () => {
    expect(vertexOf({ VERTEX_PROJECT: 'p', VERTEX_ACCESS_TOKEN: 't' })).toMatchObject({
      family: 'vertex',
      baseUrl: 'https://us-central1-aiplatform.googleapis.com/v1',
      vertex: { project: 'p', location: 'us-central1', accessToken: 't' },
    });
    expect(vertexOf({ VERTEX_PROJECT: 'p', VERTEX_LOCATION: 'europe-west4', VERTEX_CREDENTIALS_FILE: '/k.json', VERTEX_TOKEN_URL: 'http://x/token' })).toMatchObject({
      baseUrl: 'https://europe-west4-aiplatform.googleapis.com/v1',
      vertex: { location: 'europe-west4', credentialsFile: '/k.json', tokenUrl: 'http://x/token' },
    });
    expect(vertexOf({ VERTEX_PROJECT: 'p', VERTEX_ACCESS_TOKEN: 't', VERTEX_BASE_URL: 'http://127.0.0.1:9/v1/' })?.baseUrl).toBe('http://127.0.0.1:9/v1');
  });

  it('refuses half a configuration', () => {
    expect(() => loadConfig({ VERTEX_PROJECT: 'p' })).toThrow(ConfigError);
    expect(() => loadConfig({ VERTEX_ACCESS_TOKEN: 't' })).toThrow(ConfigError);
  });
});
