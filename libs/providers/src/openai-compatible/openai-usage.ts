import type { TokenUsage } from '../chat-provider.interface';

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

/** Reads OpenAI's `usage` object; null when the provider reported none. */
export function fromOpenAIUsage(usage: OpenAIUsage | null | undefined): TokenUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const promptTokens = usage.prompt_tokens ?? 0;
  const completionTokens = usage.completion_tokens ?? 0;
  return {
    promptTokens,
    completionTokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    totalTokens: usage.total_tokens ?? promptTokens + completionTokens,
  };
}
