import { InvalidRequestError } from '@tokenhub/common';
import { cacheDirectives } from './cache-directives';

describe('cacheDirectives', () => {
  it('reads no-cache and no-store among other directives', () => {
    expect(cacheDirectives({ 'cache-control': 'max-age=0, No-Cache' })).toEqual({ noCache: true, noStore: false, ttlSeconds: null });
    expect(cacheDirectives({ 'cache-control': 'no-store' })).toEqual({ noCache: false, noStore: true, ttlSeconds: null });
    expect(cacheDirectives({})).toEqual({ noCache: false, noStore: false, ttlSeconds: null });
  });

  it('reads a TTL in seconds and refuses anything else', () => {
    expect(cacheDirectives({ 'x-tokenhub-cache-ttl': '60' }).ttlSeconds).toBe(60);
    for (const bad of ['0', '-1', '1.5', 'soon', '', '2592001']) {
      expect(() => cacheDirectives({ 'x-tokenhub-cache-ttl': bad })).toThrow(InvalidRequestError);
    }
  });
});
