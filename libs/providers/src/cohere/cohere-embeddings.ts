import type { EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { checkVectors, embeddingUsage, parseJson } from '../openai-compatible/openai-embeddings';

/** Texts per call to Cohere's embed endpoint (its limit, on Bedrock too). */
export const COHERE_MAX_TEXTS = 96;

/**
 * The `input_type` TokenHub sends: OpenAI's API has none, and its embeddings are compared
 * with each other symmetrically (queries against queries in the response cache, or a caller's
 * own index). `search_query` is what Cohere recommends for text that is looked up with.
 */
export const COHERE_DEFAULT_INPUT_TYPE = 'search_query';

/** The body of Cohere's `POST /v2/embed` (and of Cohere embed models on Bedrock, without `model`). */
export function toCohereEmbedRequest(texts: string[], call: EmbeddingsCall, withModel: boolean): Record<string, unknown> {
  return {
    ...(withModel ? { model: call.model } : {}),
    texts,
    input_type: COHERE_DEFAULT_INPUT_TYPE,
    embedding_types: ['float'],
    ...(call.dimensions !== undefined ? { output_dimension: call.dimensions } : {}),
  };
}

interface CohereEmbedResponse {
  embeddings?: { float?: unknown[] } | unknown[];
  meta?: { billed_units?: { input_tokens?: number } };
}

/** `embeddings.float` (or, for `embeddings_floats` answers, `embeddings`), with the billed input tokens. */
export function fromCohereEmbedResponse(provider: string, text: string, expected: number, inputTokens?: number): EmbeddingsResult {
  const parsed = parseJson<CohereEmbedResponse>(provider, text);
  const embeddings = parsed?.embeddings;
  const vectors = Array.isArray(embeddings) ? embeddings : Array.isArray(embeddings?.float) ? embeddings.float : [];
  return { vectors: checkVectors(provider, vectors, expected), usage: embeddingUsage(inputTokens ?? parsed?.meta?.billed_units?.input_tokens) };
}
