import { join } from 'node:path';
import { BeforeApplicationShutdown, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { UsageRecordEntity, UsageRecordRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import { LOGGER } from '../logging.tokens';
import { claimSpoolDirs, releaseSpoolDir, Spool, SpoolFullError, SpoolOptions } from './usage-spool';

export type UsageRecord = UsageRecordEntity;

/** A spool segment is closed and a new one begun past this size. */
const SEGMENT_BYTES = 8 * 1024 * 1024;
/** After a failed write the database is left alone this long (records go to the spool meanwhile). */
const RETRY_AFTER_MS = 1_000;
/** Refused chat requests are let in again once the spool is below this share of its bound. */
const RESUME_BELOW = 0.9;

/** What the ledger holds that the database does not have yet. */
export interface LedgerState {
  /** The last write to the database failed (or timed out) and has not succeeded since. */
  databaseFailing: boolean;
  /** Records in memory, not yet durable in the database or the spool (waiting, or being written). */
  buffered: number;
  spoolBytes: number;
  spoolSegments: number;
  spoolMaxBytes: number;
  /** False while the spool is full: new chat requests are refused (503) rather than losing records. */
  accepting: boolean;
}

/**
 * The usage ledger. Records are collected in memory and written in multi-row inserts off
 * the hot path: every `usageFlushIntervalMs`, or at once when a batch fills. Each insert
 * skips request ids already stored and adds only the rows it inserted to the hourly
 * `usage_rollups` (one statement: see `UsageRecordRepository.insertMany`), so any batch can
 * be written again without counting twice.
 *
 * When a batch insert fails or takes longer than `ledger.writeTimeoutMs`, or when more than
 * `ledger.memoryMaxRecords` wait in memory, records go to an on-disk spool under
 * `${DATA_DIR}/spool/usage` (fsynced per batch); while the spool holds anything, new
 * records are appended behind it, so they reach the database in the order they came.
 * The spool is replayed when the database answers again, and at startup. When the spool
 * reaches `ledger.spoolMaxBytes`, records stay in memory and new chat requests are refused
 * with 503 (`ledger_full`) until it drains: refusing is preferred to losing records.
 * See docs/ledger.md.
 */
@Injectable()
export class UsageWriter implements OnModuleInit, BeforeApplicationShutdown {
  private buffer: UsageRecord[] = [];
  /** Records taken out of the buffer for a write or a spill that has not finished yet. */
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private spilling: Promise<void> | null = null;
  /** This process's spool, and those of earlier processes on this `DATA_DIR` (replayed first, then removed). */
  private readonly spool: Spool<UsageRecord>;
  private readonly adopted: Spool<UsageRecord>[];
  /** No database write is tried before this time (set after a failure). */
  private retryAt = 0;
  private failing = false;
  private full = false;
  private closing = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly repository: UsageRecordRepository,
  ) {
    const { own, orphans } = claimSpoolDirs(join(config.dataDir, 'spool', 'usage'));
    const options = (dir: string): SpoolOptions => ({
      dir,
      maxBytes: config.ledger.spoolMaxBytes,
      segmentBytes: Math.min(SEGMENT_BYTES, Math.max(64 * 1024, Math.floor(config.ledger.spoolMaxBytes / 8))),
      revive: reviveRecord,
      onCorrupt: (segment, line, reason) => this.logger.error({ dir, segment, line, reason }, 'usage spool: an unreadable line was skipped'),
    });
    this.spool = Spool.open<UsageRecord>(options(own));
    this.adopted = orphans.map((dir) => Spool.open<UsageRecord>(options(dir)));
    const earlier = this.adopted.reduce((sum, spool) => sum + spool.bytes, 0);
    if (earlier > 0) this.logger.warn({ bytes: earlier, spools: orphans.length }, 'usage spools of earlier processes hold records: replaying');
    for (const spool of this.adopted.filter((a) => a.empty)) this.dropAdopted(this.adopted.indexOf(spool));
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.usageFlushIntervalMs);
    this.timer.unref();
    if (this.backlog) void this.flush();
  }

  /** Whether any spool holds records. */
  private get backlog(): boolean {
    return !this.spool.empty || this.adopted.length > 0;
  }

  private dropAdopted(index: number): void {
    const [spool] = this.adopted.splice(index, 1);
    releaseSpoolDir(spool.dir, true);
  }

  /**
   * After every module's `onModuleDestroy` (the chat service's waits for in-flight
   * requests), before the database closes: writes what is left to the database, or to the
   * spool (past its bound if need be) when the database does not take it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    this.retryAt = 0;
    // More passes for records that arrived, or a spill that was under way, while the last one ran.
    for (let pass = 0; pass < 3 && (pass === 0 || this.buffer.length > 0); pass++) {
      await this.spilling;
      await this.flush();
    }
    if (this.buffer.length > 0) this.logger.error({ records: this.buffer.length }, 'usage records could not be written to the database nor the spool');
    await this.spool.close();
    for (const spool of [this.spool, ...this.adopted]) releaseSpoolDir(spool.dir, spool.empty);
  }

  record(record: UsageRecord): void {
    this.buffer.push(record);
    if (this.buffer.length >= this.config.usageBatchSize && !this.flushing) void this.flush();
    else if (this.buffer.length >= this.config.ledger.memoryMaxRecords && this.flushing && !this.spilling) void this.spill();
  }

  /** Records in memory, not yet written to the database or the spool. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Whether a new chat request may be served (the spool is not full); cheap, asked on every request. */
  get accepting(): boolean {
    return !this.full;
  }

  get state(): LedgerState {
    return {
      databaseFailing: this.failing,
      buffered: this.buffer.length + this.inFlight,
      spoolBytes: this.spool.bytes + this.adopted.reduce((sum, spool) => sum + spool.bytes, 0),
      spoolSegments: this.spool.segmentCount + this.adopted.reduce((sum, spool) => sum + spool.segmentCount, 0),
      spoolMaxBytes: this.spool.maxBytes,
      accepting: !this.full,
    };
  }

  /** Writes everything buffered (to the database, or the spool); concurrent callers share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0 && !this.backlog) return Promise.resolve();
    this.flushing = this.drain().finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    // Not at shutdown: the spool is already durable, and the grace period is for the records in memory.
    if (this.backlog && !this.closing && Date.now() >= this.retryAt) await this.replay();
    while (this.buffer.length > 0) {
      // Behind a backlog (or while the database is being left alone), records queue on disk.
      if (this.backlog || Date.now() < this.retryAt) {
        await this.spill();
        return;
      }
      // Taken out of the buffer while written, so a concurrent spill does not take them too.
      const batch = this.buffer.splice(0, this.config.usageBatchSize);
      this.inFlight += batch.length;
      try {
        await this.write(batch);
        this.inFlight -= batch.length;
        this.failing = false;
      } catch (err) {
        this.inFlight -= batch.length;
        this.buffer.unshift(...batch);
        this.failed(err);
        await this.spill();
        return;
      }
    }
  }

  /** Replays the spools (earlier processes' first) into the database; a failure leaves the rest for later. */
  private async replay(): Promise<void> {
    try {
      let replayed = 0;
      // A shutdown ends it between two batches: the spool is durable, the grace period is for what is in memory.
      const stop = () => this.closing;
      while (this.adopted.length > 0 && !this.closing) {
        replayed += await this.adopted[0].replay((batch) => this.write(batch), this.config.usageBatchSize, stop);
        if (this.adopted[0].empty) this.dropAdopted(0);
      }
      if (!this.closing) replayed += await this.spool.replay((batch) => this.write(batch), this.config.usageBatchSize, stop);
      if (replayed > 0) this.logger.info({ records: replayed }, 'usage spool replayed into the database');
      if (this.failing) this.logger.info('usage writes to the database succeed again');
      this.failing = false;
      this.updateFull();
    } catch (err) {
      this.failed(err);
    }
  }

  /** Moves everything in memory to the spool; on a full spool the records stay in memory and new chat requests are refused. */
  private spill(): Promise<void> {
    this.spilling ??= (async () => {
      try {
        while (this.buffer.length > 0) {
          const batch = this.buffer.splice(0, this.config.usageBatchSize);
          this.inFlight += batch.length;
          try {
            await this.spool.append(batch, { force: this.closing });
            this.inFlight -= batch.length;
          } catch (err) {
            this.inFlight -= batch.length;
            this.buffer.unshift(...batch);
            throw err;
          }
        }
        this.updateFull();
      } catch (err) {
        if (err instanceof SpoolFullError) {
          if (!this.full) this.logger.error({ bytes: err.bytes, maxBytes: err.maxBytes, buffered: this.buffer.length }, 'usage spool full: refusing new chat requests until it drains');
          this.full = true;
        } else {
          this.logger.error({ err, buffered: this.buffer.length }, 'usage spool write failed: records kept in memory');
        }
      }
    })().finally(() => (this.spilling = null));
    return this.spilling;
  }

  private updateFull(): void {
    if (this.full && this.spool.bytes < this.spool.maxBytes * RESUME_BELOW) {
      this.full = false;
      this.logger.warn('usage spool below its bound again: accepting chat requests');
    }
  }

  private failed(err: unknown): void {
    this.retryAt = this.closing ? 0 : Date.now() + RETRY_AFTER_MS;
    if (!this.failing) this.logger.error({ err }, `usage write failed: records go to the spool until the database answers`);
    this.failing = true;
  }

  /**
   * One batch insert, given up on after `ledger.writeTimeoutMs` (the statement may still
   * commit later: the spooled copy then inserts nothing, as its request ids are stored).
   */
  private async write(batch: UsageRecord[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`usage insert took longer than ${this.config.ledger.writeTimeoutMs} ms`)), this.config.ledger.writeTimeoutMs);
    });
    try {
      await Promise.race([this.repository.insertMany(batch), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A spooled record's timestamps come back as ISO strings. */
function reviveRecord(value: unknown): UsageRecord {
  const record = value as UsageRecord & { createdAt: string | Date; finishedAt: string | Date };
  record.createdAt = new Date(record.createdAt);
  record.finishedAt = new Date(record.finishedAt);
  return record;
}
