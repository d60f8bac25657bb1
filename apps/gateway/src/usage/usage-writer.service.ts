import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { UsageRecordEntity, UsageRecordRepository } from '@tokenhub/store';

export type UsageRecord = UsageRecordEntity;

/**
 * Collects usage records in memory and writes them in multi-row inserts off the hot
 * path: every `usageFlushIntervalMs`, or at once when a batch fills. A failed write
 * keeps its records for the next flush; shutdown flushes whatever is left. Each batch
 * insert also adds the rows it actually inserted to the hourly `usage_rollups` (one
 * statement: see `UsageRecordRepository.insertMany`), so a replayed batch counts once.
 */
@Injectable()
export class UsageWriter implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(UsageWriter.name);
  private buffer: UsageRecord[] = [];
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  /** A bound on what is held while the database refuses writes. */
  private static readonly MAX_BUFFERED = 200_000;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly repository: UsageRecordRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.usageFlushIntervalMs);
    this.timer.unref();
  }

  /** After every module's `onModuleDestroy` (the chat service's waits for in-flight requests), before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    // One more pass for records that arrived while the last flush ran.
    if (this.buffer.length > 0) await this.flush();
  }

  record(record: UsageRecord): void {
    if (this.buffer.length >= UsageWriter.MAX_BUFFERED) {
      this.buffer.shift();
      this.logger.error('usage buffer full: the oldest record was dropped');
    }
    this.buffer.push(record);
    if (this.buffer.length >= this.config.usageBatchSize && !this.flushing) void this.flush();
  }

  get pending(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered; concurrent callers share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return Promise.resolve();
    this.flushing = this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.config.usageBatchSize);
      try {
        await this.repository.insertMany(batch);
        this.buffer.splice(0, batch.length);
      } catch (err) {
        this.logger.error(`usage write failed, ${this.buffer.length} records kept for retry: ${(err as Error).message}`);
        return;
      }
    }
  }
}
