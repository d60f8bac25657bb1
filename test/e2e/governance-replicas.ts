import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, closedPort, createTestDatabase, dropTestDatabase, embedded, expectOpenAIError } from './harness';
import { createBudget, createTeam, ensureMinuteLeft, Limits, Query, redisNamespace, REDIS_URL, setLimits, sleep } from './governance-helpers';

/**
 * Two gateway processes (the built app) on one Postgres database, hammered at once: a
 * budget is not overspent by more than one request's reservation, a 60-a-minute key gets
 * exactly 60 answers, and a concurrency cap of 5 is never exceeded upstream. Run once per
 * limit store, as two replicas (two `WORKERS=1` processes, each request sent to one or the
 * other) and as one process with `WORKERS=2` (the cluster primary spreads connections over
 * its workers). Not run on the embedded store: PGlite cannot be shared by two processes.
 */
const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js');
const REQUESTS = 200;
/** openai/gpt-4o in the bundled catalog, USD per million tokens. */
const GPT_4O = { input: 2.5, output: 10 };

export interface Replica {
  proc: ChildProcess;
  url: string;
  output: { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

export async function spawnReplica(env: Record<string, string>): Promise<Replica> {
  const port = await closedPort();
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' };
  if (!env.REDIS_URL) delete fullEnv.REDIS_URL;
  const proc = spawn(process.execPath, [MAIN], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      done = true;
      resolve(code);
    }),
  );
  const replica = { proc, url: `http://127.0.0.1:${port}`, output, exited };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (done) throw new Error(`the gateway exited while starting:\n${output.stderr}\n${output.stdout}`);
    try {
      const res = await fetch(`${replica.url}/health/ready`);
      await res.arrayBuffer();
      if (res.ok) return replica;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the gateway did not become ready:\n${output.stderr}`);
    await sleep(50);
  }
}

export async function stopReplica(replica: Replica): Promise<void> {
  if (replica.proc.exitCode !== null) return;
  replica.proc.kill('SIGTERM');
  await replica.exited;
}

interface Outcome {
  status: number;
  headers: Headers;
  body: unknown;
}

export function describeReplicas(store: 'postgres' | 'redis', topology: 'replicas' | 'cluster' = 'replicas'): void {
  const title = topology === 'replicas' ? 'two replicas' : 'the two workers of one process (WORKERS=2)';
  (embedded ? describe.skip : describe)(`governance across ${title} (${store} store)`, () => {
    let fake: FakeOpenAI;
    let databaseUrl: string;
    let db: Client;
    let replicas: Replica[] = [];
    const ns = redisNamespace();
    const query: Query = async <T>(sql: string, params?: unknown[]) => (await db.query(sql, params)).rows as T[];

    beforeAll(async () => {
      if (!existsSync(MAIN)) await promisify(execFile)('npx', ['nest', 'build', 'gateway'], { cwd: ROOT });
      fake = new FakeOpenAI();
      fake.completionDelayMs = 200;
      const base = await fake.start();
      databaseUrl = await createTestDatabase();
      const env = {
        DATABASE_URL: databaseUrl,
        TOKENHUB_ADMIN_KEY: ADMIN_KEY,
        OPENAI_API_KEY: 'sk-upstream',
        OPENAI_BASE_URL: base,
        LOG_LEVEL: 'warn',
        USAGE_FLUSH_INTERVAL_MS: '50',
        TOKENHUB_MAX_RETRIES: '0',
        ...(store === 'redis' ? { REDIS_URL, REDIS_KEY_PREFIX: ns.prefix } : {}),
      };
      if (topology === 'cluster') {
        const both = await spawnReplica({ ...env, WORKERS: '2' });
        replicas.push(both, both);
      } else {
        // One after the other: the first runs the migrations on the fresh database.
        replicas.push(await spawnReplica({ ...env, WORKERS: '1' }));
        replicas.push(await spawnReplica({ ...env, WORKERS: '1' }));
      }
      db = new Client({ connectionString: databaseUrl });
      await db.connect();
    }, 90_000);

    afterAll(async () => {
      await Promise.all([...new Set(replicas)].map(stopReplica));
      replicas = [];
      await db?.end();
      if (databaseUrl) await dropTestDatabase(databaseUrl);
      await fake?.stop();
      if (store === 'redis') await ns.cleanup();
    });

    async function keyWith(limits: Limits, teamId: string | null = null): Promise<{ id: string; key: string }> {
      const res = await fetch(`${replicas[0].url}/admin/virtual-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `replicas-${store}` }),
      });
      expect(res.status).toBe(201);
      const key = (await res.json()) as { id: string; key: string };
      await setLimits(query, 'virtual_keys', key.id, limits);
      if (teamId) await query(`UPDATE virtual_keys SET team_id = $2 WHERE id = $1`, [key.id, teamId]);
      return key;
    }

    /** `count` requests at once, alternating between the two replicas. */
    async function burst(key: string, count: number, body: Record<string, unknown>, offset = 0): Promise<Outcome[]> {
      return Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const res = await fetch(`${replicas[(i + offset) % 2].url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          return { status: res.status, headers: res.headers, body: await res.json() };
        }),
      );
    }

    async function usageRows(keyId: string, count: number): Promise<Array<{ status_code: number; cost_usd: string | null; error_code: string | null }>> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const rows = await query<{ status_code: number; cost_usd: string | null; error_code: string | null }>(
          `SELECT status_code, cost_usd, error_code FROM usage_records WHERE key_id = $1`,
          [keyId],
        );
        if (rows.length >= count || Date.now() > deadline) return rows;
        await sleep(100);
      }
    }

    if (topology === 'cluster') {
      it('runs two worker processes under the primary', async () => {
        const { stdout } = await promisify(execFile)('ps', ['--ppid', String(replicas[0].proc.pid), '-o', 'pid=']);
        expect(stdout.trim().split(/\s+/)).toHaveLength(2);
      });
    }

    const tally = (outcomes: Outcome[]) => outcomes.reduce<Record<number, number>>((acc, o) => ({ ...acc, [o.status]: (acc[o.status] ?? 0) + 1 }), {});

    it(`overspends a small budget by at most one request's reservation (${REQUESTS} requests at once)`, async () => {
      const team = await createTeam(query);
      const key = await keyWith({}, team);
      const limitUsd = 0.01;
      const keyBudget = await createBudget(query, 'key', key.id, 'lifetime', limitUsd);
      const teamBudget = await createBudget(query, 'team', team, 'monthly', 1);
      const body = chatBody({ max_tokens: 50 });
      // The worst case the gateway reserves: 13 prompt tokens (estimated) and 50 output tokens.
      const reservation = (13 * GPT_4O.input + 50 * GPT_4O.output) / 1e6;

      const outcomes = await burst(key.key, REQUESTS, body);
      const counts = tally(outcomes);
      expect(Object.keys(counts).sort()).toEqual(['200', '402']);
      for (const o of outcomes.filter((x) => x.status === 402)) expect(expectOpenAIError(o.body).code).toBe('budget_exceeded');

      const burstRows = await usageRows(key.id, REQUESTS);
      expect(burstRows).toHaveLength(REQUESTS);
      expect(burstRows.filter((r) => r.status_code === 402).every((r) => r.error_code === 'budget_exceeded')).toBe(true);
      const burstSpent = burstRows.reduce((sum, r) => sum + Number(r.cost_usd ?? 0), 0);
      expect(counts[200]).toBeGreaterThan(0);
      expect(burstSpent).toBeLessThanOrEqual(limitUsd + reservation + 1e-12);

      // Then one at a time until refused: with nothing in flight, a refusal means the budget is
      // used up to within one reservation; so the budget binds, and nothing was lost to leaks.
      let more = 0;
      for (; more < 100; more++) {
        const [o] = await burst(key.key, 1, body, more);
        if (o.status === 402) break;
        expect(o.status).toBe(200);
      }
      const rows = await usageRows(key.id, REQUESTS + more + 1);
      const spent = rows.reduce((sum, r) => sum + Number(r.cost_usd ?? 0), 0);
      console.log(
        `[${store}] budget $${limitUsd}: burst of ${REQUESTS}: ${counts[200]} served, ${counts[402]} refused, spent $${burstSpent.toFixed(7)}; ` +
          `then ${more} more one by one: spent $${spent.toFixed(7)}, overshoot $${(spent - limitUsd).toFixed(7)} (one reservation $${reservation})`,
      );
      expect(spent).toBeLessThanOrEqual(limitUsd + reservation + 1e-12);
      expect(spent).toBeGreaterThan(limitUsd - reservation);

      // Once settled, the ledger holds exactly what was spent at both levels, and nothing reserved.
      if (store === 'redis') {
        const r = ns.redis();
        const [keySpent, keyReserved] = await r.hmget(`${ns.prefix}budget:${keyBudget}:0`, 'spent', 'reserved');
        expect(Number(keySpent)).toBeCloseTo(spent, 8);
        expect(Number(keyReserved)).toBeCloseTo(0, 10);
      }
      const deadline = Date.now() + 5_000;
      let windows: Array<{ budget_id: string; spent_usd: string; reserved_usd: string }> = [];
      for (;;) {
        windows = await query(`SELECT budget_id, spent_usd, reserved_usd FROM budget_windows WHERE budget_id = ANY($1)`, [[keyBudget, teamBudget]]);
        const settled = windows.length === 2 && windows.every((w) => Math.abs(Number(w.spent_usd) - spent) < 1e-8);
        if (settled || Date.now() > deadline) break;
        await sleep(100);
      }
      expect(windows).toHaveLength(2);
      for (const w of windows) {
        expect(Number(w.spent_usd)).toBeCloseTo(spent, 8);
        expect(Number(w.reserved_usd)).toBe(0);
      }
    });

    it(`gives a 60-a-minute key exactly 60 answers out of ${REQUESTS}`, async () => {
      await ensureMinuteLeft(15_000);
      const key = await keyWith({ requestsPerMinute: 60 });
      const outcomes = await burst(key.key, REQUESTS, chatBody());
      expect(tally(outcomes)).toEqual({ 200: 60, 429: REQUESTS - 60 });
      for (const o of outcomes) {
        expect(o.headers.get('x-ratelimit-limit-requests')).toBe('60');
        if (o.status === 429) {
          expect(expectOpenAIError(o.body).code).toBe('rate_limit_exceeded');
          expect(Number(o.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          expect(o.headers.get('x-ratelimit-remaining-requests')).toBe('0');
        }
      }
      const remaining = outcomes.filter((o) => o.status === 200).map((o) => Number(o.headers.get('x-ratelimit-remaining-requests')));
      expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      const rows = await usageRows(key.id, REQUESTS);
      expect(rows.filter((r) => r.status_code === 429 && r.error_code === 'rate_limit_exceeded')).toHaveLength(REQUESTS - 60);
    });

    it('never lets more than 5 requests of a key with a concurrency cap of 5 reach the provider at once', async () => {
      const key = await keyWith({ maxConcurrency: 5 });
      fake.maxInFlight = fake.inFlight;
      const outcomes = await burst(key.key, 100, chatBody({ model: 'openai/slow-complete' }));
      const counts = tally(outcomes);
      console.log(`[${store}] concurrency 5: ${counts[200]} served, ${counts[429]} refused, at most ${fake.maxInFlight} upstream at once`);
      expect(fake.maxInFlight).toBeLessThanOrEqual(5);
      expect(fake.maxInFlight).toBeGreaterThanOrEqual(2);
      expect(Object.keys(counts).sort()).toEqual(['200', '429']);
      expect(counts[200]).toBeGreaterThanOrEqual(5);
      for (const o of outcomes.filter((x) => x.status === 429)) expect(expectOpenAIError(o.body).message).toContain('in flight');

      // Every slot came back: 5 at once are all served.
      fake.maxInFlight = fake.inFlight;
      expect(tally(await burst(key.key, 5, chatBody({ model: 'openai/slow-complete' })))).toEqual({ 200: 5 });
      if (store === 'postgres') {
        const [row] = await query<{ value: string }>(`SELECT value FROM limit_counters WHERE name = $1`, [`conc:key:${key.id}`]);
        expect(Number(row.value)).toBe(0);
      } else {
        expect(await ns.redis().zcard(`${ns.prefix}conc:key:${key.id}`)).toBe(0);
      }
    });
  });
}
