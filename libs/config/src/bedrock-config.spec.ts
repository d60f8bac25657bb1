import { ConfigError, loadConfig } from './load-config';

describe('Bedrock configuration', () => {
  const bedrockOf = (env: Record<string, string>) => loadConfig(env).providers.find((p) => p.name === 'bedrock');

  it('is off without AWS keys or BEDROCK_BASE_URL', () => {
    expect(bedrockOf({})).toBeUndefined();
    expect(bedrockOf({ AWS_REGION: 'eu-west-1' })).toBeUndefined();
  });

  it('builds the regional base URL, defaulting to us-east-1', () => {
    expect(bedrockOf({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' })).toMatchObject({
      family: 'bedrock',
      baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com',
      aws: { accessKeyId: 'AK', secretAccessKey: 'SK', region: 'us-east-1' },
    });
    expect(bedrockOf({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_SESSION_TOKEN: 'ST', AWS_REGION: 'eu-central-1' })).toMatchObject({
      baseUrl: 'https://bedrock-runtime.eu-central-1.amazonaws.com',
      aws: { sessionToken: 'ST', region: 'eu-central-1' },
    });
  });

  it('is enabled, unsigned, by BEDROCK_BASE_URL alone', () => {
    expect(bedrockOf({ BEDROCK_BASE_URL: 'http://proxy:8080' })).toMatchObject({ baseUrl: 'http://proxy:8080', aws: { region: 'us-east-1', accessKeyId: undefined } });
  });

  it('takes BEDROCK_BASE_URL as an override', () => {
    expect(bedrockOf({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', BEDROCK_BASE_URL: 'http://127.0.0.1:9/' })?.baseUrl).toBe('http://127.0.0.1:9');
  });

  it('refuses half a key pair or a malformed region', () => {
    expect(() => loadConfig({ AWS_ACCESS_KEY_ID: 'AK', BEDROCK_BASE_URL: 'http://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_REGION: 'Bad Region' })).toThrow(ConfigError);
  });
});
