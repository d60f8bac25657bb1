import { validateChatRequest } from './validate-chat-request';

const ok = { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

async function problem(body: unknown) {
  try {
    await validateChatRequest(body);
  } catch (err) {
    return (err as { toBody(): { error: { param: string | null; message: string } }; status: number }).toBody().error;
  }
  return null;
}

describe('validateChatRequest', () => {
  it('accepts the contract example and undeclared OpenAI fields', async () => {
    await expect(validateChatRequest({ ...ok, temperature: 0.7, max_tokens: 100, tools: [{ type: 'function' }], seed: 1, n: 2 })).resolves.toBeDefined();
  });

  it.each([
    [{ ...ok, temperature: 3 }, 'temperature'],
    [{ ...ok, presence_penalty: -2.5 }, 'presence_penalty'],
    [{ ...ok, max_tokens: 1.5 }, 'max_tokens'],
    [{ model: 'openai/gpt-4o' }, 'messages'],
    [{ ...ok, messages: [] }, 'messages'],
    [{ ...ok, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ ...ok, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 42 }] }, 'messages[1].content'],
    [{ ...ok, messages: [{ role: 'tool', content: 'result' }] }, 'messages[0].tool_call_id'],
    [{ ...ok, fallbacks: ['groq/llama', 'nonsense'] }, 'fallbacks'],
    [{ ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ ...ok, stream: 'yes' }, 'stream'],
    [{ ...ok, metadata: 'x' }, 'metadata'],
  ])('rejects %j on %s', async (body, param) => {
    expect((await problem(body))?.param).toBe(param);
  });

  it('takes content parts and assistant tool-call turns without content', async () => {
    await expect(
      validateChatRequest({
        ...ok,
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: '42' },
        ],
      }),
    ).resolves.toBeDefined();
  });

  it('rejects a body that is not an object', async () => {
    expect((await problem([1, 2]))?.message).toMatch(/JSON object/);
  });
  it.each([
    [{ ...ok, messages: [[]] }, 'messages[0]'],
    [{ ...ok, messages: [{ role: 'user', content: 'a' }, [{ role: 'user', content: 'b' }]] }, 'messages[1]'],
  ])('rejects an array in place of a message: %j', async (body, param) => {
    expect(await problem(body)).toMatchObject({ param, message: `${param} must be an object` });
  });

  it.each([
    [{ ...ok, model: 'openai/gpt-4o\u0000' }, 'model'],
    [{ ...ok, model: 'openai/gpt\r\n4o' }, 'model'],
    [{ ...ok, model: 'openai/\ud800' }, 'model'],
    [{ ...ok, fallbacks: ['openai/gpt-4o-mini\u0007'] }, 'fallbacks'],
  ])('rejects a model name with control characters or unpaired surrogates: %j', async (body, param) => {
    expect((await problem(body))?.param).toBe(param);
  });

  it('accepts model names in any script, emoji included', async () => {
    expect(await problem({ ...ok, model: 'openai/モデル-😀' })).toBeNull();
  });

  it.each([
    [[0, 1]],
    [[{ id: 'call_1', type: 'function' }]],
    [[{ id: 'call_1', type: 'function', function: { name: 'f', arguments: {} } }]],
    [[{ type: 'function', function: { name: 'f', arguments: '{}' } }]],
    ['call_1'],
  ])('rejects tool_calls the adapters cannot read: %j', async (toolCalls) => {
    expect((await problem({ ...ok, messages: [{ role: 'assistant', content: null, tool_calls: toolCalls }] }))?.param).toBe('messages[0].tool_calls');
  });

  it('accepts function and custom tool calls', async () => {
    const toolCalls = [
      { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } },
      { id: 'call_2', type: 'custom', custom: { name: 'grep', input: 'x' } },
    ];
    expect(await problem({ ...ok, messages: [{ role: 'assistant', content: null, tool_calls: toolCalls }] })).toBeNull();
  });

  it.each([[[{ type: 'text' }]], [[{ type: 'text', text: 5 }]], [[{ type: 'image_url', image_url: null }]], [[{ type: 'image_url', image_url: 'https://x/a.png' }]]])(
    'rejects content parts without what their type needs: %j',
    async (content) => {
      expect((await problem({ ...ok, messages: [{ role: 'user', content }] }))?.param).toBe('messages[0].content');
    },
  );

  describe('keys that name parts of JavaScript objects', () => {
    const bodies: Record<string, string> = {
      'a top-level constructor object': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"constructor":{"prototype":{"polluted":true}}}',
      'a top-level constructor string': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"constructor":"x"}',
      'a top-level __proto__': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":{"polluted":true}}',
      'a constructor in a message': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi","constructor":{"a":1}}]}',
      'a constructor in a content part': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"x","constructor":{}}]}]}',
      'a tool parameter named constructor': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"constructor":{"type":"string"}}}}}]}',
      'metadata with a constructor key': '{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{"constructor":{"a":1}}}',
    };
    it.each(Object.entries(bodies))('validates %s without throwing anything but a 400', async (_name, json) => {
      const outcome = await validateChatRequest(JSON.parse(json)).then(
        () => 'valid',
        (err: { status?: number }) => err.status ?? err,
      );
      expect([400, 'valid']).toContain(outcome);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});

