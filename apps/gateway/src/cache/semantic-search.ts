import type { ResponseCacheRepository } from '@tokenhub/store';
import { decodeVector, dot } from './lsh';

/** Rows sharing a band that a lookup reads, at most (a bound for a degenerate bucket). */
export const MAX_BAND_MATCHES = 2_000;
/** Rows whose exact cosine a lookup computes, at most: those sharing the most bands. */
export const MAX_CANDIDATES = 64;

export interface Nearest {
  id: string;
  similarity: number;
  /** How many rows shared a band with the query. */
  matches: number;
}

/**
 * The stored question of a scope closest to `unit`. Two small queries: the rows sharing a
 * band signature (`lshKeys`, see lsh.ts; ids and keys only), ranked here by bands shared;
 * then the vectors of the best `MAX_CANDIDATES`, ranked by exact cosine. Null when no row
 * shares a band.
 */
export async function nearestInScope(repository: ResponseCacheRepository, scopeHash: string, unit: Float32Array, lshKeys: number[]): Promise<Nearest | null> {
  const matches = await repository.findBandMatches(scopeHash, lshKeys, MAX_BAND_MATCHES);
  if (matches.length === 0) return null;
  const wanted = new Set(lshKeys);
  const ranked =
    matches.length <= MAX_CANDIDATES
      ? matches
      : matches
          .map((m) => ({ m, shared: m.lshKeys.reduce((n, k) => n + (wanted.has(k) ? 1 : 0), 0) }))
          .sort((a, b) => b.shared - a.shared)
          .slice(0, MAX_CANDIDATES)
          .map(({ m }) => m);
  let best: Nearest | null = null;
  for (const c of await repository.findEmbeddings(ranked.map((m) => m.id))) {
    const similarity = dot(unit, decodeVector(c.embedding));
    if (!best || similarity > best.similarity) best = { id: c.id, similarity, matches: matches.length };
  }
  return best;
}
