import { cacheKey, canonicalJson } from './cache-key';

describe('cacheKey', () => {
  const base = {
    namespace: 'faq',
    owner: 'team-1',
    models: ['openai/gpt-4o'],
    body: { model: 'openai/gpt-4o', temperature: 0.2, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is TokenHub?' }] },
  };
  const withBody = (body: Record<string, unknown>) => cacheKey({ ...base, body: { ...base.body, ...body } });
  const key = cacheKey(base);

  it('is stable under key order, whitespace at the ends and text parts', () => {
    const reordered = cacheKey({
      ...base,
      body: {
        messages: [
          { content: '  Be brief.', role: 'system' },
          { role: 'user', content: [{ type: 'text', text: 'What is TokenHub?  ' }] },
        ],
        temperature: 0.2,
        model: 'openai/gpt-4o',
      },
    });
    expect(reordered).toEqual(key);
    expect(key.lastUserText).toBe('What is TokenHub?');
  });

  it('ignores fields that do not change the answer', () => {
    expect(withBody({ stream: true, stream_options: { include_usage: true }, user: 'u', metadata: { a: 1 }, prompt_cache_key: 'other' })).toEqual(key);
  });

  it('separates namespaces, owners, models and answer-changing parameters', () => {
    expect(cacheKey({ ...base, namespace: 'other' }).scopeHash).not.toBe(key.scopeHash);
    expect(cacheKey({ ...base, owner: 'team-2' }).scopeHash).not.toBe(key.scopeHash);
    expect(cacheKey({ ...base, models: ['openai/gpt-4o-mini'] }).scopeHash).not.toBe(key.scopeHash);
    expect(cacheKey({ ...base, models: ['openai/gpt-4o', 'groq/llama'] }).scopeHash).not.toBe(key.scopeHash);
    for (const change of [{ temperature: 0.3 }, { tools: [{ type: 'function', function: { name: 'f' } }] }, { response_format: { type: 'json_object' } }, { seed: 1 }, { n: 2 }]) {
      expect(withBody(change).scopeHash).not.toBe(key.scopeHash);
    }
  });

  it('the history is the scope; the last turn only the request', () => {
    const otherQuestion = withBody({ messages: [base.body.messages[0], { role: 'user', content: 'Who made TokenHub?' }] });
    expect(otherQuestion.scopeHash).toBe(key.scopeHash);
    expect(otherQuestion.requestHash).not.toBe(key.requestHash);
    const otherHistory = withBody({ messages: [{ role: 'system', content: 'Be verbose.' }, base.body.messages[1]] });
    expect(otherHistory.scopeHash).not.toBe(key.scopeHash);
  });

  it('has no text to embed when the last turn is not a user text', () => {
    expect(withBody({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }).lastUserText).toBeNull();
    expect(withBody({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }).lastUserText).toBeNull();
  });

  it('canonicalJson sorts keys at every level', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null, u: undefined })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
