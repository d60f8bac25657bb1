import { InvalidRequestError } from '@tokenhub/common';
import type { EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { checkVectors, embeddingUsage, parseJson } from '../openai-compatible/openai-embeddings';

/**
 * Texts per `:predict` call: gemini-embedding-001 takes one instance a request; the
 * text-embedding models take up to 250 (and 20,000 tokens), so 50 keeps long texts under that.
 */
export function vertexTextsPerCall(provider: string, model: string): number {
  if (/^gemini-embedding-/i.test(model)) return 1;
  if (/^(text-embedding-|text-multilingual-embedding-)/i.test(model)) return 50;
  throw new InvalidRequestError(
    `Provider '${provider}' (Vertex AI) embeds with gemini-embedding-* and text-embedding-* models, not '${model}'.`,
    'model',
    'embeddings_not_supported',
  );
}

/** Vertex AI's text embeddings `:predict` body: one instance per text, `outputDimensionality` from `dimensions`. */
export function toVertexPredictRequest(texts: string[], call: EmbeddingsCall): Record<string, unknown> {
  return {
    instances: texts.map((content) => ({ content })),
    ...(call.dimensions !== undefined ? { parameters: { outputDimensionality: call.dimensions } } : {}),
  };
}

interface VertexPrediction {
  embeddings?: { values?: unknown; statistics?: { token_count?: number } };
}

/** `predictions[].embeddings.values`, token counts added up from each prediction's statistics. */
export function fromVertexPredictResponse(provider: string, text: string, expected: number): EmbeddingsResult {
  const parsed = parseJson<{ predictions?: VertexPrediction[] }>(provider, text);
  const predictions = Array.isArray(parsed?.predictions) ? parsed.predictions : [];
  const counts = predictions.map((p) => p?.embeddings?.statistics?.token_count);
  const tokens = counts.every((c) => typeof c === 'number') ? (counts as number[]).reduce((a, b) => a + b, 0) : null;
  return { vectors: checkVectors(provider, predictions.map((p) => p?.embeddings?.values), expected), usage: embeddingUsage(tokens) };
}
