import { completionBody, completionChunks, CompletionAssembler, fromCompletionBody, tokenUsage } from './cached-completion';

const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 } };
const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage,
  system_fingerprint: 'fp_1',
};

describe('cached completions', () => {
  it('a JSON answer replays as JSON with a new id', () => {
    const cached = fromCompletionBody(Buffer.from(JSON.stringify(completion)))!;
    const replay = JSON.parse(completionBody(cached, 'chatcmpl-2', 2));
    expect(replay).toEqual({ ...completion, id: 'chatcmpl-2', created: 2 });
  });

  it('a JSON answer replays as a stream that assembles back into it', () => {
    const cached = fromCompletionBody(JSON.stringify(completion))!;
    const chunks = completionChunks(cached, 'chatcmpl-3', 3, true);
    const parsed = chunks.map((c) => JSON.parse(c));
    expect(parsed[0].choices[0].delta).toEqual({ role: 'assistant', content: null });
    expect(parsed[parsed.length - 2].choices[0].finish_reason).toBe('tool_calls');
    expect(parsed[parsed.length - 1]).toMatchObject({ choices: [], usage });
    expect(parsed.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const assembler = new CompletionAssembler();
    for (const c of chunks) assembler.add(c);
    expect(assembler.result()).toEqual(cached);
  });

  it('assembles a streamed answer: content, tool-call pieces merged by index, usage', () => {
    const chunk = (delta: object, finish: string | null = null) => JSON.stringify({ model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
    const assembler = new CompletionAssembler();
    assembler.add(chunk({ role: 'assistant', content: '' }));
    assembler.add(chunk({ content: 'Hel' }));
    assembler.add(chunk({ content: 'lo' }));
    assembler.add(chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }));
    assembler.add(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }));
    assembler.add(chunk({}, 'stop'));
    assembler.add(JSON.stringify({ model: 'm', choices: [], usage }));
    expect(assembler.result()).toEqual({
      model: 'm',
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'stop' }],
      usage,
    });
  });

  it('an unfinished or broken stream is not an answer', () => {
    const unfinished = new CompletionAssembler();
    unfinished.add(JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }] }));
    expect(unfinished.result()).toBeNull();
    const broken = new CompletionAssembler();
    broken.add('not json');
    expect(broken.result()).toBeNull();
    expect(fromCompletionBody('{"error":{}}')).toBeNull();
  });

  it('without include_usage the stream has no usage chunk and no usage field', () => {
    const cached = fromCompletionBody(JSON.stringify({ ...completion, choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(150) }, finish_reason: 'stop' }] }))!;
    const parsed = completionChunks(cached, 'id', 1, false).map((c) => JSON.parse(c));
    expect(parsed.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
    expect(parsed.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('x'.repeat(150));
  });

  it('reads OpenAI usage as token usage', () => {
    expect(tokenUsage(usage)).toEqual({ promptTokens: 10, completionTokens: 5, cachedTokens: 4, totalTokens: 15 });
    expect(tokenUsage(null)).toBeNull();
  });
});
