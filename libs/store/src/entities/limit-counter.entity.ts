import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Counters for rate limits (requests or tokens in a fixed window) and concurrency caps
 * (in-flight requests, window_start fixed at the epoch), updated by single atomic
 * statements when no Redis is configured.
 */
@Entity({ name: 'limit_counters' })
@Index('ix_limit_counters_expires_at', ['expiresAt'])
export class LimitCounterEntity {
  @PrimaryColumn({ type: 'varchar', length: 200 })
  name: string;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz' })
  windowStart: Date;

  @Column({ type: 'bigint', default: 0, transformer: { to: (v: number) => v, from: (v: string) => Number(v) } })
  value: number;

  /** When the row may be pruned. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
