import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { UsageRecordRepository } from '@tokenhub/store';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Deletes raw usage records older than `usageRetentionDays`, every hour (and once a
 * minute after boot). The hourly rollups are kept, so reports still cover that time.
 * Several replicas pruning at once is harmless: each deletes what is still there.
 */
@Injectable()
export class UsageRetention implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UsageRetention.name);
  private interval?: NodeJS.Timeout;
  private first?: NodeJS.Timeout;
  private running: Promise<number> | null = null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly records: UsageRecordRepository,
  ) {}

  onModuleInit(): void {
    const run = () => void this.prune().catch((err: Error) => this.logger.error(`usage retention failed: ${err.message}`));
    this.first = setTimeout(run, 60_000).unref();
    this.interval = setInterval(run, HOUR_MS).unref();
  }

  onModuleDestroy(): void {
    clearTimeout(this.first);
    clearInterval(this.interval);
  }

  /** Deletes the records created before `now` minus the retention; returns how many. Concurrent calls share one run. */
  prune(now: Date = new Date()): Promise<number> {
    if (this.running) return this.running;
    const cutoff = new Date(now.getTime() - this.config.usageRetentionDays * DAY_MS);
    this.running = this.records
      .deleteCreatedBefore(cutoff)
      .then((deleted) => {
        if (deleted > 0) this.logger.log(`usage retention: deleted ${deleted} records created before ${cutoff.toISOString()}`);
        return deleted;
      })
      .finally(() => (this.running = null));
    return this.running;
  }
}
