import { loadConfig } from '@tokenhub/config';
import OpenAI from 'openai';
import { FakeAzureOpenAI } from '../fakes/fake-azure';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';

jest.setTimeout(30_000);

describe('the Azure OpenAI provider', () => {
  let azure: FakeAzureOpenAI;
  let gw: Gateway;
  let key: string;
  let client: OpenAI;
  let base: string;
  const lastAzure = () => azure.requests[azure.requests.length - 1];

  beforeAll(async () => {
    azure = new FakeAzureOpenAI();
    base = await azure.start();
    gw = await startGateway({ AZURE_API_KEY: 'az-upstream', AZURE_BASE_URL: base });
    ({ key } = await gw.createKey('azure-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await azure?.stop();
  });

  it('addresses the deployment with the default api-version and the api-key header', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 20 })
      .withResponse();
    expect(response.headers.get('x-tokenhub-provider')).toBe('azure');
    expect(response.headers.get('x-tokenhub-model')).toBe('gpt-4o');
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.content).toBe('echo: Hello there');
    expect(data.usage?.total_tokens).toBeGreaterThan(0);
    const sent = lastAzure();
    expect(sent.path).toBe('/openai/deployments/gpt-4o/chat/completions');
    expect(sent.apiVersion).toBe('2024-10-21');
    expect(sent.headers['api-key']).toBe('az-upstream');
    expect(sent.headers.authorization).toBeUndefined();
    const body = azure.openai.requests[azure.openai.requests.length - 1].body;
    expect(body).toMatchObject({ messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 20 });
  });

  it('streams chunks to the SDK iterator', async () => {
    const stream = await client.chat.completions.create({
      model: 'azure/gpt-4o-mini',
      messages: [{ role: 'user', content: 'Stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream me');
    expect(chunks[chunks.length - 1].usage?.total_tokens).toBeGreaterThan(0);
    expect(lastAzure().path).toBe('/openai/deployments/gpt-4o-mini/chat/completions');
    expect(lastAzure().headers.accept).toBe('text/event-stream');
    const [usage] = await gw.waitForUsage(1, "served_provider = 'azure' AND served_model = 'gpt-4o-mini'");
    expect(usage).toMatchObject({ status_code: 200 });
    expect(Number(usage.total_tokens)).toBeGreaterThan(0);
  });

  it('passes tools, parallel_tool_calls, an image, response_format and logprobs through unchanged', async () => {
    const extras = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe this' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          ],
        },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
        { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
      ],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      response_format: { type: 'json_object' },
      logprobs: true,
      top_logprobs: 2,
    };
    const res = await postChat(gw, key, { model: 'azure/gpt-4o', ...extras });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('echo: Describe this');
    expect(lastAzure().path).toBe('/openai/deployments/gpt-4o/chat/completions');
    const body = azure.openai.requests[azure.openai.requests.length - 1].body;
    for (const [field, value] of Object.entries(extras)) expect(body[field]).toEqual(value);
  });

  it('passes an unknown deployment on as an OpenAI-shaped 404', async () => {
    const res = await postChat(gw, key, { model: 'azure/no-such-deployment', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(404);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toContain('deployment for this resource does not exist');
    expect(error.code).toBe('DeploymentNotFound');
    const sdkErr = await client.chat.completions.create({ model: 'azure/no-such-deployment', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('keeps the status of an upstream rate limit, through the SDK', async () => {
    const sdkErr = await client.chat.completions.create({ model: 'azure/error-429', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.RateLimitError);
    expect((sdkErr as Error).message).toContain('fake answers 429');
  });

  describe('configured otherwise', () => {
    let other: Gateway;
    afterEach(async () => {
      await other?.close();
    });

    it('sends AZURE_API_VERSION and an Entra ID token as a bearer', async () => {
      other = await startGateway({ AZURE_AD_TOKEN: 'entra-token', AZURE_BASE_URL: `${base}/`, AZURE_API_VERSION: '2025-01-01-preview' });
      const res = await postChat(other, (await other.createKey('ad')).key, { model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.status).toBe(200);
      expect(lastAzure().apiVersion).toBe('2025-01-01-preview');
      expect(lastAzure().headers.authorization).toBe('Bearer entra-token');
      expect(lastAzure().headers['api-key']).toBeUndefined();
    });
  });

  it('refuses to start with a key but no AZURE_BASE_URL', async () => {
    expect(() => loadConfig({ AZURE_API_KEY: 'az' })).toThrow(/AZURE_BASE_URL/);
  });
});

