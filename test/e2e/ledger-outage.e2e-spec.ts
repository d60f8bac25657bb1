import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, closedPort, embedded, expectOpenAIError } from './harness';
import { createBudget } from './governance-helpers';
import { PrivatePostgres } from './private-postgres';

/**
 * The usage ledger and serving through a database outage, on a Postgres server of the
 * test's own that is stopped (`pg_ctl stop -m immediate`) and started again under load,
 * with the built gateway as a real process (so SIGKILL is real):
 * - 1,000 requests with the server stopped mid-load and restarted: every one answered, and
 *   exactly 1,000 usage records (and rollups that count each once) afterwards;
 * - during an outage a known key keeps working past its cache TTL, an unknown key gets 503
 *   `store_unavailable`, readiness says degraded and shows the spool;
 * - SIGKILL while records wait in the spool: the next process on the same DATA_DIR replays
 *   them, each once.
 * Not run on the embedded store (there is no server to stop).
 */
const ROOT = join(__dirname, '..', '..');
/**
 * The gateway is built into a directory of this run's own (under node_modules, so packages
 * resolve): the shared `dist/` is deleted and rebuilt by any `nest build`, which would
 * pull the program from under a gateway being restarted.
 */
const BUILD = join(ROOT, 'node_modules', '.cache', `tokenhub-ledger-e2e-${process.pid}`);
const MAIN = join(BUILD, 'dist', 'apps', 'gateway', 'src', 'main.js');

async function buildGateway(): Promise<void> {
  mkdirSync(BUILD, { recursive: true });
  writeFileSync(join(BUILD, 'tsconfig.json'), JSON.stringify({ extends: '../../../tsconfig.build.json', compilerOptions: { outDir: join(BUILD, 'dist') } }));
  await promisify(execFile)('npx', ['nest', 'build', 'gateway', '-p', join('node_modules', '.cache', `tokenhub-ledger-e2e-${process.pid}`, 'tsconfig.json')], { cwd: ROOT });
}
const TOTAL = 1_000;
const CONCURRENCY = 20;
const AUTH_TTL_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  output: { stdout: string; stderr: string };
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Ready {
  status: string;
  database: string;
  limits: string;
  ledger: { buffered: number; spool_bytes: number; spool_segments: number; accepting: boolean };
}

if (embedded) {
  console.log('ledger-outage: skipped on the embedded store (TOKENHUB_TEST_STORE=embedded): these tests stop and restart a Postgres server');
}

