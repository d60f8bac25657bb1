import { InvalidRequestError } from '@tokenhub/common';
import type { EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { checkVectors, embeddingUsage, parseJson } from '../openai-compatible/openai-embeddings';

/**
 * Which InvokeModel body a Bedrock embedding model takes: Amazon Titan Text Embeddings
 * (`amazon.titan-embed-text-*`, one text a call) or Cohere Embed (`cohere.embed-*`, up to 96
 * texts a call). Anything else is a 400 naming the families served.
 */
export function bedrockEmbedFamily(provider: string, model: string): 'titan' | 'cohere' {
  if (/(^|\.)amazon\.titan-embed-text/.test(model)) return 'titan';
  if (/(^|\.)cohere\.embed-/.test(model)) return 'cohere';
  throw new InvalidRequestError(
    `Provider '${provider}' (Bedrock) embeds with amazon.titan-embed-text-* and cohere.embed-* models, not '${model}'.`,
    'model',
    'embeddings_not_supported',
  );
}

/** Titan Text Embeddings V2: `{inputText, dimensions, normalize}`; vectors come normalised, as OpenAI's do. */
export function toTitanEmbedRequest(text: string, call: EmbeddingsCall): Record<string, unknown> {
  return { inputText: text, ...(call.dimensions !== undefined ? { dimensions: call.dimensions } : {}), normalize: true };
}

/** `{embedding, inputTextTokenCount}`. */
export function fromTitanEmbedResponse(provider: string, text: string): EmbeddingsResult {
  const parsed = parseJson<{ embedding?: unknown; inputTextTokenCount?: number }>(provider, text);
  return { vectors: checkVectors(provider, [parsed?.embedding], 1), usage: embeddingUsage(parsed?.inputTextTokenCount) };
}
