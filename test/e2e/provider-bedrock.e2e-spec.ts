import OpenAI from 'openai';
import { FAKE_AWS, FakeBedrock } from '../fakes/fake-bedrock';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';
import { collectStream, PNG, WEATHER_TOOL } from './sdk-fixtures';

jest.setTimeout(30_000);

const CLAUDE = 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0';

describe('the bedrock provider', () => {
  let fake: FakeBedrock;
  let gw: Gateway;
  let client: OpenAI;
  let key: string;

  beforeAll(async () => {
    fake = new FakeBedrock();
    const base = await fake.start();
    gw = await startGateway({
      AWS_ACCESS_KEY_ID: FAKE_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS.secretAccessKey,
      AWS_SESSION_TOKEN: 'fake-session-token',
      AWS_REGION: FAKE_AWS.region,
      BEDROCK_BASE_URL: base,
    });
    ({ key } = await gw.createKey('bedrock-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  it('answers a plain chat through a SigV4-signed Converse call', async () => {
    const res = await client.chat.completions.create({
      model: CLAUDE,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello there' },
      ],
      max_tokens: 256,
      temperature: 0.5,
      top_p: 0.9,
      stop: 'END',
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello there' });
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 112, completion_tokens: 7, total_tokens: 119, prompt_tokens_details: { cached_tokens: 100 } });
    const sent = fake.last;
    expect(sent.modelId).toBe('anthropic.claude-3-5-haiku-20241022-v1:0');
    expect(sent.stream).toBe(false);
    expect(sent.headers['x-amz-security-token']).toBe('fake-session-token');
    expect(sent.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEBEDROCK\/\d{8}\/us-west-2\/bedrock\/aws4_request, SignedHeaders=.*x-amz-security-token/);
    expect(sent.body).toEqual({
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Hello there' }] }],
      inferenceConfig: { maxTokens: 256, temperature: 0.5, topP: 0.9, stopSequences: ['END'] },
    });
  });

  it('streams a chat decoded from the binary event stream', async () => {
    const stream = await client.chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Stream me please' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('echo: Stream me please');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 112, completion_tokens: 7 });
    expect(fake.last.stream).toBe(true);
  });

  it('makes two parallel tool calls, not streamed, and accepts the follow-up', async () => {
    const res = await client.chat.completions.create({
      model: CLAUDE,
      messages: [{ role: 'user', content: 'What is the weather in Paris and Tokyo?' }],
      tools: [WEATHER_TOOL],
      tool_choice: 'required',
    });
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(res.choices[0].message.content).toBe('Let me check.');
    expect(res.choices[0].message.tool_calls).toEqual([
      { id: 'tooluse_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'tooluse_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo","unit":"c"}' } },
    ]);
    expect(fake.last.body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', description: 'Weather for a city', inputSchema: { json: WEATHER_TOOL.function.parameters } } }],
      toolChoice: { any: {} },
    });

    const follow = await client.chat.completions.create({
      model: CLAUDE,
      messages: [
        { role: 'user', content: 'What is the weather in Paris and Tokyo?' },
        res.choices[0].message as OpenAI.Chat.ChatCompletionMessageParam,
        { role: 'tool', tool_call_id: 'tooluse_paris', content: 'sunny' },
        { role: 'tool', tool_call_id: 'tooluse_tokyo', content: 'rain' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(follow.choices[0].finish_reason).toBe('stop');
    expect(fake.last.body.messages).toEqual([
      { role: 'user', content: [{ text: 'What is the weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { text: 'Let me check.' },
          { toolUse: { toolUseId: 'tooluse_paris', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'tooluse_tokyo', name: 'get_weather', input: { city: 'Tokyo', unit: 'c' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_paris', content: [{ text: 'sunny' }] } },
          { toolResult: { toolUseId: 'tooluse_tokyo', content: [{ text: 'rain' }] } },
        ],
      },
    ]);
  });

  it('streams two parallel tool calls with their own OpenAI indexes', async () => {
    const stream = await client.chat.completions.create({
      model: CLAUDE,
      messages: [{ role: 'user', content: 'weather in Paris and Tokyo?' }],
      tools: [WEATHER_TOOL],
      stream: true,
    });
    const { calls, text, finish } = await collectStream(stream);
    expect(text).toBe('Let me check.');
    expect(finish.at(-1)).toBe('tool_calls');
    expect(calls).toEqual([
      { id: 'tooluse_paris', name: 'get_weather', args: '{"city":"Paris"}' },
      { id: 'tooluse_tokyo', name: 'get_weather', args: '{"city":"Tokyo","unit":"c"}' },
    ]);
  });

  it('sends a data-URL image as bytes and refuses an http image URL before calling Bedrock', async () => {
    const res = await client.chat.completions.create({
      model: CLAUDE,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, { type: 'image_url', image_url: { url: PNG } }] }],
    });
    expect(res.choices[0].message.content).toBe('echo: Describe [1 image(s)]');
    expect(fake.last.body.messages[0].content[1]).toEqual({ image: { format: 'png', source: { bytes: PNG.split(',')[1] } } });

    const before = fake.requests.length;
    const bad = await postChat(gw, key, { model: CLAUDE, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] });
    expect(bad.status).toBe(400);
    expect(expectOpenAIError(await bad.json()).message).toMatch(/bedrock/);
    expect(fake.requests.length).toBe(before);
  });

  it('turns response_format json_object into a system block', async () => {
    const res = await postChat(gw, key, { model: CLAUDE, messages: [{ role: 'user', content: 'Give JSON' }], response_format: { type: 'json_object' } });
    expect(res.status).toBe(200);
    expect(fake.last.body.system).toEqual(expect.arrayContaining([{ text: expect.stringMatching(/JSON object/) }]));
    expect(fake.last.body.response_format).toBeUndefined();
  });

  it('refuses logprobs with a 400 naming provider and parameter, before calling Bedrock', async () => {
    const before = fake.requests.length;
    const res = await postChat(gw, key, { model: CLAUDE, messages: [{ role: 'user', content: 'hi' }], logprobs: true });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.param).toBe('logprobs');
    expect(error.message).toMatch(/bedrock/);
    expect(fake.requests.length).toBe(before);
  });

  it('rejects parameters Converse cannot honour with a 400 naming provider and parameter', async () => {
    const before = fake.requests.length;
    const res = await postChat(gw, key, { model: CLAUDE, messages: [{ role: 'user', content: 'hi' }], frequency_penalty: 0.5 });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.param).toBe('frequency_penalty');
    expect(error.message).toMatch(/bedrock/);
    expect(fake.requests.length).toBe(before);
  });

  it('reports an upstream error OpenAI-shaped, keeping the status', async () => {
    const res = await postChat(gw, key, { model: 'bedrock/error-429', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(429);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toMatch(/Too many requests/);
  });

  it('sends an exception message mid-stream to the client as an SSE error', async () => {
    const res = await postChat(gw, key, { model: 'bedrock/error-midstream', stream: true, messages: [{ role: 'user', content: 'hi there' }] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/echo/);
    expect(text).toMatch(/throttlingException/);
  });

  it('records usage for a streamed request', async () => {
    const res = await postChat(gw, key, { model: CLAUDE, stream: true, messages: [{ role: 'user', content: 'count me' }] });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    await res.text();
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    expect(record).toMatchObject({ served_provider: 'bedrock', stream: true, status_code: 200, prompt_tokens: 112, completion_tokens: 7, cached_tokens: 100 });
  });
});

describe('the bedrock provider with a wrong secret', () => {
  let fake: FakeBedrock;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    fake = new FakeBedrock();
    const base = await fake.start();
    gw = await startGateway({ AWS_ACCESS_KEY_ID: FAKE_AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret', AWS_REGION: FAKE_AWS.region, BEDROCK_BASE_URL: base });
    ({ key } = await gw.createKey('bedrock-bad-sig'));
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  it('gets a 403 InvalidSignatureException, OpenAI-shaped', async () => {
    const res = await postChat(gw, key, { model: CLAUDE, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(403);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toMatch(/signature/i);
    expect(error.message).not.toContain('not-the-secret');
  });
});
