import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDataSourceOptions } from '@tokenhub/store';
import { DataSource } from 'typeorm';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, closedPort, dropTestDatabase, embedded, expectOpenAIError, testEnv } from './harness';

/**
 * The built gateway as a real process: SIGTERM while ~200 requests are in flight lets
 * every one of them finish, flushes one usage record per request, and exits 0 within the
 * grace period. And the admin key generated at the first start is printed once.
 */
const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js');
const GRACE_MS = 15_000;
const TOTAL = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  output: { stdout: string; stderr: string };
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: GatewayProcess[] = [];

/** Starts `node dist/apps/gateway/src/main.js` on a free port; resolves once /health/ready answers. */
async function spawnGateway(env: Record<string, string | undefined>): Promise<GatewayProcess> {
  const port = await closedPort();
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' };
  for (const [name, value] of Object.entries(fullEnv)) if (value === undefined) delete fullEnv[name];
  const proc = spawn(process.execPath, [MAIN], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal, at: Date.now() });
    }),
  );
  const gateway = { proc, url: `http://127.0.0.1:${port}`, output, exit };
  started.push(gateway);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`the gateway exited while starting:\n${output.stderr}\n${output.stdout}`);
    try {
      const res = await fetch(`${gateway.url}/health/ready`);
      await res.arrayBuffer();
      if (res.ok) return gateway;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the gateway did not become ready:\n${output.stderr}`);
    await sleep(50);
  }
}

async function stopGateway(gateway: GatewayProcess): Promise<void> {
  gateway.proc.kill('SIGTERM');
  const { code } = await gateway.exit;
  expect(code).toBe(0);
}

/** One request of the batch: what was sent and what must come back. */
interface Planned {
  i: number;
  body: Record<string, unknown>;
  key: 'virtual' | 'bogus';
  expectStatus: number;
}

interface Outcome {
  planned: Planned;
  status?: number;
  requestId?: string;
  body?: string;
  error?: string;
  doneAt?: number;
}

function plan(i: number): Planned {
  const messages = [{ role: 'user', content: `request ${i}` }];
  const usage = i % 2 === 0 ? { stream_options: { include_usage: true } } : {};
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
      return { i, body: { model: 'openai/gpt-4o', messages, user: `u${i % 3}`, metadata: { i } }, key: 'virtual', expectStatus: 200 };
    case 3:
      return { i, body: { model: 'openai/slow-complete', messages, metadata: { i } }, key: 'virtual', expectStatus: 200 };
    case 4:
    case 5:
      return { i, body: { model: 'openai/gpt-4o-mini', messages, stream: true, ...usage, metadata: { i } }, key: 'virtual', expectStatus: 200 };
    case 6:
    case 7:
    case 8:
      return { i, body: { model: 'openai/slow-stream', messages, stream: true, ...usage, metadata: { i } }, key: 'virtual', expectStatus: 200 };
    default:
      return i % 20 === 9
        ? { i, body: { model: 'openai/gpt-4o', messages, temperature: 3, metadata: { i } }, key: 'virtual', expectStatus: 400 }
        : { i, body: { model: 'openai/gpt-4o', messages, metadata: { i } }, key: 'bogus', expectStatus: 401 };
  }
}

/** Checks that a response came back whole: the full completion, the full stream ending in [DONE], or an OpenAI error. */
function expectComplete(o: Outcome): void {
  const label = `request ${o.planned.i} (${JSON.stringify(o.planned.body.model)}${o.planned.body.stream ? ', stream' : ''})`;
  if (o.error) throw new Error(`${label} failed on the client: ${o.error}`);
  expect({ label, status: o.status }).toEqual({ label, status: o.planned.expectStatus });
  expect(o.requestId).toMatch(/^[0-9a-f-]{36}$/);
  const text = `echo: request ${o.planned.i}`;
  if (o.planned.expectStatus !== 200) {
    expectOpenAIError(JSON.parse(o.body!));
  } else if (o.planned.body.stream) {
    expect(o.body!.endsWith('data: [DONE]\n\n')).toBe(true);
    const chunks = o
      .body!.split('\n\n')
      .filter((block) => block.startsWith('data: ') && block !== 'data: [DONE]')
      .map((block) => JSON.parse(block.slice(6)) as { choices: Array<{ delta: { content?: string } }> });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(text);
  } else {
    expect(JSON.parse(o.body!).choices[0].message.content).toBe(text);
  }
}

describe('graceful shutdown of the built gateway', () => {
  let fake: FakeOpenAI;
  let upstream: string;
  let databaseUrl: string | undefined;
  let dataDir: string;
  /** The gateway's environment: the test database or data directory, the fake upstream. */
  let env: Record<string, string | undefined>;

  /**
   * Runs SQL against the gateway's database through a fresh connection, built the way the
   * gateway builds its own; only while no gateway runs (embedded Postgres is single-process).
   */
  async function queryStore<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const dataSource = await new DataSource(buildDataSourceOptions({ databaseUrl, dataDir, migrationsRun: false })).initialize();
    try {
      return (await dataSource.query(sql, params)) as T[];
    } finally {
      await dataSource.destroy();
    }
  }

  beforeAll(async () => {
    if (!existsSync(MAIN)) {
      await promisify(execFile)('npx', ['nest', 'build', 'gateway'], { cwd: ROOT });
    }
    fake = new FakeOpenAI();
    fake.chunkDelayMs = 60; // slow-stream: 20 chunks over ~1.2 s
    fake.completionDelayMs = 1_200;
    upstream = await fake.start();
    const setup = await testEnv();
    databaseUrl = setup.databaseUrl;
    dataDir = setup.dataDir;
    env = {
      ...setup.env,
      DATABASE_URL: databaseUrl, // undefined (removed) for the embedded store
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: upstream,
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      USAGE_FLUSH_INTERVAL_MS: '250',
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    for (const gateway of started) if (gateway.proc.exitCode === null && gateway.proc.signalCode === null) gateway.proc.kill('SIGKILL');
    await Promise.all(started.map((g) => g.exit));
    await fake?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const outcomes: Outcome[] = [];
  let key: string;

  it(`SIGTERM with ${TOTAL} requests in flight: each completes, the process exits 0 within the grace period`, async () => {
    const gateway = await spawnGateway(env);
    expect(gateway.output.stdout).not.toMatch(/sk-th-admin-/); // the admin key came from the environment
    const created = await fetch(`${gateway.url}/admin/virtual-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'shutdown' }),
    });
    expect(created.status).toBe(201);
    ({ key } = (await created.json()) as { key: string });

    const planned = Array.from({ length: TOTAL }, (_, i) => plan(i));
    const upstreamBound = planned.filter((p) => p.expectStatus === 200).length;
    const upstreamBefore = fake.requests.length;
    let settled = 0;
    const inFlight = planned.map(async (p) => {
      const outcome: Outcome = { planned: p };
      outcomes.push(outcome);
      try {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${p.key === 'virtual' ? key : 'sk-bf-bogus-bogus-bogus-bogus-bogus-bogus'}`, 'content-type': 'application/json' },
          body: JSON.stringify(p.body),
          // A connection the gateway leaves hanging fails the test instead of stalling it.
          signal: AbortSignal.timeout(GRACE_MS + 10_000),
        });
        outcome.status = res.status;
        outcome.requestId = res.headers.get('x-request-id') ?? undefined;
        outcome.body = await res.text();
      } catch (err) {
        outcome.error = `${(err as Error).message}${(err as { cause?: Error }).cause ? `: ${(err as { cause: Error }).cause.message}` : ''}`;
      } finally {
        outcome.doneAt = Date.now();
        settled++;
      }
    });

    // Every request has reached the gateway: the ones bound upstream are at the fake, the
    // others (400, 401) have been answered. Only then is the signal sent, so that no
    // request meets a closed listener.
    const accepted = Date.now() + 20_000;
    while (fake.requests.length - upstreamBefore < upstreamBound || outcomes.filter((o) => o.planned.expectStatus !== 200 && o.doneAt).length < TOTAL - upstreamBound) {
      if (Date.now() > accepted) throw new Error(`only ${fake.requests.length - upstreamBefore} of ${upstreamBound} requests reached the upstream`);
      await sleep(5);
    }
    const sigtermAt = Date.now();
    const stillRunning = TOTAL - settled;
    gateway.proc.kill('SIGTERM');

    await Promise.all(inFlight);
    const { code, signal, at } = await gateway.exit;

    // The slow ones (~1.2 s each) were still running when the signal came.
    expect(stillRunning).toBeGreaterThanOrEqual(60);
    for (const o of outcomes) expectComplete(o);
    expect(new Set(outcomes.map((o) => o.requestId)).size).toBe(TOTAL);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(at - sigtermAt).toBeLessThan(GRACE_MS);
    // It waited for the last of them before exiting.
    expect(at).toBeGreaterThanOrEqual(Math.max(...outcomes.map((o) => o.doneAt!)) - 50);
    expect(gateway.output.stderr).not.toMatch(/usage write failed|"level":50/);
  });

  it('after the exit the database holds exactly one usage record per request sent', async () => {
    expect(outcomes).toHaveLength(TOTAL);
    const rows = await queryStore<{ request_id: string; status_code: number; stream: boolean; total_tokens: number | null; metadata: { i: number } | null }>(
      'SELECT request_id, status_code, stream, total_tokens, metadata FROM usage_records',
    );
    expect(rows).toHaveLength(TOTAL);
    expect(rows.map((r) => r.request_id).sort()).toEqual(outcomes.map((o) => o.requestId!).sort());
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    for (const o of outcomes) {
      const row = byId.get(o.requestId!)!;
      expect({ i: o.planned.i, status: row.status_code }).toEqual({ i: o.planned.i, status: o.status });
      if (o.planned.key === 'virtual') expect(row.metadata).toEqual({ i: o.planned.i });
      if (o.status === 200) {
        expect(row.stream).toBe(o.planned.body.stream === true);
        expect(row.total_tokens).toBeGreaterThan(0); // streams too, whether or not the client asked for usage
      }
    }
  });

  describe('the generated admin key', () => {
    let generated: string;

    it('is printed once on stdout at the first start without TOKENHUB_ADMIN_KEY, and works', async () => {
      const gateway = await spawnGateway({ ...env, TOKENHUB_ADMIN_KEY: undefined });
      const printed = gateway.output.stdout.match(/sk-th-admin-[A-Za-z0-9]+/g) ?? [];
      expect(printed).toHaveLength(1);
      generated = printed[0]!;
      expect(generated).toMatch(/^sk-th-admin-[A-Za-z0-9]{32,}$/);

      // It opens the admin API, where the records of the previous run are all visible.
      const usage = await fetch(`${gateway.url}/admin/usage?limit=1000`, { headers: { authorization: `Bearer ${generated}` } });
      expect(usage.status).toBe(200);
      expect(((await usage.json()) as { data: unknown[] }).data).toHaveLength(TOTAL);
      // The environment's former admin key is no longer the admin key.
      const old = await fetch(`${gateway.url}/admin/usage`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(old.status).toBe(401);
      await old.arrayBuffer();
      await stopGateway(gateway);
      expect(gateway.output.stdout.match(/sk-th-admin-/g)).toHaveLength(1);
    });

    it('only its hash is stored', async () => {
      const settings = await queryStore<{ name: string; value: string }>('SELECT name, value FROM settings');
      expect(settings.map((s) => s.value)).toContain(createHash('sha256').update(generated).digest('hex'));
      expect(JSON.stringify(settings)).not.toContain(generated.slice('sk-th-admin-'.length));
    });

    it('is not printed again by a second start on the same database, and still works', async () => {
      const gateway = await spawnGateway({ ...env, TOKENHUB_ADMIN_KEY: undefined });
      expect(gateway.output.stdout).not.toMatch(/sk-th-admin-/);
      expect(gateway.output.stdout).not.toContain(generated);
      const keys = await fetch(`${gateway.url}/admin/virtual-keys`, { headers: { authorization: `Bearer ${generated}` } });
      expect(keys.status).toBe(200);
      await keys.arrayBuffer();
      await stopGateway(gateway);
      expect(gateway.output.stdout).not.toMatch(/sk-th-admin-/);
    });
  });

  it('requests still running when the grace period ends are cut, cleanly, and each one is still recorded', async () => {
    const gateway = await spawnGateway({ ...env, SHUTDOWN_GRACE_MS: '300' });
    const upstreamBefore = fake.requests.length;
    const cut = Array.from({ length: 10 }, (_, i) => ({
      model: i % 2 === 0 ? 'openai/slow-stream' : 'openai/slow-complete',
      stream: i % 2 === 0,
      messages: [{ role: 'user', content: `cut ${i}` }],
      metadata: { cut: i },
    }));
    const results = cut.map(async (body) => {
      try {
        const res = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        return { status: res.status, complete: text.endsWith('data: [DONE]\n\n') || text.includes('"chat.completion"') };
      } catch (err) {
        return { error: (err as Error).name === 'TimeoutError' ? 'hung' : 'cut' };
      }
    });
    while (fake.requests.length - upstreamBefore < cut.length) await sleep(5);
    const sigtermAt = Date.now();
    gateway.proc.kill('SIGTERM');
    const outcomes = await Promise.all(results);
    const { code, at } = await gateway.exit;

    expect(code).toBe(0);
    expect(at - sigtermAt).toBeLessThan(300 + 2_000);
    for (const outcome of outcomes) {
      expect(outcome).not.toEqual({ error: 'hung' });
      expect(outcome).not.toMatchObject({ complete: true });
    }
    const rows = await queryStore<{ metadata: { cut: number }; status_code: number }>(
      `SELECT metadata, status_code FROM usage_records WHERE metadata->>'cut' IS NOT NULL`,
    );
    expect(rows.map((r) => r.metadata.cut).sort((a, b) => a - b)).toEqual(cut.map((_, i) => i));
  });

  it('uses the store the suite runs on', () => {
    expect(databaseUrl === undefined).toBe(embedded);
  });
});
