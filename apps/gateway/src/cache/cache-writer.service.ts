import { BeforeApplicationShutdown, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { ResponseCacheRepository, ResponseCacheWrite } from '@tokenhub/store';
import type { Logger } from 'pino';
import { LOGGER } from '../logging.tokens';

/** Entries per insert statement. */
const BATCH = 200;
/** How often expired entries are swept, and how many at most per sweep. */
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 5_000;

/**
 * Writes cache entries off the hot path: queued in memory (bounded: beyond
 * `cache.maxPendingWrites` new entries are dropped, a cache may forget), flushed in
 * multi-row upserts every `usageFlushIntervalMs`. A failed write is dropped, not retried:
 * the next miss writes the answer again. Expired entries are swept once a minute.
 */
@Injectable()
export class CacheWriter implements OnModuleInit, BeforeApplicationShutdown {
  private queue: ResponseCacheWrite[] = [];
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly repository: ResponseCacheRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.usageFlushIntervalMs);
    this.timer.unref();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.sweeper);
    await this.flush();
  }

  enqueue(write: ResponseCacheWrite): void {
    if (this.queue.length >= this.config.cache.maxPendingWrites) {
      this.logger.warn({ pending: this.queue.length }, 'response cache write queue full: entry dropped');
      return;
    }
    this.queue.push(write);
    if (this.queue.length >= BATCH && !this.flushing) void this.flush();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Writes what is queued; concurrent callers share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.queue.length === 0) return Promise.resolve();
    this.flushing = this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      try {
        await this.repository.upsertMany(batch);
      } catch (err) {
        this.logger.warn({ err, dropped: batch.length }, 'response cache write failed');
      }
    }
  }

  private async sweep(): Promise<void> {
    try {
      await this.repository.deleteExpired(SWEEP_BATCH);
    } catch (err) {
      this.logger.warn({ err }, 'response cache sweep failed');
    }
  }
}
