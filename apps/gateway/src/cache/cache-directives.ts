import { InvalidRequestError } from '@tokenhub/common';
import type { IncomingHttpHeaders } from 'node:http';

/** The longest TTL a request may ask for: 30 days. */
export const MAX_REQUEST_TTL_SECONDS = 30 * 24 * 3600;

/** What a request says about the cache, from its headers. */
export interface CacheDirectives {
  /** `Cache-Control: no-cache`: skip the lookup, answer fresh (and store the fresh answer). */
  noCache: boolean;
  /** `Cache-Control: no-store`: do not store this answer. */
  noStore: boolean;
  /** `x-tokenhub-cache-ttl`: seconds this answer lives in the cache. */
  ttlSeconds: number | null;
}

export function cacheDirectives(headers: IncomingHttpHeaders): CacheDirectives {
  const directives = new Set(
    String(headers['cache-control'] ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase().split('=')[0])
      .filter(Boolean),
  );
  const ttlHeader = headers['x-tokenhub-cache-ttl'];
  let ttlSeconds: number | null = null;
  if (ttlHeader !== undefined) {
    const value = Array.isArray(ttlHeader) ? ttlHeader[0] : ttlHeader;
    if (!/^\d{1,10}$/.test(value.trim()) || Number(value) < 1 || Number(value) > MAX_REQUEST_TTL_SECONDS) {
      throw new InvalidRequestError(`x-tokenhub-cache-ttl must be a whole number of seconds from 1 to ${MAX_REQUEST_TTL_SECONDS}.`, 'x-tokenhub-cache-ttl', 'invalid_cache_ttl');
    }
    ttlSeconds = Number(value);
  }
  return { noCache: directives.has('no-cache'), noStore: directives.has('no-store'), ttlSeconds };
}
