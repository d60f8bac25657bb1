import { InvalidRequestError } from '@tokenhub/common';
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

/** Providers with native embeddings APIs take texts only: token-id input is a 400 naming the provider. */
export function requireTextInput(provider: string, call: EmbeddingsCall): void {
  if (call.tokens) {
    throw new InvalidRequestError(`Provider '${provider}' embeds text only; token-id arrays are accepted by OpenAI-compatible providers.`, 'input', 'invalid_value');
  }
}

/**
 * Embeds `texts` in batches of at most `size` (the provider's per-call limit), `parallel`
 * batches at a time, and joins the results in input order, adding up the usage.
 */
export async function inBatches(texts: string[], size: number, parallel: number, embed: (batch: string[]) => Promise<EmbeddingsResult>): Promise<EmbeddingsResult> {
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += size) batches.push(texts.slice(i, i + size));
  const results: EmbeddingsResult[] = new Array<EmbeddingsResult>(batches.length);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const i = next++;
      results[i] = await embed(batches[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, batches.length) }, worker));
  const usages = results.map((r) => r.usage);
  const usage = usages.every((u) => u !== null)
    ? usages.reduce<TokenUsage>((sum, u) => ({ ...sum, promptTokens: sum.promptTokens + u!.promptTokens, totalTokens: sum.totalTokens + u!.totalTokens }), { promptTokens: 0, completionTokens: 0, cachedTokens: 0, totalTokens: 0 })
    : null;
  return { vectors: results.flatMap((r) => r.vectors), usage };
}
