import OpenAI from 'openai';
import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, Gateway, postChat, readSse, startGateway } from './harness';

/** The body of the contract's curl example, verbatim: a bare model name the catalog sends to openai. */
const CONTRACT_BODY = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello, how are you?' }], temperature: 0.7, max_tokens: 100 };
const ECHO = 'echo: Hello, how are you?';

// Project-level testTimeout in jest.config.js is not applied by Jest (it is a global option); the
// embedded store takes seconds to open.
jest.setTimeout(30_000);

describe('chat completions', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: string;
  let client: OpenAI;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base });
    ({ key } = await gw.createKey('chat-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  /** The last body the fake upstream received. */
  const lastUpstream = () => fake.requests[fake.requests.length - 1].body;

  describe('the contract example', () => {
    it('answers the curl body, sent with raw fetch and a key from the admin API, with a chat.completion', async () => {
      expect(key).toMatch(/^sk-bf-/);
      const res = await postChat(gw, key, CONTRACT_BODY);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-tokenhub-provider')).toBe('openai');
      expect(res.headers.get('x-tokenhub-model')).toBe('gpt-4o');
      expect(res.headers.get('x-tokenhub-attempts')).toBe('1');
      const json = (await res.json()) as Record<string, any>;
      expect(json.object).toBe('chat.completion');
      expect(json.id).toMatch(/^chatcmpl-/);
      expect(json.choices).toHaveLength(1);
      expect(json.choices[0].message).toMatchObject({ role: 'assistant', content: ECHO });
      expect(json.choices[0].finish_reason).toBe('stop');
      expect(json.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
      // The upstream got the request as OpenAI takes it: the bare name, the caller's values.
      expect(lastUpstream()).toEqual(CONTRACT_BODY);
      expect(fake.requests[fake.requests.length - 1].headers.authorization).toBe('Bearer sk-upstream');
    });

    it('works with the official openai SDK, unchanged but for baseURL', async () => {
      const response = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hello, how are you?' }],
        temperature: 0.7,
        max_tokens: 100,
      });
      expect(response.object).toBe('chat.completion');
      expect(response.choices[0].message.content).toBe(ECHO);
      expect(response.usage?.total_tokens).toBeGreaterThan(0);
      expect(lastUpstream()).toMatchObject({ model: 'gpt-4o', temperature: 0.7, max_tokens: 100 });
    });

    it('streams chat.completion.chunks to the SDK async iterator, ending properly', async () => {
      const { data: stream, response } = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello, how are you?' }], temperature: 0.7, max_tokens: 100, stream: true })
        .withResponse();
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('x-tokenhub-provider')).toBe('openai');
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.length).toBeGreaterThan(2);
      for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(ECHO);
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('stop');
      // The caller did not ask for usage, so the usage-only chunk is not among them.
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    });

    it('gives the SDK the usage chunk when it asks for include_usage', async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hello, how are you?' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
    });

    it('streams the contract body with raw fetch: chunks, then data: [DONE]', async () => {
      const res = await postChat(gw, key, { ...CONTRACT_BODY, stream: true });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const { events, raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(events[events.length - 1].data).toBe('[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(ECHO);
    });

    it('surfaces gateway errors to the SDK as its typed errors', async () => {
      const err = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 3 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('temperature');

      const bad = new OpenAI({ apiKey: 'sk-bf-not-a-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
      await expect(bad.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(
        OpenAI.AuthenticationError,
      );
    });
  });

  describe('what reaches the provider', () => {
    it('passes OpenAI fields the contract does not list through unchanged', async () => {
      const extras = {
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
              strict: true,
            },
          },
        ],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'number' } } }, strict: true },
        },
        seed: 42,
        top_p: 0.9,
        n: 1,
      };
      const res = await postChat(gw, key, chatBody({ ...extras, temperature: 0.2, user: 'user-1234', stop: ['\n\n'] }));
      expect(res.status).toBe(200);
      const sent = lastUpstream();
      for (const [field, value] of Object.entries(extras)) expect(sent[field]).toEqual(value);
      expect(sent).toMatchObject({ model: 'gpt-4o', temperature: 0.2, user: 'user-1234', stop: ['\n\n'] });
    });

    it('passes an image, parallel_tool_calls, json_object and logprobs through unchanged', async () => {
      const extras = {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe this' },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
            ],
          },
        ],
        tools: [
          { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
          { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
        ],
        parallel_tool_calls: true,
        response_format: { type: 'json_object' },
        logprobs: true,
        top_logprobs: 3,
      };
      const res = await postChat(gw, key, chatBody(extras));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('echo: Describe this');
      const sent = lastUpstream();
      for (const [field, value] of Object.entries(extras)) expect(sent[field]).toEqual(value);
    });

    it('keeps fallbacks and metadata to itself', async () => {
      const res = await postChat(gw, key, chatBody({ fallbacks: ['openai/gpt-4o-mini'], metadata: { team: 'search', feature: 'autocomplete' } }));
      expect(res.status).toBe(200);
      const sent = lastUpstream();
      expect(sent).not.toHaveProperty('fallbacks');
      expect(sent).not.toHaveProperty('metadata');
      expect(sent.messages).toEqual([{ role: 'user', content: 'Hello, how are you?' }]);
    });

    it('sends the contract default temperature 0.7 when the caller gives none', async () => {
      const res = await postChat(gw, key, chatBody());
      expect(res.status).toBe(200);
      expect(lastUpstream().temperature).toBe(0.7);
    });

    it('keeps a caller temperature of 0 (not replaced by the default)', async () => {
      const res = await postChat(gw, key, chatBody({ temperature: 0 }));
      expect(res.status).toBe(200);
      expect(lastUpstream().temperature).toBe(0);
    });

    it.each(['openai/o3-mini', 'o3-mini', 'openai/gpt-5', 'openai/o3-mini-2025-01-31'])('adds no temperature for the reasoning model %s', async (model) => {
      const res = await postChat(gw, key, chatBody({ model }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-provider')).toBe('openai');
      expect(lastUpstream()).not.toHaveProperty('temperature');
      expect(lastUpstream().model).toBe(model.replace(/^openai\//, ''));
    });

    it('adds no default temperature when streaming from a reasoning model either', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/o4-mini', stream: true }));
      expect(res.status).toBe(200);
      const { raw } = await readSse(res);
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(lastUpstream()).not.toHaveProperty('temperature');
      expect(lastUpstream().stream_options).toEqual({ include_usage: true });
    });

    it('strips the provider prefix from the model it forwards', async () => {
      const res = await postChat(gw, key, chatBody({ model: 'openai/gpt-4.1-mini' }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-model')).toBe('gpt-4.1-mini');
      expect(lastUpstream().model).toBe('gpt-4.1-mini');
    });
  });
});
