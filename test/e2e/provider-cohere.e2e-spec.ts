import OpenAI from 'openai';
import { FakeCohere } from '../fakes/fake-cohere';
import { FakeOpenAI } from '../fakes/fake-openai';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';

jest.setTimeout(30_000);

const MODEL = 'cohere/command-a-03-2025';
const WEATHER_TOOL: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('the Cohere provider', () => {
  let cohere: FakeCohere;
  let openai: FakeOpenAI;
  let gw: Gateway;
  let key: string;
  let client: OpenAI;

  beforeAll(async () => {
    cohere = new FakeCohere();
    openai = new FakeOpenAI();
    const [cohereBase, openaiBase] = await Promise.all([cohere.start(), openai.start()]);
    gw = await startGateway({ COHERE_API_KEY: 'co-upstream', COHERE_BASE_URL: cohereBase, OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: openaiBase });
    ({ key } = await gw.createKey('cohere-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await Promise.all([cohere?.stop(), openai?.stop()]);
    await gw?.close();
  });

  it('answers a plain chat through the SDK, translated both ways', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }], max_completion_tokens: 50, stop: ['END'], top_p: 0.5 })
      .withResponse();
    expect(response.headers.get('x-tokenhub-provider')).toBe('cohere');
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello there' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), prompt_tokens_details: { cached_tokens: 4 } });
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(cohere.last).toMatchObject({
      model: 'command-a-03-2025',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }],
      max_tokens: 50,
      stop_sequences: ['END'],
      p: 0.5,
    });
    expect(cohere.last.stream).toBeUndefined();
    expect(cohere.requests[cohere.requests.length - 1].headers.authorization).toBe('Bearer co-upstream');
  });

  it('streams a chat to the SDK iterator, with usage when asked', async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello stream' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Hello stream');
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(cohere.last.stream).toBe(true);
    expect(cohere.last).not.toHaveProperty('stream_options');
  });

  it('returns two parallel tool calls, then takes their results back', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris and London?' }];
    const res = await client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER_TOOL] });
    const message = res.choices[0].message;
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(message.tool_calls).toHaveLength(2);
    const calls = message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((c) => JSON.parse(c.function.arguments))).toEqual([{ city: 'Paris' }, { city: 'London' }]);
    expect(calls.every((c) => c.type === 'function' && c.function.name === 'get_weather' && c.id)).toBe(true);
    expect(cohere.last.tools).toEqual([WEATHER_TOOL]);

    const followUp = await client.chat.completions.create({
      model: MODEL,
      tools: [WEATHER_TOOL],
      messages: [
        ...messages,
        message,
        ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: `sunny in ${JSON.parse(c.function.arguments).city}` })),
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(followUp.choices[0].message.content).toBe('echo: Thanks');
    const sent = cohere.last.messages as Array<Record<string, unknown>>;
    expect(sent[1]).toMatchObject({ role: 'assistant', tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: c.function })) });
    expect(sent[2]).toEqual({ role: 'tool', tool_call_id: calls[0].id, content: 'sunny in Paris' });
  });

  it('streams two parallel tool calls with their indexes', async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'weather in Paris and London' }], tools: [WEATHER_TOOL], stream: true });
    const calls: Array<{ id?: string; name?: string; args: string }> = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const d of choice?.delta.tool_calls ?? []) {
        calls[d.index] ??= { args: '' };
        if (d.id) calls[d.index].id = d.id;
        if (d.function?.name) calls[d.index].name = d.function.name;
        calls[d.index].args += d.function?.arguments ?? '';
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(finish).toBe('tool_calls');
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_weather']);
    expect(calls.map((c) => JSON.parse(c.args))).toEqual([{ city: 'Paris' }, { city: 'London' }]);
    expect(calls[0].id).not.toBe(calls[1].id);
  });

  it('passes an image input on', async () => {
    const url = 'data:image/png;base64,iVBORw0KGgo=';
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe this' }, { type: 'image_url', image_url: { url } }] }],
    });
    expect(res.choices[0].message.content).toBe('echo: Describe this [1 image]');
    expect((cohere.last.messages as Array<{ content: unknown }>)[0].content).toEqual([{ type: 'text', text: 'Describe this' }, { type: 'image_url', image_url: { url } }]);
  });

  it('sends response_format json_object in Cohere\'s own response_format', async () => {
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Give JSON' }], response_format: { type: 'json_object' } });
    expect(res.object).toBe('chat.completion');
    expect(cohere.last.response_format).toEqual({ type: 'json_object' });
  });

  it('refuses what Cohere cannot do with a 400 naming the parameter, before calling it', async () => {
    const before = cohere.requests.length;
    for (const [extra, param] of [
      [{ temperature: 1.5 }, 'temperature'],
      [{ logit_bias: { '1': 5 } }, 'logit_bias'],
      [{ tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, 'tool_choice'],
    ] as const) {
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
      expect((err as Error).message).toContain('cohere');
    }
    expect(cohere.requests.length).toBe(before);
  });

  it('passes a provider error on OpenAI-shaped with its status', async () => {
    const res = await postChat(gw, key, { model: 'cohere/error-400', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toContain('fake cohere answers 400');
    const sdkErr = await client.chat.completions.create({ model: 'cohere/error-429', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.RateLimitError);
    expect((sdkErr as Error).message).toContain('fake cohere answers 429');
  });

  it('falls back from a failing Cohere model to another provider', async () => {
    const res = await postChat(gw, key, { model: 'cohere/error-429', fallbacks: ['openai/gpt-4o-mini'], messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('openai');
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('echo: hi');
  });

  it('falls back from another provider to Cohere, streamed', async () => {
    const res = await postChat(gw, key, { model: 'openai/error-503', fallbacks: [MODEL], stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('cohere');
    const text = await res.text();
    expect(text).toContain('"content":"echo"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
