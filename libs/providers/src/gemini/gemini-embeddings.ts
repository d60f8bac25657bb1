import type { EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { checkVectors, embeddingUsage, parseJson } from '../openai-compatible/openai-embeddings';

/**
 * The Gemini API's `models/{model}:batchEmbedContents` body: one request per text, each naming
 * the model again (it must match the URL's). No `taskType` is sent: the model's default applies.
 */
export function toGeminiEmbeddingsRequest(model: string, call: EmbeddingsCall): Record<string, unknown> {
  return {
    requests: call.input.map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...(call.dimensions !== undefined ? { outputDimensionality: call.dimensions } : {}),
    })),
  };
}

/** `{embeddings: [{values}]}`, in request order. The Gemini API reports no token counts for embeddings. */
export function fromGeminiEmbeddingsResponse(provider: string, text: string, expected: number): EmbeddingsResult {
  const parsed = parseJson<{ embeddings?: Array<{ values?: unknown }>; usageMetadata?: { promptTokenCount?: number } }>(provider, text);
  const vectors = Array.isArray(parsed?.embeddings) ? parsed.embeddings.map((e) => e?.values) : [];
  return { vectors: checkVectors(provider, vectors, expected), usage: embeddingUsage(parsed?.usageMetadata?.promptTokenCount) };
}
