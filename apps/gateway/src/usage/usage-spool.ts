import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, type FileHandle, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The spool holds `maxBytes` already: the records were not appended. */
export class SpoolFullError extends Error {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`the spool is full (${bytes} of ${maxBytes} bytes)`);
  }
}

export interface SpoolOptions {
  /** A directory of this process's own (never shared by two processes). */
  dir: string;
  /** Appends beyond this many bytes on disk are refused (see `append`). */
  maxBytes: number;
  /** A segment is closed, and a new one begun, once it holds this many bytes. */
  segmentBytes: number;
  /** Turns a parsed line back into an item (e.g. ISO strings back into Dates). */
  revive?: (value: unknown) => unknown;
  /** Told about lines that could not be read back (a write torn by a crash). */
  onCorrupt?: (segment: string, line: number, reason: string) => void;
}

interface Segment {
  seq: number;
  name: string;
  bytes: number;
}

const SEGMENT = /^segment-(\d{12})\.ndjson$/;
const READ_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
/** Thrown inside a replay to end it early (see `replay`'s `stop`). */
const STOPPED = Symbol('replay stopped');

/**
 * An append-only, on-disk FIFO of JSON items, for what must not be lost while the database
 * refuses writes. Items are appended as NDJSON lines to numbered segment files, one write
 * and one `fdatasync` per batch, so a batch is on disk before `append` resolves. `replay`
 * hands the items back oldest first, in batches, streaming each segment (memory is bounded
 * by a read chunk and a batch, whatever the backlog), and deletes a segment only once every
 * batch of it has been applied; an interrupted replay applies that segment again from its
 * start, so `apply` must be idempotent.
 *
 * A crash can tear the last line of the segment being written: `open` cuts every segment
 * back to its last complete line, and replay skips (and reports) a line that still does
 * not parse. A new process never appends to an old segment.
 */
export class Spool<T> {
  private readonly segments: Segment[] = [];
  private current: { segment: Segment; file: FileHandle } | null = null;
  private nextSeq: number;
  /** Appends, seals and deletions, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private replaying: Promise<number> | null = null;
  private totalBytes = 0;

  private constructor(private readonly options: SpoolOptions) {
    mkdirSync(options.dir, { recursive: true });
    for (const name of readdirSync(options.dir).sort()) {
      const match = SEGMENT.exec(name);
      if (!match) continue;
      const bytes = repairTail(join(options.dir, name));
      this.segments.push({ seq: Number(match[1]), name, bytes });
      this.totalBytes += bytes;
    }
    this.nextSeq = (this.segments.at(-1)?.seq ?? 0) + 1;
  }

  /** Opens (creating) the spool directory, repairing any segment a crash left torn. */
  static open<T>(options: SpoolOptions): Spool<T> {
    return new Spool<T>(options);
  }

  /** Bytes on disk, sealed segments and the one being written. */
  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get empty(): boolean {
    return this.totalBytes === 0;
  }

  get dir(): string {
    return this.options.dir;
  }

  get maxBytes(): number {
    return this.options.maxBytes;
  }

