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
