import { LATENCY_BUCKETS_MS } from '@tokenhub/store';
import { latencyPercentile } from './latency';

const histogram = (counts: Record<number, number>) => [...LATENCY_BUCKETS_MS, null].map((_, i) => counts[i] ?? 0);

describe('latencyPercentile', () => {
  it('is null for an empty histogram', () => {
    expect(latencyPercentile(histogram({}), 0.5)).toBeNull();
  });

  it('interpolates within the bucket that holds the rank', () => {
    // 100 requests in (100, 250]: the median is half way.
    expect(latencyPercentile(histogram({ 5: 100 }), 0.5)).toBe(175);
    expect(latencyPercentile(histogram({ 5: 100 }), 0.99)).toBe(249);
    // 0..5 ms bucket starts at 0.
    expect(latencyPercentile(histogram({ 0: 10 }), 0.5)).toBe(3);
  });

  it('walks the cumulative counts across buckets', () => {
    // 90 fast (<= 5 ms), 10 slow (1000, 2500]: p50 is fast, p95 and p99 slow.
    const h = histogram({ 0: 90, 8: 10 });
    expect(latencyPercentile(h, 0.5)).toBeLessThanOrEqual(5);
    expect(latencyPercentile(h, 0.95)).toBe(1750);
    expect(latencyPercentile(h, 0.99)).toBe(2350);
  });

  it('reads the open-ended bucket as its lower bound', () => {
    expect(latencyPercentile(histogram({ [LATENCY_BUCKETS_MS.length]: 3 }), 0.5)).toBe(LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]);
  });
});
