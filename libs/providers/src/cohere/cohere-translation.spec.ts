import { InvalidRequestError } from '@tokenhub/common';
import { UpstreamError } from '../upstream-error';
import { CohereStreamTranslator, fromCohereResponse, fromCohereUsage, toCohereRequest } from './cohere-translation';

const P = 'cohere';
const M = 'command-a-03-2025';
const user = [{ role: 'user', content: 'hi' }];

function rejects(body: Record<string, unknown>): InvalidRequestError {
  try {
    toCohereRequest(P, M, body, false);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  }
  throw new Error('expected a rejection');
}

describe('toCohereRequest', () => {
  it('maps messages of every role, tools and parameters', () => {
    const out = toCohereRequest(
      P,
      M,
      {
        model: 'ignored',
        messages: [
          { role: 'developer', content: 'be brief' },
          { role: 'system', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
          { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA', detail: 'low' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: '42' },
          { role: 'assistant', content: 'done' },
        ],
        tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }],
        tool_choice: 'required',
        stop: 'END',
        max_completion_tokens: 50,
        max_tokens: 10,
        temperature: 0.3,
        top_p: 1,
        frequency_penalty: 0.5,
        presence_penalty: 0,
        seed: 7,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
        stream_options: { include_usage: true },
        user: 'u',
        parallel_tool_calls: true,
      },
      true,
    );
    expect(out).toEqual({
      model: M,
      stream: true,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'system', content: 'ab' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA', detail: 'low' } }] },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
        { role: 'assistant', content: 'done' },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }],
      tool_choice: 'REQUIRED',
      stop_sequences: ['END'],
      max_tokens: 50,
      temperature: 0.3,
      p: 0.99,
      frequency_penalty: 0.5,
      presence_penalty: 0,
      seed: 7,
      response_format: { type: 'json_object', json_schema: { type: 'object' } },
    });
  });

  it('omits tool_choice auto, maps none, and json_object', () => {
    expect(toCohereRequest(P, M, { messages: user, tool_choice: 'auto', response_format: { type: 'json_object' } }, false)).toEqual({
      model: M,
      messages: user,
      response_format: { type: 'json_object' },
    });
    expect(toCohereRequest(P, M, { messages: user, tool_choice: 'none' }, false).tool_choice).toBe('NONE');
  });

  it.each([
    [{ temperature: 1.5 }, 'temperature'],
    [{ frequency_penalty: -0.5 }, 'frequency_penalty'],
    [{ presence_penalty: 1.2 }, 'presence_penalty'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ tool_choice: { type: 'function', function: { name: 'f' } } }, 'tool_choice'],
    [{ n: 2 }, 'n'],
  ])('refuses %j with a 400 naming the provider and %s', (extra, param) => {
    const err = rejects({ messages: user, ...extra });
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toContain('cohere');
  });
});

describe('fromCohereResponse', () => {
  it('joins text parts and maps usage from tokens, with cached tokens', () => {
    const { body, usage } = fromCohereResponse(P, M, {
      id: 'abc',
      finish_reason: 'COMPLETE',
      message: { role: 'assistant', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] },
      usage: { billed_units: { input_tokens: 5, output_tokens: 2 }, tokens: { input_tokens: 12, output_tokens: 3 }, cached_tokens: 4 },
    });
    const json = JSON.parse(body.toString());
    expect(json).toMatchObject({ id: 'chatcmpl-abc', object: 'chat.completion', model: M });
    expect(json.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' });
    expect(usage).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 4, totalTokens: 15 });
    expect(json.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 } });
  });

  it('maps tool calls and finish reasons; billed_units is the fallback', () => {
    const { body, usage } = fromCohereResponse(P, M, {
      id: 'x',
      finish_reason: 'TOOL_CALL',
      message: { role: 'assistant', tool_plan: 'plan', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      usage: { billed_units: { input_tokens: 5, output_tokens: 2 } },
    });
    const json = JSON.parse(body.toString());
    expect(json.choices[0].message).toMatchObject({ content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] });
    expect(json.choices[0].finish_reason).toBe('tool_calls');
    expect(usage).toEqual({ promptTokens: 5, completionTokens: 2, cachedTokens: 0, totalTokens: 7 });
    const reason = (r: string) => JSON.parse(fromCohereResponse(P, M, { finish_reason: r, message: { content: [] } }).body.toString()).choices[0].finish_reason;
    expect(reason('STOP_SEQUENCE')).toBe('stop');
    expect(reason('MAX_TOKENS')).toBe('length');
    expect(() => reason('ERROR')).toThrow(UpstreamError);
    expect(fromCohereUsage(undefined)).toBeNull();
  });
});

describe('CohereStreamTranslator', () => {
  it('turns Cohere events into OpenAI chunks', () => {
    const t = new CohereStreamTranslator(P, M);
    const events = [
      { type: 'message-start', id: 'm1', delta: { message: { role: 'assistant' } } },
      { type: 'content-start', index: 0 },
      { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hi' } } } },
      { type: 'content-end', index: 0 },
      { type: 'tool-plan-delta', delta: { message: { tool_plan: 'x' } } },
      { type: 'tool-call-start', index: 1, delta: { message: { tool_calls: { id: 'a', type: 'function', function: { name: 'f', arguments: '' } } } } },
      { type: 'tool-call-delta', index: 1, delta: { message: { tool_calls: { function: { arguments: '{"q"' } } } } },
      { type: 'tool-call-start', index: 2, delta: { message: { tool_calls: { id: 'b', type: 'function', function: { name: 'g', arguments: '' } } } } },
      { type: 'tool-call-delta', index: 1, delta: { message: { tool_calls: { function: { arguments: ':1}' } } } } },
      { type: 'message-end', delta: { finish_reason: 'TOOL_CALL', usage: { tokens: { input_tokens: 3, output_tokens: 4 } } } },
    ];
    const out = events.flatMap((e) => t.translate(e));
    const chunks = out.map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.id === 'chatcmpl-m1' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks[1].choices[0].delta).toEqual({ content: 'Hi' });
    expect(chunks[2].choices[0].delta.tool_calls).toEqual([{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '' } }]);
    expect(chunks[3].choices[0].delta.tool_calls).toEqual([{ index: 0, function: { arguments: '{"q"' } }]);
    expect(chunks[4].choices[0].delta.tool_calls[0]).toMatchObject({ index: 1, id: 'b' });
    expect(chunks[5].choices[0].delta.tool_calls).toEqual([{ index: 0, function: { arguments: ':1}' } }]);
    expect(chunks[6].choices[0].finish_reason).toBe('tool_calls');
    expect(chunks[7].choices).toEqual([]);
    expect(out[7]).toMatchObject({ usageOnly: true, usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7, cachedTokens: 0 } });
    expect(t.finished).toBe(true);
  });

  it('throws on an ERROR finish', () => {
    const t = new CohereStreamTranslator(P, M);
    expect(() => t.translate({ type: 'message-end', delta: { finish_reason: 'ERROR' } })).toThrow(UpstreamError);
  });
});
