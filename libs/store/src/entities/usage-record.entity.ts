import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One upstream try of a request: which model, how it ended. */
export interface AttemptRecord {
  provider: string;
  model: string;
  /** Upstream HTTP status, absent when no response came (network error, timeout). */
  status?: number;
  outcome: 'success' | 'error';
  error?: string;
  latencyMs: number;
}

const numeric = { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/**
 * The usage and audit record of one request to the chat endpoint, successful or not,
 * authenticated or not. Written in batches off the hot path; the primary key is the
 * request id, so a replayed insert never duplicates.
 */
@Entity({ name: 'usage_records' })
@Index('ix_usage_records_created_at', ['createdAt', 'requestId'])
@Index('ix_usage_records_key_created_at', ['keyId', 'createdAt'])
@Index('ix_usage_records_user_created_at', ['user', 'createdAt'])
@Index('ix_usage_records_model_created_at', ['servedModel', 'createdAt'])
@Index('ix_usage_records_team_created_at', ['teamId', 'createdAt'])
@Index('ix_usage_records_status_created_at', ['statusCode', 'createdAt'])
export class UsageRecordEntity {
  @PrimaryColumn({ name: 'request_id', type: 'uuid' })
  requestId: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz' })
  finishedAt: Date;

  @Column({ type: 'varchar', length: 100 })
  endpoint: string;

  /** The virtual key's id; null for the admin key and for unauthenticated calls. */
  @Column({ name: 'key_id', type: 'uuid', nullable: true })
  keyId: string | null;

  @Column({ name: 'team_id', type: 'uuid', nullable: true })
  teamId: string | null;

  @Column({ name: 'customer_id', type: 'uuid', nullable: true })
  customerId: string | null;

  /** Who called: `key:<id>`, `admin`, a platform-token subject `jwt:<sub>`, or `anonymous`. */
  @Column({ type: 'varchar', length: 200 })
  principal: string;

  @Column({ type: 'varchar', length: 512, nullable: true })
  user: string | null;

  @Index('ix_usage_records_metadata', { synchronize: false })
  @Column({ type: 'jsonb', nullable: true })
  metadata: Record<string, unknown> | null;

  @Column({ name: 'requested_model', type: 'varchar', length: 300, nullable: true })
  requestedModel: string | null;

  @Column({ name: 'served_provider', type: 'varchar', length: 100, nullable: true })
  servedProvider: string | null;

  @Column({ name: 'served_model', type: 'varchar', length: 300, nullable: true })
  servedModel: string | null;

  @Column({ type: 'jsonb', default: () => `'[]'::jsonb` })
  attempts: AttemptRecord[];

  @Column({ name: 'status_code', type: 'smallint' })
  statusCode: number;

  @Column({ name: 'error_type', type: 'varchar', length: 100, nullable: true })
  errorType: string | null;

  @Column({ name: 'error_code', type: 'varchar', length: 100, nullable: true })
  errorCode: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  @Column({ name: 'cached_tokens', type: 'integer', nullable: true })
  cachedTokens: number | null;

  @Column({ name: 'total_tokens', type: 'integer', nullable: true })
  totalTokens: number | null;

  /** USD; null means the price is unknown (never recorded as 0). */
  @Column({ name: 'cost_usd', type: 'numeric', precision: 18, scale: 10, nullable: true, transformer: numeric })
  costUsd: number | null;

  @Column({ name: 'price_catalog_version', type: 'varchar', length: 40, nullable: true })
  priceCatalogVersion: string | null;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs: number;

  @Column({ name: 'ttft_ms', type: 'integer', nullable: true })
  ttftMs: number | null;

  @Column({ type: 'boolean' })
  stream: boolean;

  /** The response cache's verdict (`hit`, `semantic-hit`, `miss`, `bypass`); null when the request did not use it. */
  @Column({ name: 'cache_result', type: 'varchar', length: 20, nullable: true })
  cacheResult?: string | null;

  /** On a semantic hit, the cosine similarity of the stored question. */
  @Column({ name: 'cache_similarity', type: 'real', nullable: true })
  cacheSimilarity?: number | null;

  /** On a hit, what the cached answer cost when it was made: the money the cache saved. */
  @Column({ name: 'cache_saved_usd', type: 'numeric', precision: 18, scale: 10, nullable: true, transformer: numeric })
  cacheSavedUsd?: number | null;
}
