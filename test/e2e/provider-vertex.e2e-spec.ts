import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { FakeVertex, startFakeVertex } from '../fakes/fake-vertex';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';
import { collectStream, PNG } from './sdk-fixtures';

jest.setTimeout(30_000);

const PROJECT = 'tokenhub-test';
const LOCATION = 'europe-west4';
const TOOLS: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];
/** Prices (USD per million tokens) the spec's catalog overlay gives the Vertex models it prices. */
const PRICES = {
  'vertex/gemini-2.5-flash': { input: 0.3, cachedInput: 0.03, output: 2.5 },
  'vertex/claude-sonnet-4@20250514': { input: 3, cachedInput: 0.3, cacheWriteInput: 3.75, output: 15 },
};

describe('the Vertex AI provider', () => {
  let vertex: FakeVertex;
  let gw: Gateway;
  let client: OpenAI;
  let key: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tokenhub-vertex-'));
    let env: Record<string, string>;
    ({ vertex, env } = await startFakeVertex({ project: PROJECT, location: LOCATION, keyId: 'kid-test-1', dir }));
    const catalog = join(dir, 'catalog.json');
    writeFileSync(catalog, JSON.stringify({ version: 'vertex-spec', models: PRICES }));
    gw = await startGateway({ MODEL_CATALOG_PATH: catalog, ...env });
    ({ key } = await gw.createKey('vertex-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await vertex?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers a Gemini model through generateContent with a bearer token', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'vertex/gemini-2.5-flash', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, Vertex' }], max_tokens: 50 })
      .withResponse();
    expect(response.headers.get('x-tokenhub-provider')).toBe('vertex');
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello, Vertex' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), prompt_tokens_details: { cached_tokens: 2 } });
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-flash', method: 'generateContent' });
    expect(vertex.last.headers.authorization).toBe('Bearer ya29.fake-1');
    expect(vertex.last.headers['x-goog-api-key']).toBeUndefined();
    expect(vertex.last.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello, Vertex' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.7, maxOutputTokens: 50 }, // TokenHub's default temperature
    });
  });

  it('streams a Gemini model through streamGenerateContent?alt=sse', async () => {
    const stream = await client.chat.completions.create({
      model: 'vertex/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'Stream me a greeting please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-pro', method: 'streamGenerateContent' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream me a greeting please');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), prompt_tokens_details: { cached_tokens: 2 } });
  });

  it('answers a Claude model through rawPredict, without model and with the Vertex anthropic_version', async () => {
    const res = await client.chat.completions.create({
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, Claude' }],
      max_tokens: 64,
    });
    expect(res.choices[0].message.content).toBe('echo: Hello, Claude');
    expect(res.choices[0].finish_reason).toBe('stop');
    // input 12 + cache read 100 + cache write 20.
    expect(res.usage).toMatchObject({ prompt_tokens: 132, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 100 } });
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', model: 'claude-sonnet-4@20250514', method: 'rawPredict' });
    expect(vertex.last.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 64, system: 'Be brief.' });
    expect(vertex.last.body.model).toBeUndefined();
    expect(vertex.last.headers['anthropic-version']).toBeUndefined();
    expect(vertex.last.headers['x-api-key']).toBeUndefined();
  });

  it('streams a Claude model through streamRawPredict', async () => {
    const stream = await client.chat.completions.create({
      model: 'vertex/claude-3-5-haiku@20241022',
      messages: [{ role: 'user', content: 'Stream from Claude please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', method: 'streamRawPredict' });
    expect(vertex.last.body).toMatchObject({ stream: true, anthropic_version: 'vertex-2023-10-16' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream from Claude please');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ prompt_tokens: 132, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 100 } });
  });

  it('sends a Gemini model tools as functionDeclarations and json_object as responseMimeType', async () => {
    const res = await postChat(gw, key, {
      model: 'vertex/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Weather in Paris and Rome, as JSON' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
    });
    expect(res.status).toBe(200);
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-flash', method: 'generateContent' });
    expect(vertex.last.body.tools).toEqual([{ functionDeclarations: [expect.objectContaining({ name: 'get_weather', description: 'Weather' })] }]);
    expect(vertex.last.body.generationConfig).toMatchObject({ responseMimeType: 'application/json' });
  });

  it('turns json_object for a Claude model into a system instruction', async () => {
    const res = await postChat(gw, key, {
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Give JSON' }],
      response_format: { type: 'json_object' },
      max_tokens: 32,
    });
    expect(res.status).toBe(200);
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', method: 'rawPredict' });
    expect(JSON.stringify(vertex.last.body.system)).toMatch(/Be brief\..*JSON object/s);
    expect(vertex.last.body.response_format).toBeUndefined();
  });

  describe.each([
    {
      kind: 'Gemini',
      model: 'vertex/gemini-2.5-flash',
      methods: ['generateContent', 'streamGenerateContent'],
      expected: [
        { id: 'call_0', name: 'get_weather', args: '{"city":"Paris"}' },
        { id: 'call_1', name: 'get_weather', args: '{"city":"London"}' },
      ],
    },
    {
      kind: 'Claude',
      model: 'vertex/claude-sonnet-4@20250514',
      methods: ['rawPredict', 'streamRawPredict'],
      expected: [
        { id: 'toolu_paris', name: 'get_weather', args: '{"city":"Paris"}' },
        { id: 'toolu_tokyo', name: 'get_weather', args: '{"city":"Tokyo","unit":"c"}' },
      ],
    },
  ])('two parallel tool calls from a $kind model', ({ model, methods, expected }) => {
    it('answers them in one message with finish_reason tool_calls', async () => {
      const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'What is the weather in Paris and elsewhere?' }], tools: TOOLS, max_tokens: 64 });
      expect(vertex.last.method).toBe(methods[0]);
      const choice = res.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.tool_calls).toEqual(expected.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })));
      for (const call of choice.message.tool_calls ?? []) if (call.type === 'function') expect(typeof JSON.parse(call.function.arguments)).toBe('object');
    });

    it('streams them as tool-call deltas with indexes 0 and 1', async () => {
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'What is the weather in Paris and elsewhere?' }],
        tools: TOOLS,
        max_tokens: 64,
        stream: true,
      });
      const { calls, indexes, finish } = await collectStream(stream);
      expect(vertex.last.method).toBe(methods[1]);
      expect(calls).toEqual(expected);
      expect([...new Set(indexes)]).toEqual([0, 1]);
      expect(finish).toEqual(['tool_calls']);
    });

    it('takes their results back in the next turn', async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris and elsewhere?' }];
      const first = await client.chat.completions.create({ model, messages, tools: TOOLS, max_tokens: 64 });
      messages.push(first.choices[0].message as OpenAI.ChatCompletionMessageParam);
      messages.push({ role: 'tool', tool_call_id: expected[0].id, content: '{"temp":18}' });
      messages.push({ role: 'tool', tool_call_id: expected[1].id, content: 'rainy' });
      const second = await client.chat.completions.create({ model, messages, tools: TOOLS, max_tokens: 64 });
      expect(second.choices[0].finish_reason).toBe('stop');
      const sent = JSON.stringify(vertex.last.body);
      if (vertex.last.publisher === 'google') {
        expect(vertex.last.body.contents.slice(-1)[0].parts.map((p: any) => p.functionResponse?.name)).toEqual(['get_weather', 'get_weather']);
      } else {
        for (const c of expected) expect(sent).toContain(`"tool_use_id":"${c.id}"`);
      }
    });

    it('is reassembled by the SDK stream helper', async () => {
      const final = await client.chat.completions
        .stream({ model, messages: [{ role: 'user', content: 'weather in Paris and elsewhere' }], tools: TOOLS, max_tokens: 64 })
        .finalChatCompletion();
      expect(final.choices[0].finish_reason).toBe('tool_calls');
      expect(final.choices[0].message.tool_calls?.map((c) => (c.type === 'function' ? { id: c.id, name: c.function.name, args: c.function.arguments } : {}))).toEqual(expected);
    });
  });

  it('sends a Gemini model images as inlineData (data URL) and fileData (http URL)', async () => {
    const res = await client.chat.completions.create({
      model: 'vertex/gemini-2.5-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe these' },
            { type: 'image_url', image_url: { url: PNG } },
            { type: 'image_url', image_url: { url: 'https://example.com/photos/cat.png' } },
          ],
        },
      ],
    });
    expect(res.choices[0].message.content).toBe('echo: Describe these [inline image/png; file image/png]');
    expect(vertex.last).toMatchObject({ publisher: 'google', method: 'generateContent' });
    expect(vertex.last.body.contents[0].parts).toEqual([
      { text: 'Describe these' },
      { inlineData: { mimeType: 'image/png', data: PNG.split(',')[1] } },
      { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/photos/cat.png' } },
    ]);
  });

  it('sends a Claude model an image as a base64 image block, streamed too', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: [{ type: 'text', text: 'Describe this' }, { type: 'image_url', image_url: { url: PNG } }] }];
    const res = await client.chat.completions.create({ model: 'vertex/claude-sonnet-4@20250514', messages, max_tokens: 64 });
    expect(res.choices[0].message.content).toBe('echo: Describe this [1 image(s)]');
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', method: 'rawPredict' });
    expect(vertex.last.body.messages[0].content).toEqual([
      { type: 'text', text: 'Describe this' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG.split(',')[1] } },
    ]);
    const stream = await client.chat.completions.create({ model: 'vertex/claude-sonnet-4@20250514', messages, max_tokens: 64, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: Describe this [1 image(s)]');
    expect(vertex.last.method).toBe('streamRawPredict');
  });

  describe.each([
    { kind: 'Gemini', model: 'vertex/gemini-2.5-flash', cached: 2, written: 0 },
    { kind: 'Claude', model: 'vertex/claude-sonnet-4@20250514', cached: 100, written: 20 },
  ])('cached-token accounting for a $kind model', ({ model, cached, written }) => {
    const price = PRICES[model as keyof typeof PRICES] as { input: number; cachedInput: number; cacheWriteInput?: number; output: number };
    it.each([false, true])('records cached tokens and prices them at the cached-input price (stream: %s)', async (stream) => {
      const res = await postChat(gw, key, { model, stream, messages: [{ role: 'user', content: `count my cache, stream ${stream}` }], max_tokens: 32 });
      expect(res.status).toBe(200);
      await res.text();
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
      expect(record).toMatchObject({ served_provider: 'vertex', served_model: model.slice('vertex/'.length), stream, status_code: 200, cached_tokens: cached });
      const prompt = Number(record.prompt_tokens);
      const completion = Number(record.completion_tokens);
      expect(prompt).toBeGreaterThan(cached + written);
      const expected = ((prompt - cached - written) * price.input + cached * price.cachedInput + written * (price.cacheWriteInput ?? price.input) + completion * price.output) / 1e6;
      expect(Number(record.cost_usd)).toBeCloseTo(expected, 10);
      // Cheaper than the same tokens at the full input price.
      expect(Number(record.cost_usd)).toBeLessThan(((prompt - written) * price.input + written * (price.cacheWriteInput ?? price.input) + completion * price.output) / 1e6);
    });
  });

  it('fetched one token and reused it for every request', () => {
    expect(vertex.issued).toEqual(['ya29.fake-1']);
    expect(vertex.requests.length).toBeGreaterThanOrEqual(4);
    expect(vertex.requests.every((r) => r.headers.authorization === 'Bearer ya29.fake-1')).toBe(true);
  });

  it('passes a Vertex error on OpenAI-shaped, keeping its status', async () => {
    const res = await postChat(gw, key, { model: 'vertex/gemini-error-400', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(expectOpenAIError(await res.json()).message).toMatch(/The fake answers 400/);
    await expect(client.chat.completions.create({ model: 'vertex/claude-error-429', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 429 });
    await expect(client.chat.completions.create({ model: 'vertex/gemini-error-503', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 503 });
  });

  it('refuses a model Vertex does not route', async () => {
    const res = await postChat(gw, key, { model: 'vertex/llama-3', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(404);
    expect(expectOpenAIError(await res.json()).param).toBe('model');
  });
});
