import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

// Project-level testTimeout in jest.config.js is not applied by Jest; the embedded store takes seconds to open.
jest.setTimeout(30_000);

const user = [{ role: 'user', content: 'hi' }];

describe('chat request validation', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, BODY_LIMIT: '64kb' });
    ({ key } = await gw.createKey('validation-spec'));
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  /** Sends a body, expects `status` with an OpenAI-shaped error and a request id, and that the upstream was not called. */
  async function rejected(body: unknown, status = 400, headers: Record<string, string> = {}) {
    const before = fake.requests.length;
    const res = await postChat(gw, key, body, headers);
    const text = await res.text();
    expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(fake.requests.length).toBe(before);
    return expectOpenAIError(JSON.parse(text));
  }

  describe('the acceptance cases', () => {
    it('rejects temperature 3 naming temperature', async () => {
      const error = await rejected(chatBody({ temperature: 3 }));
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'temperature' });
      expect(error.message).toMatch(/temperature/);
    });

    it('rejects a body without messages naming messages', async () => {
      const error = await rejected({ model: 'openai/gpt-4o' });
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'messages' });
      expect(error.message).toMatch(/messages/);
    });

    it('says what is wrong with a missing or mistyped field, not which size limit it fails', async () => {
      expect((await rejected({ model: 'openai/gpt-4o' })).message).toBe('messages must be an array');
      expect((await rejected(chatBody({ messages: {} }))).message).toBe('messages must be an array');
      expect((await rejected({ messages: user })).message).toBe('model must be a string');
      expect((await rejected(chatBody({ fallbacks: 'openai/gpt-4o-mini' }))).message).toBe('fallbacks must be an array');
      expect((await rejected(chatBody({ temperature: '0.5' }))).message).toMatch(/^temperature must be a number/);
    });

    it('rejects a bad role naming messages[0].role', async () => {
      const error = await rejected(chatBody({ messages: [{ role: 'wizard', content: 'hi' }] }));
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'messages[0].role' });
      expect(error.message).toMatch(/role/);
    });

    it('names the index of the bad message', async () => {
      const error = await rejected(chatBody({ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'robot', content: 'x' }] }));
      expect(error.param).toBe('messages[2].role');
    });

    it('rejects a malformed fallbacks entry naming fallbacks', async () => {
      const error = await rejected(chatBody({ fallbacks: ['nonsense'] }));
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).toMatch(/^fallbacks(\[0\])?$/);
      expect(error.message).toMatch(/provider\/model/);
    });

    it('rejects malformed JSON OpenAI-shaped', async () => {
      const error = await rejected('{"model": "openai/gpt-4o", "messages": [');
      expect(error).toMatchObject({ type: 'invalid_request_error', param: null });
      expect(error.message).toMatch(/JSON/);
    });
  });

  describe('never a 500', () => {
    const cases: Array<[string, unknown, string | null]> = [
      ['messages empty', chatBody({ messages: [] }), 'messages'],
      ['messages not an array', chatBody({ messages: 'hi' }), 'messages'],
      ['messages holding null', chatBody({ messages: [null] }), 'messages[0]'],
      ['messages holding a string', chatBody({ messages: ['hi'] }), 'messages[0]'],
      ['a message without content', chatBody({ messages: [{ role: 'user' }] }), 'messages[0].content'],
      ['a message with numeric content', chatBody({ messages: [{ role: 'user', content: 42 }] }), 'messages[0].content'],
      ['a content part without type', chatBody({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }), 'messages[0].content'],
      ['a role that is not a string', chatBody({ messages: [{ role: 7, content: 'hi' }] }), 'messages[0].role'],
      ['a tool message without tool_call_id', chatBody({ messages: [{ role: 'tool', content: 'sunny' }] }), 'messages[0].tool_call_id'],
      ['model missing', { messages: user }, 'model'],
      ['model empty', { model: '', messages: user }, 'model'],
      ['model not a string', { model: 4, messages: user }, 'model'],
      ['temperature below -2', chatBody({ temperature: -2.5 }), 'temperature'],
      ['temperature as a string', chatBody({ temperature: '0.5' }), 'temperature'],
      ['frequency_penalty 3', chatBody({ frequency_penalty: 3 }), 'frequency_penalty'],
      ['presence_penalty -3', chatBody({ presence_penalty: -3 }), 'presence_penalty'],
      ['max_tokens 0', chatBody({ max_tokens: 0 }), 'max_tokens'],
      ['max_tokens 1.5', chatBody({ max_tokens: 1.5 }), 'max_tokens'],
      ['max_completion_tokens as a string', chatBody({ max_completion_tokens: '100' }), 'max_completion_tokens'],
      ['stream as a string', chatBody({ stream: 'true' }), 'stream'],
      ['stop as a number', chatBody({ stop: 5 }), 'stop'],
      ['stop with five sequences', chatBody({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop'],
      ['fallbacks as a string', chatBody({ fallbacks: 'openai/gpt-4o-mini' }), 'fallbacks'],
      ['fallbacks holding a number', chatBody({ fallbacks: [42] }), 'fallbacks'],
      ['a later malformed fallbacks entry', chatBody({ fallbacks: ['openai/gpt-4o-mini', 'nonsense'] }), 'fallbacks'],
      ['metadata as a string', chatBody({ metadata: 'team=search' }), 'metadata'],
      ['logit_bias as an array', chatBody({ logit_bias: [1, 2] }), 'logit_bias'],
      ['modalities with video', chatBody({ modalities: ['video'] }), 'modalities'],
      ['user as a number', chatBody({ user: 1234 }), 'user'],
      ['stream_options as a string', chatBody({ stream: true, stream_options: 'usage' }), 'stream_options'],
    ];
    it.each(cases)('rejects %s with a 400', async (_name, body, param) => {
      const error = await rejected(body);
      expect(error.type).toBe('invalid_request_error');
      if (param === 'fallbacks') expect(error.param).toMatch(/^fallbacks(\[\d\])?$/);
      else expect(error.param).toBe(param);
    });

    it.each([
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a JSON string', '"hello"'],
      ['a JSON number', '42'],
      ['an empty body', ''],
      ['trailing garbage', '{"model":"openai/gpt-4o","messages":[]}}'],
      ['single quotes', "{'model': 'gpt-4o'}"],
    ])('rejects %s as the body with a 400', async (_name, raw) => {
      const error = await rejected(raw);
      expect(error.type).toBe('invalid_request_error');
    });

    it('rejects a body that is not JSON with 415', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
        body: JSON.stringify(chatBody()),
      });
      expect(res.status).toBe(415);
      expectOpenAIError(await res.json());
    });

    it('rejects a body larger than BODY_LIMIT with 413', async () => {
      const error = await rejected(chatBody({ messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] }), 413);
      expect(error.type).toBe('invalid_request_error');
    });
  });

  describe('models', () => {
    it('rejects an unknown provider prefix with a 400 that lists the configured providers', async () => {
      const error = await rejected(chatBody({ model: 'nosuch/gpt-4o' }));
      expect(error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
      expect(error.message).toContain('nosuch/gpt-4o');
      expect(error.message).toContain('(openai)');
    });

    it('says how to enable a known provider that is not configured', async () => {
      const error = await rejected(chatBody({ model: 'groq/llama-3.3-70b-versatile' }));
      expect(error).toMatchObject({ param: 'model', code: 'model_not_found' });
      expect(error.message).toContain('GROQ_API_KEY');
      expect(error.message).toContain('(openai)');
    });

    it('rejects an unknown bare model name when no default provider is set', async () => {
      const error = await rejected(chatBody({ model: 'my-private-model' }));
      expect(error).toMatchObject({ param: 'model', code: 'model_not_found' });
      expect(error.message).toContain('openai');
    });

    it('names the fallback entry whose provider is unknown', async () => {
      const error = await rejected(chatBody({ fallbacks: ['openai/gpt-4o-mini', 'nosuch/model'] }));
      expect(error).toMatchObject({ param: 'fallbacks[1]', code: 'model_not_found' });
      expect(error.message).toContain('(openai)');
    });

    it('rejects an empty model after the provider prefix', async () => {
      const error = await rejected(chatBody({ model: 'openai/' }));
      expect(error.param).toBe('model');
    });
  });

  describe('what is accepted', () => {
    it('accepts every contract field at a valid value', async () => {
      const res = await postChat(
        gw,
        key,
        chatBody({
          messages: [
            { role: 'system', content: 'You are a professional assistant' },
            { role: 'user', content: 'Please introduce yourself' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
            { role: 'tool', tool_call_id: 'call_1', content: 'done' },
            { role: 'user', content: [{ type: 'text', text: 'and now?' }] },
          ],
          fallbacks: ['openai/gpt-4o-mini'],
          stream: false,
          temperature: 1.5,
          frequency_penalty: 2,
          presence_penalty: -2,
          max_tokens: 1,
          max_completion_tokens: 100,
          logit_bias: { '50256': -100 },
          logprobs: false,
          metadata: { team: 'search' },
          modalities: ['text'],
          parallel_tool_calls: true,
          prompt_cache_key: 'abc',
          stop: '\n',
          user: 'user-1234',
        }),
      );
      expect(res.status).toBe(200);
      expect(fake.requests[fake.requests.length - 1].body).toMatchObject({ temperature: 1.5, prompt_cache_key: 'abc', max_tokens: 1 });
    });

    it('accepts a negative temperature (the contract allows -2..2) and passes on what the provider says of it', async () => {
      const res = await postChat(gw, key, chatBody({ temperature: -1, fallbacks: ['openai/gpt-4o-mini'] }));
      // OpenAI (and the fake) reject a negative temperature with a 400: not retried, not fallen back.
      expect(res.status).toBe(400);
      const error = expectOpenAIError(await res.json());
      expect(error.param).toBe('temperature');
      expect(fake.callsFor('gpt-4o-mini')).toBe(0);
    });

    it('accepts stop: null and a developer message', async () => {
      const res = await postChat(gw, key, chatBody({ stop: null, messages: [{ role: 'developer', content: 'be brief' }, ...user] }));
      expect(res.status).toBe(200);
    });
  });
});
