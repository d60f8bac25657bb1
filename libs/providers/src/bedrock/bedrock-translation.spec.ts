import { InvalidRequestError } from '@tokenhub/common';
import { UpstreamError } from '../upstream-error';
import { ConverseStreamTranslator, finishReasonOf, fromConverseResponse, fromConverseUsage, streamException, toConverseRequest } from './bedrock-translation';

describe('toConverseRequest', () => {
  it('moves system messages to system blocks, merges same-role turns and maps inference settings', () => {
    const req = toConverseRequest({
      messages: [
        { role: 'system', content: 'A' },
        { role: 'developer', content: [{ type: 'text', text: 'B' }] },
        { role: 'user', content: 'one' },
        { role: 'user', content: 'two' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'three' },
      ],
      max_completion_tokens: 10,
      max_tokens: 20,
      temperature: 0.2,
      top_p: 0.5,
      stop: 'X',
    });
    expect(req).toEqual({
      system: [{ text: 'A' }, { text: 'B' }],
      messages: [
        { role: 'user', content: [{ text: 'one' }, { text: 'two' }] },
        { role: 'assistant', content: [{ text: 'ok' }] },
        { role: 'user', content: [{ text: 'three' }] },
      ],
      inferenceConfig: { maxTokens: 10, temperature: 0.2, topP: 0.5, stopSequences: ['X'] },
    });
  });

  it('starts with a user turn and maps tool calls, tool results and tools', () => {
    const req = toConverseRequest({
      messages: [
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'user', content: 'and?' },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
    });
    expect(req.messages).toEqual([
      { role: 'user', content: [{ text: '(continue)' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'c1', name: 'f', input: { a: 1 } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'c1', content: [{ text: 'done' }] } }, { text: 'and?' }] },
    ]);
    expect(req.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: 'f' } } });
    expect(toConverseRequest({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }] }).toolConfig).toMatchObject({ toolChoice: { auto: {} } });
    expect(toConverseRequest({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' }).toolConfig).toBeUndefined();
  });

  it('converts data-URL images to bytes and refuses http URLs', () => {
    const req = toConverseRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }] }] });
    expect(req.messages).toEqual([{ role: 'user', content: [{ image: { format: 'jpeg', source: { bytes: 'AAAA' } } }] }]);
    expect(() => toConverseRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] })).toThrow(InvalidRequestError);
  });

  it.each(['logit_bias', 'logprobs', 'frequency_penalty', 'presence_penalty'])('refuses %s naming provider and parameter', (param) => {
    const value = param === 'logit_bias' ? { '1': 2 } : param === 'logprobs' ? true : 0.5;
    let thrown: unknown;
    try {
      toConverseRequest({ messages: [{ role: 'user', content: 'x' }], [param]: value });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidRequestError);
    expect((thrown as InvalidRequestError).message).toMatch(/^Provider bedrock /);
    expect((thrown as InvalidRequestError).param).toBe(param);
    // Neutral values are accepted.
    expect(() => toConverseRequest({ messages: [{ role: 'user', content: 'x' }], frequency_penalty: 0, logprobs: false })).not.toThrow();
  });
});

describe('responses', () => {
  it('maps stop reasons', () => {
    expect(finishReasonOf('end_turn')).toBe('stop');
    expect(finishReasonOf('stop_sequence')).toBe('stop');
    expect(finishReasonOf('max_tokens')).toBe('length');
    expect(finishReasonOf('tool_use')).toBe('tool_calls');
    expect(finishReasonOf('guardrail_intervened')).toBe('content_filter');
    expect(finishReasonOf('content_filtered')).toBe('content_filter');
  });

  it('counts cache reads as prompt tokens', () => {
    expect(fromConverseUsage({ inputTokens: 10, outputTokens: 5, totalTokens: 115, cacheReadInputTokens: 100 })).toEqual({ promptTokens: 110, completionTokens: 5, cachedTokens: 100, totalTokens: 115 });
  });

  it('builds a chat.completion with text and tool calls', () => {
    const { body, usage } = fromConverseResponse(
      {
        output: { message: { role: 'assistant', content: [{ text: 'hi' }, { toolUse: { toolUseId: 't1', name: 'f', input: { a: 1 } } }] } },
        stopReason: 'tool_use',
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      },
      'm',
      'chatcmpl-1',
    );
    const json = JSON.parse(body.toString());
    expect(json.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: 'hi', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] } });
    expect(usage).toMatchObject({ promptTokens: 3, completionTokens: 4, totalTokens: 7 });
    expect(() => fromConverseResponse({} as never, 'm', 'x')).toThrow(UpstreamError);
  });
});

describe('ConverseStreamTranslator', () => {
  it('translates text, tool calls, stop and metadata into chunks', () => {
    const t = new ConverseStreamTranslator('m', 'chatcmpl-s');
    const events = [
      ['messageStart', { role: 'assistant' }],
      ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } }],
      ['contentBlockStop', { contentBlockIndex: 0 }],
      ['contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 't1', name: 'f' } } }],
      ['contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"a"' } } }],
      ['contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: ':1}' } } }],
      ['messageStop', { stopReason: 'tool_use' }],
      ['metadata', { usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } }],
    ] as const;
    const out = events.flatMap(([type, data]) => t.translate(type, data as Record<string, unknown>));
    const chunks = out.map((e) => JSON.parse(e.data));
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hi' },
      { tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
      {},
      null,
    ]);
    expect(chunks[5].choices[0].finish_reason).toBe('tool_calls');
    expect(out[6]).toMatchObject({ usageOnly: true, usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 } });
    expect(t.finished).toBe(true);
  });

  it('turns exception messages into UpstreamErrors with a fitting status', () => {
    const err = streamException('throttlingException', '{"message":"slow down"}');
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/slow down/);
  });
});
