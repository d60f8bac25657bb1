import OpenAI from 'openai';
import { FakeAnthropic } from '../fakes/fake-anthropic';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';
import { collectStream, PNG, WEATHER_TOOL } from './sdk-fixtures';

jest.setTimeout(30_000);

const SONNET = 'anthropic/claude-sonnet-4-5';

describe('the anthropic provider', () => {
  let fake: FakeAnthropic;
  let gw: Gateway;
  let client: OpenAI;
  let key: string;

  beforeAll(async () => {
    fake = new FakeAnthropic();
    const base = await fake.start();
    gw = await startGateway({ ANTHROPIC_API_KEY: 'sk-ant-upstream', ANTHROPIC_BASE_URL: base });
    ({ key } = await gw.createKey('anthropic-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  it('answers a plain chat, translating system, max_tokens and headers', async () => {
    const res = await client.chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello there' },
      ],
      temperature: 0.5,
      stop: 'END',
      user: 'alice',
    });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello there' });
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 132, completion_tokens: 7, total_tokens: 139, prompt_tokens_details: { cached_tokens: 100 } });
    const sent = fake.last;
    expect(sent.headers['x-api-key']).toBe('sk-ant-upstream');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-4-5',
      system: 'Be brief.',
      max_tokens: 64000,
      temperature: 0.5,
      stop_sequences: ['END'],
      metadata: { user_id: 'alice' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }],
    });
  });

  it('streams a chat as chat.completion.chunks', async () => {
    const stream = await client.chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'Stream me please' }], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('echo: Stream me please');
    expect(finish).toBe('stop');
  });

  it('makes two parallel tool calls, not streamed', async () => {
    const res = await client.chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'What is the weather in Paris and Tokyo?' }],
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    });
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(res.choices[0].message.tool_calls).toEqual([
      { id: 'toolu_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'toolu_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo","unit":"c"}' } },
    ]);
    expect(fake.last.body.tools).toEqual([{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_TOOL.function.parameters }]);
    expect(fake.last.body.tool_choice).toEqual({ type: 'auto' });

    // The follow-up with the assistant's calls and the tool results is accepted by the (strict) fake.
    const follow = await client.chat.completions.create({
      model: SONNET,
      messages: [
        { role: 'user', content: 'What is the weather in Paris and Tokyo?' },
        res.choices[0].message as OpenAI.Chat.ChatCompletionMessageParam,
        { role: 'tool', tool_call_id: 'toolu_paris', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_tokyo', content: 'rain' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(follow.choices[0].finish_reason).toBe('stop');
    expect(fake.last.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { city: 'Tokyo', unit: 'c' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_paris', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_tokyo', content: 'rain' },
        ],
      },
    ]);
  });

  it('streams two parallel tool calls with their own OpenAI indexes', async () => {
    const stream = await client.chat.completions.create({
      model: SONNET,
      messages: [{ role: 'user', content: 'weather in Paris and Tokyo?' }],
      tools: [WEATHER_TOOL],
      stream: true,
    });
    const { calls, finish } = await collectStream(stream);
    expect(finish.at(-1)).toBe('tool_calls');
    expect(calls).toEqual([
      { id: 'toolu_paris', name: 'get_weather', args: '{"city":"Paris"}' },
      { id: 'toolu_tokyo', name: 'get_weather', args: '{"city":"Tokyo","unit":"c"}' },
    ]);
  });

  it('sends an image input as a base64 source, and an http URL as a url source', async () => {
    const res = await client.chat.completions.create({
      model: SONNET,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe these' },
            { type: 'image_url', image_url: { url: PNG } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: Describe these [2 image(s)]');
    expect(fake.last.body.messages[0].content).toEqual([
      { type: 'text', text: 'Describe these' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG.split(',')[1] } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
    ]);
  });

  it('turns response_format json_object into a system instruction, sending no response_format', async () => {
    const res = await postChat(gw, key, { model: SONNET, messages: [{ role: 'user', content: 'Give JSON' }], response_format: { type: 'json_object' } });
    expect(res.status).toBe(200);
    expect(JSON.stringify(fake.last.body.system)).toMatch(/JSON object/);
    expect(fake.last.body.response_format).toBeUndefined();
  });

  it('rejects a temperature Anthropic does not accept with a 400 naming the parameter', async () => {
    const before = fake.requests.length;
    const res = await postChat(gw, key, { model: SONNET, messages: [{ role: 'user', content: 'hi' }], temperature: 1.5 });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.param).toBe('temperature');
    expect(error.message).toMatch(/anthropic/i);
    expect(fake.requests.length).toBe(before);
  });

  it('reports a 529 overloaded as an OpenAI-shaped error keeping the status', async () => {
    const res = await postChat(gw, key, { model: 'anthropic/error-529', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(529);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toMatch(/Overloaded/);
  });

  it('falls back to another model after a 529', async () => {
    const res = await postChat(gw, key, { model: 'anthropic/error-529', fallbacks: ['anthropic/claude-haiku-4-5'], messages: [{ role: 'user', content: 'fallback please' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-model')).toBe('claude-haiku-4-5');
    const json = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(json.choices[0].message.content).toBe('echo: fallback please');
  });

  it('sends an error event mid-stream to the client as an SSE error', async () => {
    const res = await postChat(gw, key, { model: 'anthropic/error-midstream', stream: true, messages: [{ role: 'user', content: 'hi there' }] });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/Overloaded/);
  });

  it('records usage and cost of a streamed request, cache reads included', async () => {
    const res = await postChat(gw, key, { model: SONNET, stream: true, messages: [{ role: 'user', content: 'count my cache' }] });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    await res.text();
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    // input 12 + cache read 100 + cache write 20.
    expect(record).toMatchObject({
      served_provider: 'anthropic',
      served_model: 'claude-sonnet-4-5',
      stream: true,
      status_code: 200,
      prompt_tokens: 132,
      completion_tokens: 7,
      cached_tokens: 100,
      total_tokens: 139,
    });
    // Sonnet 4.5 per million: $3 input (12 uncached), $0.30 cache read (100), $3.75 cache write (20), $15 output (7).
    const expected = (12 * 3 + 100 * 0.3 + 20 * 3.75 + 7 * 15) / 1e6;
    expect(Number(record.cost_usd)).toBeCloseTo(expected, 10);
  });
});
