import type { ProviderConfig, ProviderFamily } from '@tokenhub/config';
import type { ChatProvider } from './chat-provider.interface';
import type { CredentialPool } from './credentials/credential-pool';
import type { UpstreamHttpClient } from './http/upstream-http-client';
import { AnthropicProvider } from './anthropic/anthropic.provider';
import { GeminiProvider } from './gemini/gemini.provider';
import { OpenAICompatibleProvider } from './openai-compatible/openai-compatible.provider';
import { CohereProvider } from './cohere/cohere.provider';
import { AzureOpenAIProvider } from './azure-openai/azure-openai.provider';
import { VertexProvider } from './vertex/vertex.provider';
import { BedrockProvider } from './bedrock/bedrock.provider';

export type ProviderFactory = (config: ProviderConfig, http: UpstreamHttpClient, credentials: CredentialPool) => ChatProvider;

/** One adapter per wire format; `ProviderRegistry` picks by the provider's family. */
export const PROVIDER_FACTORIES: Record<ProviderFamily, ProviderFactory> = {
  'openai-compatible': (config, http, credentials) => new OpenAICompatibleProvider(config, http, credentials),
  anthropic: (config, http, credentials) => new AnthropicProvider(config, http, credentials),
  gemini: (config, http, credentials) => new GeminiProvider(config, http, credentials),
  cohere: (config, http, credentials) => new CohereProvider(config, http, credentials),
  'azure-openai': (config, http, credentials) => new AzureOpenAIProvider(config, http, credentials),
  vertex: (config, http, credentials) => new VertexProvider(config, http, credentials),
  bedrock: (config, http, credentials) => new BedrockProvider(config, http, credentials),
};
