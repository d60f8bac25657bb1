import { Column } from 'typeorm';

/**
 * Rate limits, a concurrency cap and allowed models: the same policy columns on a
 * customer, a team and a virtual key. Null means no limit at that level.
 */
export class LimitsColumns {
  @Column({ name: 'requests_per_minute', type: 'integer', nullable: true })
  requestsPerMinute: number | null;

  @Column({ name: 'requests_per_day', type: 'integer', nullable: true })
  requestsPerDay: number | null;

  @Column({ name: 'tokens_per_minute', type: 'integer', nullable: true })
  tokensPerMinute: number | null;

  @Column({ name: 'tokens_per_day', type: 'integer', nullable: true })
  tokensPerDay: number | null;

  @Column({ name: 'max_concurrency', type: 'integer', nullable: true })
  maxConcurrency: number | null;

  /** `provider/model` names or patterns (`openai/*`, `*\/gpt-4o*`); null allows every model. */
  @Column({ name: 'allowed_models', type: 'text', array: true, nullable: true })
  allowedModels: string[] | null;

  /** The response cache namespace of requests without `prompt_cache_key`; null: those are not cached. */
  @Column({ name: 'cache_namespace', type: 'varchar', length: 1024, nullable: true })
  cacheNamespace: string | null;

  /** How long this level's answers stay in the response cache; null: the namespace's or the default TTL. */
  @Column({ name: 'cache_ttl_seconds', type: 'integer', nullable: true })
  cacheTtlSeconds: number | null;
}
