import { estimatePromptTokens, maxOutputTokens, priceOf, roundUsdUp } from './cost-estimate';

describe('cost estimate', () => {
  it('estimates prompt tokens from characters, per-message overhead and tools', () => {
    // 4 ("user") + 19 characters -> 6 tokens, + 4 for the message, + 3 for the reply
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: 'Hello, how are you?' }] })).toBe(13);
    const withImage = estimatePromptTokens({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,' + 'A'.repeat(100_000) } }] }],
    });
    expect(withImage).toBe(3 + 4 + 1000 + Math.ceil(8 / 4));
    const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: '' }], tools })).toBe(3 + 4 + Math.ceil((4 + JSON.stringify(tools).length) / 4));
  });

  it('caps output by the request, the model, or the default, times n', () => {
    const entry = { maxOutputTokens: 16384 };
    expect(maxOutputTokens({ max_completion_tokens: 10, max_tokens: 20 }, entry)).toBe(10);
    expect(maxOutputTokens({ max_tokens: 20 }, entry)).toBe(20);
    expect(maxOutputTokens({ max_tokens: 100_000 }, entry)).toBe(16384);
    expect(maxOutputTokens({}, entry)).toBe(16384);
    expect(maxOutputTokens({}, undefined)).toBe(4096);
    expect(maxOutputTokens({ max_tokens: 50, n: 3 }, entry)).toBe(150);
  });

  it('prices by the catalog, rounding up, and knows when there is no price', () => {
    expect(priceOf({ input: 2.5, output: 10 }, 13, 50)).toBeCloseTo(0.0005325, 10);
    expect(priceOf({ input: 2.5 }, 13, 50)).toBeNull();
    expect(priceOf(undefined, 13, 50)).toBeNull();
    expect(roundUsdUp(0.00000000001)).toBe(1e-10);
    expect(roundUsdUp(0.0005325)).toBe(0.0005325);
  });
});
