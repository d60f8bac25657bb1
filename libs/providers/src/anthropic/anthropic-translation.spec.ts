import { InvalidRequestError } from '@tokenhub/common';
import { ModelCatalog } from '../catalog/model-catalog';
import { UpstreamError } from '../upstream-error';
import { AnthropicStreamTranslator, finishReasonOf, fromAnthropicResponse, fromAnthropicUsage, toAnthropicRequest } from './anthropic-translation';

describe('toAnthropicRequest', () => {
  it('moves system and developer messages to the top-level system and merges same-role turns', () => {
    const req = toAnthropicRequest(
      {
        messages: [
          { role: 'system', content: 'A' },
          { role: 'developer', content: [{ type: 'text', text: 'B' }] },
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'three' },
        ],
      },
      'claude-x',
    );
    expect(req).toEqual({
      model: 'claude-x',
      max_tokens: 4096,
      system: 'A\n\nB',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
        { role: 'user', content: [{ type: 'text', text: 'three' }] },
      ],
    });
  });

  it('uses max_completion_tokens, then max_tokens, then the default', () => {
    const messages = [{ role: 'user', content: 'x' }];
    expect(toAnthropicRequest({ messages, max_completion_tokens: 10, max_tokens: 20 }, 'm').max_tokens).toBe(10);
    expect(toAnthropicRequest({ messages, max_tokens: 20 }, 'm').max_tokens).toBe(20);
    expect(toAnthropicRequest({ messages }, 'm', 64000).max_tokens).toBe(64000);
  });

  it('maps stop, user, temperature, tools and tool_choice', () => {
    const req = toAnthropicRequest(
      {
        messages: [{ role: 'user', content: 'x' }],
        stop: ['a', 'b'],
        user: 'u1',
        temperature: 1,
        tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
        parallel_tool_calls: false,
        n: 1,
      },
      'm',
    );
    expect(req).toMatchObject({
      stop_sequences: ['a', 'b'],
      metadata: { user_id: 'u1' },
      temperature: 1,
      tools: [{ name: 'f', description: 'd', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'f', disable_parallel_tool_use: true },
    });
    expect(req).not.toHaveProperty('n');
    const tools = [{ type: 'function', function: { name: 'f' } }];
    expect(toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'required' }, 'm').tool_choice).toEqual({ type: 'any' });
    expect(toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'none' }, 'm').tool_choice).toEqual({ type: 'none' });
    expect(toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], tools }, 'm').tools).toEqual([{ name: 'f', input_schema: { type: 'object', properties: {} } }]);
  });

  it.each([
    ['seed', 3],
    ['n', 2],
    ['logprobs', true],
    ['frequency_penalty', 0.5],
    ['presence_penalty', -1],
  ])('refuses %s (Anthropic has no equivalent) with a 400 naming it', (param, value) => {
    expect(() => toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], [param]: value }, 'm')).toThrow(
      expect.objectContaining({ status: 400, param, code: 'unsupported_parameter' }),
    );
    // Neutral values change nothing and pass.
    expect(() => toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], n: 1, logprobs: false, frequency_penalty: 0 }, 'm')).not.toThrow();
  });

  it('rejects a temperature above 1 with a 400 naming the parameter', () => {
    let caught: unknown;
    try {
      toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], temperature: 1.2 }, 'm');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidRequestError);
    expect(caught).toMatchObject({ status: 400, param: 'temperature' });
    expect((caught as Error).message).toMatch(/anthropic/);
  });

  it('translates images, assistant tool calls and tool results', () => {
    const req = toAnthropicRequest(
      {
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'done' },
          { role: 'user', content: 'and?' },
        ],
      },
      'm',
    );
    expect(req.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
          { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
        ],
      },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'done' }, { type: 'text', text: 'and?' }] },
    ]);
  });

  it('turns response_format json_object into a system instruction', () => {
    const req = toAnthropicRequest({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }, 'm');
    expect(req.system).toMatch(/JSON/);
  });
});

