import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimSpoolDirs, releaseSpoolDir, Spool, SpoolFullError, SpoolOptions } from './usage-spool';

interface Item {
  id: number;
  at?: string | Date;
  pad?: string;
}

describe('Spool', () => {
  let dir: string;
  const open = (options: Partial<SpoolOptions> = {}) => Spool.open<Item>({ dir, maxBytes: 10 * 1024 * 1024, segmentBytes: 200, ...options });
  const items = (from: number, count: number): Item[] => Array.from({ length: count }, (_, i) => ({ id: from + i }));
  const segments = () => readdirSync(dir).filter((n) => n.endsWith('.ndjson')).sort();

  /** Replays into an array, as the database would take them: by id, a second copy changes nothing. */
  async function drain(spool: Spool<Item>, sink = new Map<number, Item>(), batchSize = 7): Promise<Item[]> {
    const seen: Item[] = [];
    await spool.replay(async (batch) => {
      expect(batch.length).toBeLessThanOrEqual(batchSize);
      for (const item of batch) {
        seen.push(item);
        if (!sink.has(item.id)) sink.set(item.id, item);
      }
    }, batchSize);
    return seen;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenhub-spool-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands items back in the order they were appended, across segments, then deletes the segments', async () => {
    const spool = open();
    for (let i = 0; i < 10; i++) await spool.append(items(i * 10, 10));
    expect(segments().length).toBeGreaterThan(3);
    expect(spool.bytes).toBe(segments().reduce((sum, name) => sum + statSync(join(dir, name)).size, 0));

    const seen = await drain(spool);
    expect(seen.map((i) => i.id)).toEqual(items(0, 100).map((i) => i.id));
    expect(segments()).toEqual([]);
    expect(spool.empty).toBe(true);
    expect(spool.bytes).toBe(0);
  });

  it('writes each batch whole before append resolves, and revives what it reads', async () => {
    const spool = open({ revive: (v) => ({ ...(v as Item), at: new Date((v as Item).at as string) }) });
    const at = new Date('2026-01-02T03:04:05.678Z');
    await spool.append([{ id: 1, at }]);
    const [file] = segments();
    expect(readFileSync(join(dir, file), 'utf8')).toBe(`{"id":1,"at":"2026-01-02T03:04:05.678Z"}\n`);
    const [item] = await drain(spool);
    expect(item.at).toBeInstanceOf(Date);
    expect((item.at as Date).getTime()).toBe(at.getTime());
  });

  it('keeps items appended during a replay for the next one', async () => {
    const spool = open();
    await spool.append(items(0, 20));
    const seen: number[] = [];
    let appended = false;
    await spool.replay(async (batch) => {
      seen.push(...batch.map((i) => i.id));
      if (!appended) {
        appended = true;
        await spool.append(items(100, 5));
      }
    }, 5);
    expect(seen).toEqual(items(0, 20).map((i) => i.id));
    expect(spool.empty).toBe(false);
    expect((await drain(spool)).map((i) => i.id)).toEqual([100, 101, 102, 103, 104]);
  });

  it('refuses an append past its bound, appending nothing, unless forced', async () => {
    const spool = open({ maxBytes: 100, segmentBytes: 1000 });
    await spool.append(items(0, 5)); // 5 lines of 9 bytes
    await expect(spool.append(items(5, 10))).rejects.toBeInstanceOf(SpoolFullError);
    expect(spool.bytes).toBe(45);
    await spool.append(items(5, 10), { force: true });
    expect((await drain(spool)).map((i) => i.id)).toEqual(items(0, 15).map((i) => i.id));
  });

  it('after a crash, cuts a torn last line and skips (and reports) an unreadable one', async () => {
    const first = open({ segmentBytes: 10_000 });
    await first.append(items(0, 3));
    await first.append(items(3, 3));
    await first.close();
    const [file] = segments();
    const path = join(dir, file);
    const whole = statSync(path).size;
    // A crash in the middle of a write; and a line damaged on disk.
    appendFileSync(path, '{"id":6,"pad":"abc');
    const corrupt: Array<{ line: number }> = [];
    const damaged = readFileSync(path, 'utf8').replace('{"id":1}', '{"id":#}');
    writeFileSync(path, damaged);

    const reopened = open({ segmentBytes: 10_000, onCorrupt: (_segment, line) => corrupt.push({ line }) });
    expect(statSync(path).size).toBe(whole);
    expect(reopened.bytes).toBe(whole);
    const seen = await drain(reopened);
    expect(seen.map((i) => i.id)).toEqual([0, 2, 3, 4, 5]);
    expect(corrupt).toEqual([{ line: 2 }]);
    // A new process never appends to an old segment.
    await reopened.append(items(7, 1));
    await reopened.close();
    expect(segments()).not.toContain(file);
  });

  it('a replay cut short applies that segment again from its start; with an idempotent sink nothing is doubled or lost', async () => {
    const spool = open({ segmentBytes: 60 });
    await spool.append(items(0, 30));
    const sink = new Map<number, Item>();
    let calls = 0;
    await expect(
      spool.replay(async (batch) => {
        if (++calls === 4) throw new Error('database went away');
        for (const item of batch) sink.set(item.id, item);
      }, 3),
    ).rejects.toThrow('database went away');
    expect(sink.size).toBe(9);
    const before = segments().length;
    expect(before).toBeGreaterThan(0);

    // The process dies here; the next one replays what is left.
    const seen = await drain(open({ segmentBytes: 60 }), sink, 3);
    expect(seen.length).toBeGreaterThanOrEqual(21);
    expect([...sink.keys()].sort((a, b) => a - b)).toEqual(items(0, 30).map((i) => i.id));
    expect(segments()).toEqual([]);
  });

  it('a replay told to stop ends between two batches and keeps the segment under way, whole', async () => {
    const spool = open({ segmentBytes: 10_000 });
    await spool.append(items(0, 10));
    let batches = 0;
    const applied = await spool.replay(async () => void batches++, 3, () => batches >= 2);
    expect(applied).toBe(6);
    expect(spool.empty).toBe(false);
    expect((await drain(spool)).map((i) => i.id)).toEqual(items(0, 10).map((i) => i.id));
  });

  it('streams segments: memory stays flat while replaying a spool far larger than a batch', async () => {
    const spool = open({ segmentBytes: 16 * 1024 * 1024, maxBytes: 1024 * 1024 * 1024 });
    const pad = 'x'.repeat(1000);
    for (let b = 0; b < 60; b++) await spool.append(Array.from({ length: 1000 }, (_, i) => ({ id: b * 1000 + i, pad })));
    expect(spool.bytes).toBeGreaterThan(60_000_000);

    const memory = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = memory();
    let peak = 0;
    let count = 0;
    let last = -1;
    let inOrder = true;
    await spool.replay(async (batch) => {
      for (const item of batch) {
        inOrder &&= item.id === last + 1;
        last = item.id;
      }
      count += batch.length;
      peak = Math.max(peak, memory() - base);
    }, 200);
    expect(count).toBe(60_000);
    expect(inOrder).toBe(true);
    // Loading the spool whole would take more than 60 MB; streaming holds a read chunk and a batch.
    expect(peak).toBeLessThan(40 * 1024 * 1024);
  }, 60_000);

  it('gives each process a directory of its own and hands it those of processes that are gone, once', async () => {
    const live = new Set([101, 102]);
    const alive = (pid: number) => live.has(pid);
    const a = claimSpoolDirs(dir, 101, alive);
    const b = claimSpoolDirs(dir, 102, alive);
    expect(a.own).not.toBe(b.own);
    expect(a.orphans).toEqual([]);
    const left = Spool.open<Item>({ dir: a.own, maxBytes: 1e6, segmentBytes: 1e6 });
    await left.append(items(0, 3));
    await left.close();

    // 101 dies; the next two starts: one of them takes its directory, the live one's stays.
    live.delete(101);
    releaseSpoolDir(a.own, false); // (here all "processes" are this one, which remembers what it claimed)
    live.add(103).add(104);
    const c = claimSpoolDirs(dir, 103, alive);
    const d = claimSpoolDirs(dir, 104, alive);
    expect(c.orphans).toHaveLength(1);
    expect(d.orphans).toEqual([]);
    expect((await drain(Spool.open<Item>({ dir: c.orphans[0], maxBytes: 1e6, segmentBytes: 1e6 }))).map((i) => i.id)).toEqual([0, 1, 2]);
    expect(readdirSync(dir)).toContain(b.own.split('/').pop());

    // Within one process, a gateway never takes a directory another gateway of it still holds.
    const e = claimSpoolDirs(dir, process.pid);
    const f = claimSpoolDirs(dir, process.pid);
    expect(f.orphans).not.toContain(e.own);
    expect(readdirSync(dir)).toContain(e.own.split('/').pop());
    releaseSpoolDir(e.own, true);
    expect(readdirSync(dir)).not.toContain(e.own.split('/').pop());
  });
});
