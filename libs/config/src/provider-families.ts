import type { ProviderFamily } from './gateway-config';

/**
 * The providers TokenHub knows by name: the wire format each speaks and the base URL each
 * one publishes. A provider is enabled when its API key (or, for self-hosted ones,
 * its base URL) is configured.
 */
export interface KnownProvider {
  /** The wire format the provider speaks; each has its adapter (`PROVIDER_FACTORIES`). */
  family: ProviderFamily;
  defaultBaseUrl?: string;
  /** Forwards OpenAI's `prompt_cache_key` (only OpenAI accepts it today). */
  acceptsPromptCacheKey?: boolean;
}

export const KNOWN_PROVIDERS: Readonly<Record<string, KnownProvider>> = {
  openai: { family: 'openai-compatible', defaultBaseUrl: 'https://api.openai.com/v1', acceptsPromptCacheKey: true },
  groq: { family: 'openai-compatible', defaultBaseUrl: 'https://api.groq.com/openai/v1' },
  mistral: { family: 'openai-compatible', defaultBaseUrl: 'https://api.mistral.ai/v1' },
  deepseek: { family: 'openai-compatible', defaultBaseUrl: 'https://api.deepseek.com/v1' },
  xai: { family: 'openai-compatible', defaultBaseUrl: 'https://api.x.ai/v1' },
  openrouter: { family: 'openai-compatible', defaultBaseUrl: 'https://openrouter.ai/api/v1' },
  together: { family: 'openai-compatible', defaultBaseUrl: 'https://api.together.xyz/v1' },
  fireworks: { family: 'openai-compatible', defaultBaseUrl: 'https://api.fireworks.ai/inference/v1' },
  perplexity: { family: 'openai-compatible', defaultBaseUrl: 'https://api.perplexity.ai' },
  cerebras: { family: 'openai-compatible', defaultBaseUrl: 'https://api.cerebras.ai/v1' },
  ollama: { family: 'openai-compatible', defaultBaseUrl: 'http://127.0.0.1:11434/v1' },
  vllm: { family: 'openai-compatible' },
  anthropic: { family: 'anthropic', defaultBaseUrl: 'https://api.anthropic.com/v1' },
  gemini: { family: 'gemini', defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta' },
  cohere: { family: 'cohere', defaultBaseUrl: 'https://api.cohere.com/v2' },
  // No public base URL: AZURE_BASE_URL names the resource (https://<resource>.openai.azure.com).
  azure: { family: 'azure-openai' },
  // Enabled by VERTEX_PROJECT with VERTEX_CREDENTIALS_FILE or VERTEX_ACCESS_TOKEN; the base URL follows VERTEX_LOCATION.
  vertex: { family: 'vertex' },
  // Enabled by AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (or BEDROCK_BASE_URL); the base URL follows AWS_REGION.
  bedrock: { family: 'bedrock' },
};