(embedded ? describe.skip : describe)('usage ledger and serving through a database outage', () => {
  let pg: PrivatePostgres;
  let fake: FakeOpenAI;
  let dataDir: string;
  let env: Record<string, string>;
  let gateway: GatewayProcess;
  let key: string;
  const started: GatewayProcess[] = [];

  async function spawnGateway(overrides: Record<string, string> = {}): Promise<GatewayProcess> {
    const port = await closedPort();
    const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env, ...overrides, PORT: String(port), HOST: '127.0.0.1' };
    delete fullEnv.REDIS_URL;
    const proc = spawn(process.execPath, [MAIN], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { stdout: '', stderr: '' };
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
    let exited = false;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once('exit', (code, signal) => {
        exited = true;
        resolve({ code, signal });
      }),
    );
    const g = { proc, url: `http://127.0.0.1:${port}`, output, exit };
    started.push(g);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`the gateway exited while starting:\n${output.stderr}\n${output.stdout}`);
      try {
        const res = await fetch(`${g.url}/health/live`);
        await res.arrayBuffer();
        if (res.ok) return g;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the gateway did not start:\n${output.stderr}`);
      await sleep(50);
    }
  }

  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  async function ready(g = gateway): Promise<{ status: number; body: Ready }> {
    const res = await fetch(`${g.url}/health/ready`);
    return { status: res.status, body: (await res.json()) as Ready };
  }

  async function chat(k: string, i: number, g = gateway): Promise<{ status: number; requestId: string; body: unknown }> {
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ metadata: { i: String(i) } })),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, requestId: res.headers.get('x-request-id')!, body: await res.json() };
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
      await sleep(100);
    }
  }

  /** Every request id has exactly one usage record, and the hourly rollups count each once. */
  async function expectRecorded(requestIds: string[]): Promise<void> {
    let seen = 0;
    let missing: string[] = [];
    const rows = await waitFor('the usage records', async () => {
      const found = await query<{ request_id: string }>(`SELECT request_id FROM usage_records WHERE request_id = ANY($1)`, [requestIds]);
      seen = found.length;
      missing = requestIds.filter((id) => !found.some((r) => r.request_id === id));
      return found.length >= requestIds.length ? found : undefined;
    }).catch(async (err: Error) => {
      const state = await ready().catch((e: Error) => e.message);
      throw new Error(
        `${err.message}: ${seen} of ${requestIds.length} (missing ${missing.slice(0, 5).join(', ')}); ready: ${JSON.stringify(state)}\n` +
          `${gateway.output.stderr.slice(-3000)}\n${gateway.output.stdout.slice(-6000)}`,
      );
    });
    expect(rows.map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
    // One statement, one snapshot: a batch the gateway commits meanwhile is in both counts or in neither.
    const [{ records, counted }] = await query<{ records: string; counted: string | null }>(
      `SELECT (SELECT count(*) FROM usage_records) AS records, (SELECT sum(requests) FROM usage_rollups) AS counted`,
    );
    expect(Number(counted)).toBe(Number(records));
  }

  beforeAll(async () => {
    [pg] = await Promise.all([PrivatePostgres.start(), buildGateway()]);
    fake = new FakeOpenAI();
    dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-ledger-'));
    env = {
      DATABASE_URL: pg.url,
      DATA_DIR: dataDir,
      WORKERS: '1',
      TOKENHUB_ADMIN_KEY: ADMIN_KEY,
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: await fake.start(),
      LOG_LEVEL: 'warn',
      USAGE_FLUSH_INTERVAL_MS: '50',
      USAGE_BATCH_SIZE: '100',
      TOKENHUB_MAX_RETRIES: '0',
      AUTH_CACHE_TTL_MS: String(AUTH_TTL_MS),
    };
    gateway = await spawnGateway();
    const created = await fetch(`${gateway.url}/admin/virtual-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'outage' }),
    });
    expect(created.status).toBe(201);
    ({ key } = (await created.json()) as { key: string });
  }, 150_000);

  afterAll(async () => {
    for (const g of started) if (g.proc.exitCode === null && g.proc.signalCode === null) g.proc.kill('SIGKILL');
    await Promise.all(started.map((g) => g.exit));
    await fake?.stop();
    await pg?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    rmSync(BUILD, { recursive: true, force: true });
  });

  it(`${TOTAL} requests with the database stopped mid-load and restarted: all answered, exactly ${TOTAL} usage records`, async () => {
    const warm = await chat(key, -1);
    expect(warm.status).toBe(200); // the key is now in the gateway's cache
    await expectRecorded([warm.requestId]);
    const [{ before }] = await query<{ before: string }>(`SELECT count(*) AS before FROM usage_records`);
    const outcomes: Array<{ status: number; requestId: string; body: unknown }> = [];
    let next = 0;
    let stoppedAt = 0;
    let restartedAt = 0;
    const outage = (async () => {
      while (outcomes.length < 300) await sleep(5);
      await pg.stop();
      stoppedAt = outcomes.length;
      // Longer than the key's cache TTL, so the stale entry is what serves it.
      await sleep(1_500);
      while (outcomes.length < 700) await sleep(5);
      await pg.startServer();
      restartedAt = outcomes.length;
    })();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TOTAL) {
          const i = next++;
          outcomes.push(await chat(key, i));
        }
      }),
    );
    await outage;
    console.log(`ledger-outage: ${TOTAL} requests, database stopped after ${stoppedAt} answers and restarted after ${restartedAt}`);

    const failed = outcomes.filter((o) => o.status !== 200);
    expect(failed.map((o) => ({ status: o.status, body: o.body }))).toEqual([]);
    expect(new Set(outcomes.map((o) => o.requestId)).size).toBe(TOTAL);
    await expectRecorded(outcomes.map((o) => o.requestId));
    const [{ after }] = await query<{ after: string }>(`SELECT count(*) AS after FROM usage_records`);
    expect(Number(after) - Number(before)).toBe(TOTAL);
    const state = await waitFor('the spool to drain', async () => {
      const r = await ready();
      return r.body.status === 'ok' ? r : undefined;
    });
    expect(state.status).toBe(200);
    expect(state.body.ledger).toMatchObject({ buffered: 0, spool_bytes: 0, accepting: true });
    expect(gateway.output.stderr).not.toMatch(/"level":60|uncaught|unhandled/i);
  }, 120_000);

  it('during an outage: a known key keeps working past its TTL, an unknown key gets 503 store_unavailable, readiness says degraded', async () => {
    expect((await chat(key, 2000)).status).toBe(200);
    await pg.stop();
    try {
      await sleep(AUTH_TTL_MS * 2);
      const known = await chat(key, 2001);
      expect(known.status).toBe(200);
      const unknown = await chat('sk-bf-not-a-key-not-a-key-not-a-key', 2002);
      expect(unknown.status).toBe(503);
      expect(expectOpenAIError(unknown.body)).toMatchObject({ type: 'server_error', code: 'store_unavailable' });
      const admin = await fetch(`${gateway.url}/admin/virtual-keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(admin.status).toBeGreaterThanOrEqual(500);
      expectOpenAIError(await admin.json());

      const degraded = await waitFor('the records in the spool', async () => {
        const r = await ready();
        return r.body.ledger.spool_bytes > 0 && r.body.ledger.buffered === 0 ? r : undefined;
      });
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatchObject({ status: 'degraded', database: 'down', ledger: { accepting: true } });
      expect(degraded.body.ledger.spool_segments).toBeGreaterThan(0);
      await pg.startServer();
      const back = await waitFor('readiness ok', async () => {
        const r = await ready();
        return r.body.status === 'ok' ? r : undefined;
      });
      expect(back.body).toMatchObject({ database: 'up', ledger: { buffered: 0, spool_bytes: 0 } });
      await expectRecorded([known.requestId, unknown.requestId]);
    } finally {
      await pg.startServer().catch(() => undefined);
    }
  });

  it('during an outage a budget is enforced in the process against its last known spend, and the spend is reconciled when the database is back', async () => {
    const created = await fetch(`${gateway.url}/admin/virtual-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'outage-budget' }),
    });
    const budgeted = (await created.json()) as { id: string; key: string };
    const limitUsd = 0.004;
    const budgetId = await createBudget(query, 'key', budgeted.id, 'lifetime', limitUsd);
    // openai/gpt-4o: ~13 prompt tokens (estimated) and max_tokens 50 are reserved.
    const body = chatBody({ max_tokens: 50 });
    const reservation = (13 * 2.5 + 50 * 10) / 1e6;
    const send = async () => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${budgeted.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200);
    await sleep(300); // the background read of the budget's spend

    await pg.stop();
    let served = 0;
    let refusal: unknown;
    try {
      for (let i = 0; i < 400 && !refusal; i++) {
        const r = await send();
        if (r.status === 200) served++;
        else refusal = r;
      }
    } finally {
      await pg.startServer();
    }
    expect(served).toBeGreaterThan(0);
    expect(refusal).toMatchObject({ status: 402 });
    expect(expectOpenAIError((refusal as { body: unknown }).body).code).toBe('budget_exceeded');

    const costs = await waitFor('the usage records of the budgeted key', async () => {
      const rows = await query<{ cost_usd: string | null; status_code: number }>(`SELECT cost_usd, status_code FROM usage_records WHERE key_id = $1`, [budgeted.id]);
      return rows.length >= 3 + served + 1 ? rows : undefined;
    });
    const spent = costs.reduce((sum, r) => sum + Number(r.cost_usd ?? 0), 0);
    console.log(`ledger-outage: budget $${limitUsd}: ${served} served during the outage, spent $${spent.toFixed(7)} (one reservation $${reservation})`);
    expect(spent).toBeLessThanOrEqual(limitUsd + reservation + 1e-9);
    // Reconciled: the budget window holds what the usage records say was spent, nothing reserved.
    const window = await waitFor('the reconciled budget window', async () => {
      const [w] = await query<{ spent_usd: string; reserved_usd: string }>(`SELECT spent_usd, reserved_usd FROM budget_windows WHERE budget_id = $1`, [budgetId]);
      return w && Math.abs(Number(w.spent_usd) - spent) < 1e-8 ? w : undefined;
    });
    expect(Number(window.reserved_usd)).toBe(0);
    // And the store decides again: the budget is spent, so the next request is refused there too.
    expect((await send()).status).toBe(402);
  });

  it('SIGKILL while records wait in the spool: the next process on the same DATA_DIR writes every one, once', async () => {
    expect((await chat(key, 3000)).status).toBe(200);
    await pg.stop();
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => chat(key, 3001 + i)));
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    await waitFor('every record in the spool', async () => {
      const r = await ready();
      return r.body.ledger.buffered === 0 && r.body.ledger.spool_bytes > 0 ? r : undefined;
    });
    gateway.proc.kill('SIGKILL');
    expect(await gateway.exit).toEqual({ code: null, signal: 'SIGKILL' });
    await pg.startServer();

    gateway = await spawnGateway();
    await expectRecorded(outcomes.map((o) => o.requestId));
    const state = await waitFor('the spool to drain', async () => {
      const r = await ready();
      return r.body.status === 'ok' ? r : undefined;
    });
    expect(state.body.ledger).toMatchObject({ spool_bytes: 0, spool_segments: 0 });
  });

  it('SIGTERM during an outage: what is in memory goes to the spool, the process exits 0, and the next one writes it', async () => {
    expect((await chat(key, 4000)).status).toBe(200);
    await pg.stop();
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(key, 4001 + i)));
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    gateway.proc.kill('SIGTERM');
    expect(await gateway.exit).toEqual({ code: 0, signal: null });
    await pg.startServer();
    gateway = await spawnGateway();
    await expectRecorded(outcomes.map((o) => o.requestId));
  });

  it('a full spool refuses new chat requests with 503 ledger_full, and lets them in again once the database has taken the backlog', async () => {
    const smallDir = mkdtempSync(join(tmpdir(), 'tokenhub-ledger-full-'));
    const small = await spawnGateway({ DATA_DIR: smallDir, USAGE_SPOOL_MAX_MB: '1' });
    try {
      expect((await chat(key, 5000, small)).status).toBe(200);
      await pg.stop();
      const served: string[] = [];
      let refused: { status: number; requestId: string; body: unknown } | undefined;
      try {
        let i = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (!refused && i < 5_000) {
              const r = await chat(key, 5001 + i++, small);
              if (r.status === 200) served.push(r.requestId);
              else refused ??= r;
            }
          }),
        );
        expect(refused).toBeDefined();
        expect(expectOpenAIError(refused!.body)).toMatchObject({ type: 'server_error', code: 'ledger_full' });
        const full = await ready(small);
        expect(full.status).toBe(503);
        expect(expectOpenAIError(full.body).code).toBe('ledger_full');
        console.log(`ledger-outage: a 1 MB spool took ${served.length} requests before refusing`);
      } finally {
        await pg.startServer();
      }
      await waitFor('the spool to drain', async () => {
        const r = await ready(small);
        return r.status === 200 && r.body.status === 'ok' ? r : undefined;
      });
      expect((await chat(key, 9999, small)).status).toBe(200);
      await expectRecorded(served);
    } finally {
      small.proc.kill('SIGTERM');
      await small.exit;
      rmSync(smallDir, { recursive: true, force: true });
    }
  });
});