  /**
   * Appends the items durably (written and fdatasynced) or not at all. Refused with
   * {@link SpoolFullError} when they would take the spool past `maxBytes`, unless `force`
   * (the last flush at shutdown, which would rather exceed the bound than lose records).
   */
  append(items: T[], options: { force?: boolean } = {}): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const data = Buffer.from(items.map((item) => `${JSON.stringify(item)}\n`).join(''), 'utf8');
    return this.serially(async () => {
      if (!options.force && this.totalBytes + data.length > this.options.maxBytes) throw new SpoolFullError(this.totalBytes, this.options.maxBytes);
      const current = this.current ?? (await this.begin());
      let written = 0;
      try {
        while (written < data.length) written += (await current.file.write(data, written, data.length - written)).bytesWritten;
        await current.file.datasync();
      } catch (err) {
        // What did reach the file is cut off again, so the segment holds whole batches only.
        await current.file.truncate(current.segment.bytes).catch(() => undefined);
        throw err;
      }
      current.segment.bytes += data.length;
      this.totalBytes += data.length;
      if (current.segment.bytes >= this.options.segmentBytes) await this.seal();
    });
  }

  /**
   * Hands every item spooled so far to `apply`, oldest first, `batchSize` at a time; a
   * segment is deleted once all of it is applied. Stops at the first failure of `apply`
   * (rethrown; the segment stays, to be replayed from its start). Items appended meanwhile
   * wait for the next replay. Concurrent callers share one replay. `stop`, checked before
   * each batch, ends the replay early (the segment under way stays, whole). Resolves to
   * the number of items applied.
   */
  replay(apply: (batch: T[]) => Promise<void>, batchSize: number, stop: () => boolean = () => false): Promise<number> {
    this.replaying ??= this.replayAll(apply, batchSize, stop).finally(() => (this.replaying = null));
    return this.replaying;
  }

  /** Closes the segment being written (the files stay for the next process). */
  close(): Promise<void> {
    return this.serially(() => this.seal());
  }

  private async replayAll(apply: (batch: T[]) => Promise<void>, batchSize: number, stop: () => boolean): Promise<number> {
    // Sealed and listed in one step, so no append slips into a segment being replayed.
    const sealed = await this.serially(async () => {
      await this.seal();
      return [...this.segments];
    });
    let applied = 0;
    for (const segment of sealed) {
      const result = await this.replaySegment(segment, apply, batchSize, stop);
      applied += result.applied;
      if (!result.complete) break;
      await this.serially(async () => {
        await unlink(join(this.options.dir, segment.name));
        this.segments.splice(this.segments.indexOf(segment), 1);
        this.totalBytes -= segment.bytes;
      });
    }
    return applied;
  }

  private async replaySegment(segment: Segment, apply: (batch: T[]) => Promise<void>, batchSize: number, stop: () => boolean): Promise<{ applied: number; complete: boolean }> {
    const file = await open(join(this.options.dir, segment.name), 'r');
    const revive = this.options.revive ?? ((v: unknown) => v);
    let applied = 0;
    let lineNo = 0;
    let batch: T[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      if (stop()) throw STOPPED;
      await apply(batch);
      applied += batch.length;
      batch = [];
    };
    const take = (line: string) => {
      lineNo++;
      if (line.length === 0) return;
      try {
        batch.push(revive(JSON.parse(line)) as T);
      } catch (err) {
        this.options.onCorrupt?.(segment.name, lineNo, (err as Error).message);
      }
    };
    try {
      const chunk = Buffer.alloc(READ_CHUNK);
      let rest: Buffer = Buffer.alloc(0);
      for (;;) {
        const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        let data = Buffer.concat([rest, chunk.subarray(0, bytesRead)]);
        let newline: number;
        while ((newline = data.indexOf(NEWLINE)) >= 0) {
          take(data.subarray(0, newline).toString('utf8'));
          data = data.subarray(newline + 1);
          if (batch.length >= batchSize) await flush();
        }
        rest = Buffer.from(data);
      }
      if (rest.length > 0) take(rest.toString('utf8'));
      await flush();
    } catch (err) {
      if (err !== STOPPED) throw err;
      return { applied, complete: false };
    } finally {
      await file.close();
    }
    return { applied, complete: true };
  }

  private async begin(): Promise<{ segment: Segment; file: FileHandle }> {
    const segment = { seq: this.nextSeq++, name: '', bytes: 0 };
    segment.name = `segment-${String(segment.seq).padStart(12, '0')}.ndjson`;
    const file = await open(join(this.options.dir, segment.name), 'wx');
    syncDirectory(this.options.dir);
    this.segments.push(segment);
    this.current = { segment, file };
    return this.current;
  }

  private async seal(): Promise<void> {
    if (!this.current) return;
    const { file } = this.current;
    this.current = null;
    await file.close();
  }

  private serially<R>(task: () => Promise<R>): Promise<R> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

const OWNED = /^(\d+)-[0-9a-f]+$/;
/** Directories claimed by gateways in this process (tests run several in one process), never taken from them. */
const claimedHere = new Set<string>();

/**
 * Spool directories under `base`, one per process (the gateway may run several workers on
 * one `DATA_DIR`): a new one named `<pid>-<random>` for this process, and the directories of
 * processes that are gone (crashed, killed, restarted), taken over by renaming them to this
 * process's name (an atomic step, so two starting workers never take the same one) for
 * this process to replay and remove. A directory whose process still runs is left alone.
 */
export function claimSpoolDirs(base: string, pid = process.pid, alive: (pid: number) => boolean = processAlive): { own: string; orphans: string[] } {
  mkdirSync(base, { recursive: true });
  const orphans: string[] = [];
  for (const name of readdirSync(base).sort()) {
    const match = OWNED.exec(name);
    if (!match) continue;
    const owner = Number(match[1]);
    if (claimedHere.has(join(base, name))) continue;
    // The same pid as this process but not claimed in it: a previous life's (a container restarts as pid 1).
    if (owner !== pid && alive(owner)) continue;
    const claimed = join(base, `${pid}-${randomBytes(6).toString('hex')}`);
    try {
      renameSync(join(base, name), claimed);
      orphans.push(claimed);
      claimedHere.add(claimed);
    } catch {
      // Another process took it first.
    }
  }
  const own = join(base, `${pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(own, { recursive: true });
  claimedHere.add(own);
  syncDirectory(base);
  return { own, orphans };
}

/** Gives a directory back when its gateway closes: removed when empty, else left for the next claim to take over. */
export function releaseSpoolDir(dir: string, empty: boolean): void {
  claimedHere.delete(dir);
  if (empty) rmSync(dir, { recursive: true, force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Cuts a segment back to its last complete line (a crash may have torn the last write); returns its size. */
function repairTail(path: string): number {
  const size = statSync(path).size;
  if (size === 0) return 0;
  const fd = openSync(path, 'r+');
  try {
    const chunk = Buffer.alloc(READ_CHUNK);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const read = readSync(fd, chunk, 0, end - start, start);
      const at = chunk.subarray(0, read).lastIndexOf(NEWLINE);
      if (at >= 0) {
        const keep = start + at + 1;
        if (keep < size) {
          ftruncateSync(fd, keep);
          fsyncSync(fd);
        }
        return keep;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
    fsyncSync(fd);
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** Makes a new file's directory entry durable. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
