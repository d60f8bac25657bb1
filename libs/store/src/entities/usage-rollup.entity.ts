import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

const num = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/** Latency histogram bucket upper bounds in ms; the last bucket is open-ended. */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000];

/**
 * Hourly totals per (key, team, customer, provider, model, user), maintained as usage
 * records are written, so reports never scan the raw records. Unique on its dimensions
 * with NULLS NOT DISTINCT (in the migration).
 */
@Entity({ name: 'usage_rollups' })
export class UsageRollupEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  // The unique index over every dimension is in the migration (NULLS NOT DISTINCT).
  @Index('uq_usage_rollups_dims', { synchronize: false })
  @Column({ name: 'bucket_start', type: 'timestamptz' })
  bucketStart: Date;

  @Column({ name: 'key_id', type: 'uuid', nullable: true })
  keyId: string | null;

  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId: string | null;

  @Column({ name: 'customer_id', type: 'uuid', nullable: true })
  customerId: string | null;

  @Column({ type: 'varchar', length: 100, nullable: true })
  provider: string | null;

  @Column({ type: 'varchar', length: 300, nullable: true })
  model: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true })
  user: string | null;

  @Column({ type: 'bigint', default: 0, transformer: num })
  requests: number;

  @Column({ type: 'bigint', default: 0, transformer: num })
  errors: number;

  @Column({ name: 'prompt_tokens', type: 'bigint', default: 0, transformer: num })
  promptTokens: number;

  @Column({ name: 'completion_tokens', type: 'bigint', default: 0, transformer: num })
  completionTokens: number;

  @Column({ name: 'cached_tokens', type: 'bigint', default: 0, transformer: num })
  cachedTokens: number;

  @Column({ name: 'cost_usd', type: 'numeric', precision: 24, scale: 10, default: 0, transformer: num })
  costUsd: number;

  /** Requests whose cost is unknown (no price in the catalog): not in cost_usd. */
  @Column({ name: 'unpriced_requests', type: 'bigint', default: 0, transformer: num })
  unpricedRequests: number;

  /** Requests answered from the response cache (exact or semantic hits). */
  @Column({ name: 'cache_hits', type: 'bigint', default: 0, transformer: num })
  cacheHits: number;

  /** What those answers cost when they were made: the money the cache saved. */
  @Column({ name: 'cache_saved_usd', type: 'numeric', precision: 24, scale: 10, default: 0, transformer: num })
  cacheSavedUsd: number;

  @Column({ name: 'latency_ms_sum', type: 'bigint', default: 0, transformer: num })
  latencyMsSum: number;

  /** Counts per LATENCY_BUCKETS_MS bucket (plus one open-ended), for percentiles. */
  @Column({ name: 'latency_histogram', type: 'integer', array: true })
  latencyHistogram: number[];
}
