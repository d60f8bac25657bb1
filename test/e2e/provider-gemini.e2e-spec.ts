import OpenAI from 'openai';
import { FakeGemini } from '../fakes/fake-gemini';
import { FakeOpenAI } from '../fakes/fake-openai';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';

jest.setTimeout(30_000);

const TOOLS: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
  },
];

describe('the Gemini provider', () => {
  let gemini: FakeGemini;
  let openai: FakeOpenAI;
  let gw: Gateway;
  let client: OpenAI;
  let key: string;

  beforeAll(async () => {
    gemini = new FakeGemini();
    openai = new FakeOpenAI();
    const [geminiBase, openaiBase] = await Promise.all([gemini.start(), openai.start()]);
    gw = await startGateway({ GEMINI_API_KEY: 'gm-upstream', GEMINI_BASE_URL: geminiBase, OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: openaiBase });
    ({ key } = await gw.createKey('gemini-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await gemini?.stop();
    await openai?.stop();
  });

  it('answers a plain chat as a chat.completion', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'gemini/gemini-2.5-flash',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello, Gemini' },
        ],
        temperature: 0.4,
        max_tokens: 100,
        stop: ['END'],
      })
      .withResponse();
    expect(response.headers.get('x-tokenhub-provider')).toBe('gemini');
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello, Gemini' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: expect.any(Number), total_tokens: expect.any(Number), prompt_tokens_details: { cached_tokens: 2 } });
    expect(data.usage!.completion_tokens).toBe(data.usage!.total_tokens - data.usage!.prompt_tokens);

    const sent = gemini.last;
    expect(sent).toMatchObject({ model: 'gemini-2.5-flash', stream: false });
    expect(sent.headers['x-goog-api-key']).toBe('gm-upstream');
    expect(sent.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello, Gemini' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.4, maxOutputTokens: 100, stopSequences: ['END'] },
    });
    const [usage] = await gw.waitForUsage(1, 'request_id = $1', [response.headers.get('x-request-id')]);
    expect(usage).toMatchObject({ served_provider: 'gemini', served_model: 'gemini-2.5-flash', cached_tokens: 2, prompt_tokens: data.usage!.prompt_tokens });
    // Priced from the catalog's gemini/gemini-2.5-flash entry.
    expect(Number(usage.cost_usd)).toBeGreaterThan(0);
  });

  it('streams a chat as chat.completion.chunks, with usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'Stream me a greeting please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(gemini.last).toMatchObject({ model: 'gemini-2.5-pro', stream: true, method: 'streamGenerateContent' });
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream me a greeting please');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(2);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('answers two parallel tool calls, and takes their results back', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris and London?' }];
    const first = await client.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages, tools: TOOLS, tool_choice: 'auto' });
    const choice = first.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"London"}' } },
    ]);
    expect(gemini.last.body.tools).toEqual([
      { functionDeclarations: [{ name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] },
    ]);
    expect(gemini.last.body.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });

    messages.push(choice.message as OpenAI.ChatCompletionMessageParam);
    messages.push({ role: 'tool', tool_call_id: 'call_0', content: '{"temp":18}' });
    messages.push({ role: 'tool', tool_call_id: 'call_1', content: 'rainy' });
    const second = await client.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages, tools: TOOLS });
    expect(second.choices[0].message.content).toBe('tool results received: get_weather, get_weather');
    expect(gemini.last.body.contents.slice(1)).toEqual([
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { city: 'London' } } }] },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'get_weather', response: { temp: 18 } } }, { functionResponse: { name: 'get_weather', response: { result: 'rainy' } } }],
      },
    ]);
  });

  it('streams two parallel tool calls that the SDK reassembles', async () => {
    const stream = client.chat.completions.stream({
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'weather in Paris and London' }],
      tools: TOOLS,
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls?.map((c) => (c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : []))).toEqual([
      ['call_0', 'get_weather', '{"city":"Paris"}'],
      ['call_1', 'get_weather', '{"city":"London"}'],
    ]);
    expect(gemini.last.stream).toBe(true);
  });

  it('sends images: data URLs inline, http URLs as files', async () => {
    const res = await client.chat.completions.create({
      model: 'gemini/gemini-2.5-flash-lite',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe these' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' } },
            { type: 'image_url', image_url: { url: 'https://example.com/photos/cat.png' } },
          ],
        },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: Describe these [inline image/png; file image/png]');
    expect(gemini.last.body.contents[0].parts[2]).toEqual({ fileData: { mimeType: 'image/png', fileUri: 'https://example.com/photos/cat.png' } });
  });

  it('sends response_format json_object as responseMimeType, and json_schema with its responseSchema', async () => {
    const res = await postChat(gw, key, { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Give JSON' }], response_format: { type: 'json_object' } });
    expect(res.status).toBe(200);
    expect(gemini.last.body.generationConfig).toMatchObject({ responseMimeType: 'application/json' });
    expect(gemini.last.body.generationConfig.responseSchema).toBeUndefined();
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    const res2 = await postChat(gw, key, {
      model: 'gemini/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Give JSON' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
    });
    expect(res2.status).toBe(200);
    expect(gemini.last.body.generationConfig).toMatchObject({ responseMimeType: 'application/json', responseSchema: expect.objectContaining({ properties: expect.anything() }) });
  });

  it('refuses logprobs with a 400 naming provider and parameter, before calling Gemini', async () => {
    const before = gemini.requests.length;
    const res = await postChat(gw, key, { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], logprobs: true });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.param).toBe('logprobs');
    expect(error.message).toMatch(/gemini/i);
    expect(gemini.requests.length).toBe(before);
  });

  it('refuses a parameter Gemini cannot honour, naming it', async () => {
    const before = gemini.requests.length;
    const res = await postChat(gw, key, { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], logit_bias: { '1': 5 } });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.param).toBe('logit_bias');
    expect(error.message).toMatch(/gemini/i);
    expect(gemini.requests.length).toBe(before);
  });

  it('passes a provider error on OpenAI-shaped, keeping its status', async () => {
    const res = await postChat(gw, key, { model: 'gemini/error-400', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    const error = expectOpenAIError(await res.json());
    expect(error.message).toMatch(/The fake answers 400/);

    await expect(client.chat.completions.create({ model: 'gemini/error-503', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 503 });
  });

  it('falls back to another model after a Gemini failure', async () => {
    const res = await postChat(gw, key, { model: 'gemini/error-503', messages: [{ role: 'user', content: 'Hello, how are you?' }], fallbacks: ['openai/gpt-4o-mini'] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tokenhub-provider')).toBe('openai');
    const json = (await res.json()) as OpenAI.ChatCompletion;
    expect(json.choices[0].message.content).toBe('echo: Hello, how are you?');
  });

  it('falls back from a stream that Gemini refuses', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini/error-500',
      messages: [{ role: 'user', content: 'Hello, how are you?' }],
      stream: true,
      ...({ fallbacks: ['gemini/gemini-2.5-flash'] } as object),
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: Hello, how are you?');
  });
});
