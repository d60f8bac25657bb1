import { modelAllowed } from './model-access';

describe('modelAllowed', () => {
  it('matches exact names, provider wildcards and everything', () => {
    expect(modelAllowed(['openai/gpt-4o'], 'openai', 'gpt-4o')).toBe(true);
    expect(modelAllowed(['openai/gpt-4o'], 'openai', 'gpt-4o-mini')).toBe(false);
    expect(modelAllowed(['openai/*'], 'openai', 'gpt-4o-mini')).toBe(true);
    expect(modelAllowed(['openai/*'], 'groq', 'llama-3.3-70b-versatile')).toBe(false);
    expect(modelAllowed(['*'], 'vllm', 'meta-llama/Llama-3.1-8B')).toBe(true);
    expect(modelAllowed([], 'openai', 'gpt-4o')).toBe(false);
  });

  it('reads a pattern without a provider as a model under any provider, ignoring case', () => {
    expect(modelAllowed(['gpt-4o*'], 'openai', 'gpt-4o-mini')).toBe(true);
    expect(modelAllowed(['GPT-4O'], 'azure', 'gpt-4o')).toBe(true);
    expect(modelAllowed(['*/gpt-4o*'], 'openrouter', 'gpt-4o')).toBe(true);
  });

  it('treats regex characters literally', () => {
    expect(modelAllowed(['openai/gpt-4.1'], 'openai', 'gpt-4x1')).toBe(false);
    expect(modelAllowed(['openai/gpt-4.1'], 'openai', 'gpt-4.1')).toBe(true);
  });
});