describe('responses', () => {
  it('maps stop reasons', () => {
    expect(finishReasonOf('end_turn')).toBe('stop');
    expect(finishReasonOf('stop_sequence')).toBe('stop');
    expect(finishReasonOf('max_tokens')).toBe('length');
    expect(finishReasonOf('tool_use')).toBe('tool_calls');
    expect(finishReasonOf('refusal')).toBe('content_filter');
  });

  it('counts cache reads and writes as prompt tokens', () => {
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 })).toEqual({
      promptTokens: 130,
      completionTokens: 5,
      cachedTokens: 100,
      totalTokens: 135,
      cacheWriteTokens: 20,
    });
  });

  it('builds a chat.completion with tool calls', () => {
    const { body, usage } = fromAnthropicResponse(
      {
        id: 'msg_1',
        type: 'message',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'f', input: { x: 1 } },
          { type: 'tool_use', id: 'toolu_2', name: 'g', input: {} },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 3, output_tokens: 4 },
      },
      'claude-x',
    );
    const json = JSON.parse(body.toString());
    expect(json).toMatchObject({ object: 'chat.completion', model: 'claude-x', usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(json.choices[0].finish_reason).toBe('tool_calls');
    expect(json.choices[0].message.content).toBeNull();
    expect(json.choices[0].message.tool_calls).toEqual([
      { id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
      { id: 'toolu_2', type: 'function', function: { name: 'g', arguments: '{}' } },
    ]);
    expect(usage?.totalTokens).toBe(7);
  });
});

describe('AnthropicStreamTranslator', () => {
  it('translates text, parallel tool calls, finish and usage', () => {
    const t = new AnthropicStreamTranslator('claude-x');
    const events = [
      ['message_start', { message: { id: 'msg_1', usage: { input_tokens: 5, cache_read_input_tokens: 50, output_tokens: 1 } } }],
      ['ping', {}],
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }],
      ['content_block_stop', { index: 0 }],
      ['content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'a', name: 'f', input: {} } }],
      ['content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'b', name: 'f', input: {} } }],
      ['content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"y"' } }],
      ['content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{}' } }],
      ['content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: ':2}' } }],
      ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }],
      ['message_stop', {}],
    ] as const;
    const out = events.flatMap(([type, data]) => t.translate(type, data as Record<string, any>));
    const chunks = out.map((e) => JSON.parse(e.data));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[1].choices[0].delta).toEqual({ content: 'Hi' });
    expect(chunks[2].choices[0].delta.tool_calls[0]).toMatchObject({ index: 0, id: 'a' });
    expect(chunks[3].choices[0].delta.tool_calls[0]).toMatchObject({ index: 1, id: 'b' });
    expect(chunks[4].choices[0].delta.tool_calls[0]).toEqual({ index: 1, function: { arguments: '{"y"' } });
    expect(chunks[5].choices[0].delta.tool_calls[0]).toEqual({ index: 0, function: { arguments: '{}' } });
    expect(chunks[6].choices[0].delta.tool_calls[0]).toEqual({ index: 1, function: { arguments: ':2}' } });
    expect(chunks[7].choices[0].finish_reason).toBe('tool_calls');
    expect(out[8]).toMatchObject({ usageOnly: true, usage: { promptTokens: 55, completionTokens: 9, cachedTokens: 50, totalTokens: 64 } });
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-msg_1']));
    expect(t.finished).toBe(true);
  });

  it('throws an UpstreamError on an error event', () => {
    const t = new AnthropicStreamTranslator('m');
    expect(() => t.translate('error', { error: { type: 'overloaded_error', message: 'Overloaded' } })).toThrow(UpstreamError);
  });
});

describe('catalog pricing of Anthropic usage', () => {
  it('charges cache reads and cache writes at their own prices', () => {
    const usage = fromAnthropicUsage({ input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 })!;
    expect(new ModelCatalog().cost('anthropic', 'claude-sonnet-4-5', usage)).toBeCloseTo((10 * 3 + 100 * 0.3 + 20 * 3.75 + 5 * 15) / 1e6, 12);
  });
});
