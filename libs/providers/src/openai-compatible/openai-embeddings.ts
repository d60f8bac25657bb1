import type { EmbeddingsCall, EmbeddingsResult, TokenUsage } from '../chat-provider.interface';
import { UpstreamError } from '../upstream-error';

/** OpenAI's `POST /embeddings` body for a call; vectors are always asked for as floats. */
export function toOpenAIEmbeddingsRequest(call: EmbeddingsCall): Record<string, unknown> {
  const body: Record<string, unknown> = { model: call.model, input: call.tokens ?? call.input, encoding_format: 'float' };
  if (call.dimensions !== undefined) body.dimensions = call.dimensions;
  if (call.user !== undefined) body.user = call.user;
  return body;
}

interface OpenAIEmbeddingsResponse {
  data?: Array<{ index?: number; embedding?: unknown }>;
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

/** Reads OpenAI's embeddings list (`data[].embedding`, `usage.prompt_tokens`), in input order. */
export function fromOpenAIEmbeddingsResponse(provider: string, text: string, expected: number): EmbeddingsResult {
  const parsed = parseJson<OpenAIEmbeddingsResponse>(provider, text);
  if (!Array.isArray(parsed?.data)) throw malformed(provider, 'without data');
  const vectors: number[][] = new Array<number[]>(parsed.data.length);
  for (const [i, item] of parsed.data.entries()) vectors[typeof item?.index === 'number' ? item.index : i] = item?.embedding as number[];
  return { vectors: checkVectors(provider, vectors, expected), usage: embeddingUsage(parsed.usage?.prompt_tokens, parsed.usage?.total_tokens) };
}

/** Usage of an embeddings call as TokenHub accounts it: prompt tokens only. */
export function embeddingUsage(promptTokens: number | undefined | null, totalTokens?: number | null): TokenUsage | null {
  if (typeof promptTokens !== 'number' || !Number.isFinite(promptTokens)) return null;
  return { promptTokens, completionTokens: 0, cachedTokens: 0, totalTokens: typeof totalTokens === 'number' ? totalTokens : promptTokens };
}

/** Parses a provider's JSON answer; malformed JSON is a 502. */
export function parseJson<T>(provider: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamError('protocol', 502, `${provider} answered with malformed JSON`, { code: 'upstream_protocol_error' });
  }
}

/** One numeric vector per input, or a 502: a provider that answers otherwise is broken. */
export function checkVectors(provider: string, vectors: unknown[], expected: number): number[][] {
  if (vectors.length !== expected) throw malformed(provider, `with ${vectors.length} embeddings for ${expected} inputs`);
  for (const v of vectors) {
    if (!Array.isArray(v) || v.length === 0 || typeof v[0] !== 'number') throw malformed(provider, 'with an embedding that is not a list of numbers');
  }
  return vectors as number[][];
}

function malformed(provider: string, what: string): UpstreamError {
  return new UpstreamError('protocol', 502, `${provider} answered the embeddings call ${what}`, { code: 'upstream_protocol_error' });
}
