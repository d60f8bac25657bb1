import { LATENCY_BUCKETS_MS } from '@tokenhub/store';

/**
 * A latency percentile estimated from a histogram of LATENCY_BUCKETS_MS buckets (upper
 * bounds, the last bucket open-ended): the bucket holding the rank, interpolated
 * linearly within it. A rank in the open-ended bucket reads as its lower bound (the
 * estimate is then a floor). Null when the histogram is empty.
 */
export function latencyPercentile(histogram: number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i];
    if (count > 0 && seen + count >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      if (i >= LATENCY_BUCKETS_MS.length) return lower;
      const upper = LATENCY_BUCKETS_MS[i];
      return Math.round(lower + (upper - lower) * ((rank - seen) / count));
    }
    seen += count;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}