describe('the plain-request fast path', () => {
  // Required lazily so the spec above keeps its own imports untouched.
  const fc = require('fast-check') as typeof import('fast-check');
  const { isPlainValidChatRequest } = require('./plain-chat-request') as typeof import('./plain-chat-request');
  const { ChatCompletionRequestDto } = require('./chat-completion-request.dto') as typeof import('./chat-completion-request.dto');
  const { getMetadataStorage } = require('class-validator') as typeof import('class-validator');
  const declared = new Set(getMetadataStorage().getTargetValidationMetadatas(ChatCompletionRequestDto, '', true, false).map((m) => m.propertyName));

  const anyValue = fc.oneof(
    fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 5000 }), fc.double({ min: -3, max: 3 }),
    fc.constantFrom(Infinity, NaN, 0.5, 1, 2, -2, 2.0000001), fc.string({ maxLength: 3 }), fc.constantFrom('x'.repeat(300), 'x'.repeat(301), 'a/b', 'openai/gpt-4o', 'gpt-4o', 'a\u0000b', '\ud800'),
    fc.constant({}), fc.constant([]), fc.constant(['openai/gpt-4o']), fc.constant({ a: 1 }),
  );
  // Mostly valid values, so that the fast path is taken often; the rest anything.
  const or = <T>(valid: import('fast-check').Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 19 }, { arbitrary: anyValue, weight: 1 });
  const rarely = fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, { arbitrary: anyValue, weight: 1 });
  const message = fc.record(
    { role: or(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'bot')), content: or(fc.string({ maxLength: 5 })), name: rarely, tool_call_id: rarely },
    { requiredKeys: ['role', 'content'] },
  );
  const body = fc.record(
    {
      model: or(fc.constantFrom('openai/gpt-4o', 'gpt-4o', 'é/ü')), messages: or(fc.array(message, { minLength: 1, maxLength: 3 })),
      fallbacks: or(fc.constantFrom(['openai/gpt-4o-mini'], [], ['groq/llama-3'])), stream: or(fc.boolean()),
      temperature: or(fc.double({ min: -2, max: 2, noNaN: true })), frequency_penalty: or(fc.constantFrom(0, -2, 2)), presence_penalty: or(fc.constantFrom(0.5, null)),
      max_tokens: or(fc.integer({ min: 1, max: 10 })), max_completion_tokens: or(fc.integer({ min: 1, max: 10 })), logprobs: or(fc.boolean()),
      parallel_tool_calls: or(fc.boolean()), prompt_cache_key: or(fc.string({ maxLength: 5 })), user: or(fc.string({ maxLength: 5 })),
      stream_options: or(fc.constantFrom({ include_usage: true }, {})), metadata: or(fc.constantFrom({ team: 'a' }, {})), stop: rarely, seed: anyValue,
    },
    { requiredKeys: ['model', 'messages'] },
  );

  it('accepts nothing the full validation refuses', async () => {
    let fast = 0;
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const clean = JSON.parse(JSON.stringify(b)) as Record<string, unknown>;
        if (!isPlainValidChatRequest(clean, declared)) return;
        fast++;
        // The full path on its own: a copy without the fast path's say.
        const { safePlainToInstance } = require('@tokenhub/common') as typeof import('@tokenhub/common');
        const { validate } = require('class-validator') as typeof import('class-validator');
        const errors = await validate(safePlainToInstance(ChatCompletionRequestDto, clean, { enableImplicitConversion: false }), { forbidUnknownValues: false });
        expect(errors).toEqual([]);
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it('takes the common request', () => {
    expect(isPlainValidChatRequest({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }], temperature: 0.2, stream: true, user: 'u' }, declared)).toBe(true);
    expect(isPlainValidChatRequest({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, declared)).toBe(false);
    expect(isPlainValidChatRequest({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], stop: 'y' }, declared)).toBe(false);
    expect(isPlainValidChatRequest({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x' }], tools: [] }, declared)).toBe(true);
  });
});
