/**
 * What the benchmark runners (bench/run.ts, bench/ttfb.ts) share: child processes (the fakes
 * and the built gateway) that are always stopped, deadlines, the virtual key, percentiles.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
/** The built gateway; BENCH_GATEWAY_MAIN points elsewhere (e.g. a copy of dist/ that another build cannot wipe mid-run). */
export const GATEWAY_MAIN = process.env.BENCH_GATEWAY_MAIN ? resolve(process.env.BENCH_GATEWAY_MAIN) : join(ROOT, 'dist/apps/gateway/src/main.js');
export const RESULTS_DIR = join(__dirname, 'results');
export const ADMIN_KEY = 'sk-th-admin-bench-0123456789abcdef';
export const DATABASE_URL = process.env.BENCH_DATABASE_URL || undefined;

/** Every child started, in order: stopped in reverse (the gateway before the fakes it talks to). */
export const children: Array<{ name: string; proc: ChildProcess }> = [];

export function fail(message: string): never {
  throw new Error(message);
}

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Keeps a child's output: the whole of it in memory (bounded), for the report. */
export class OutputLog {
  private chunks: string[] = [];
  private size = 0;
  private static readonly MAX = 1_000_000;
  truncated = false;

  attach(stream: NodeJS.ReadableStream | null): void {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      if (this.size + chunk.length > OutputLog.MAX) {
        this.truncated = true;
        return;
      }
      this.chunks.push(chunk);
      this.size += chunk.length;
    });
  }

  get text(): string {
    return this.chunks.join('');
  }
}

export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: [stdin, 'pipe', 'pipe'] });
  children.push({ name, proc });
  return proc;
}

export function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

export async function stopChild(name: string, proc: ChildProcess, graceMs: number): Promise<void> {
  if (exited(proc)) return;
  const done = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(proc)) {
      log(`${name} did not exit within ${graceMs} ms of SIGTERM: sending SIGKILL`);
      proc.kill('SIGKILL');
    }
  }, graceMs);
  await done;
  clearTimeout(timer);
}

export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/** `policy`: limits for the key, as the admin API takes them (e.g. `{ requests_per_minute: 60 }`). */
export async function createVirtualKey(gatewayUrl: string, policy: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const res = await fetch(`${gatewayUrl}/admin/virtual-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench-${new Date().toISOString()}`, ...policy }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 201) fail(`creating the virtual key answered ${res.status}: ${text}`);
  return JSON.parse(text) as { id: string; key: string };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** CPU seconds (user + system) a process has used, from /proc (0 when it is gone). */
export function readProcCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) state".
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** A process and its descendants (the gateway's cluster workers), from /proc. */
export function processTree(pid: number): number[] {
  const pids = [pid];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return pids;
  }
  for (const task of tasks) {
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.split(' ').filter(Boolean)) pids.push(...processTree(Number(child)));
  }
  return pids;
}

/** CPU seconds of a process and its live descendants (a gateway running WORKERS processes). */
export function readTreeCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  return processTree(pid).reduce((sum, p) => sum + readProcCpuSeconds(p), 0);
}

export function readVm(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number | null {
  if (!pid) return null;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) fail(`${name} must be a positive number of seconds, got "${raw}"`);
  return n;
}

/** Starts a fake upstream script in a child process of its own; resolves with the URL it prints as `<marker>=<url>`. */
export async function startFakeProcess(name: string, script: string, marker: string, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string; output: OutputLog }> {
  const proc = startChild(name, ['--import', 'tsx', script, '0'], { ...baseEnv(), ...env }, 'pipe');
  const output = new OutputLog();
  output.attach(proc.stderr);
  const url = await withTimeout(
    new Promise<string>((resolveUrl, reject) => {
      let buffer = '';
      proc.stdout?.setEncoding('utf8');
      proc.stdout?.on('data', (chunk: string) => {
        buffer += chunk;
        const match = new RegExp(`${marker}=(\\S+)`).exec(buffer);
        if (match) resolveUrl(match[1]);
      });
      proc.once('exit', (code) => reject(new Error(`the ${name} exited (code ${code}) before listening:\n${output.text}`)));
    }),
    30_000,
    `starting the ${name}`,
  );
  return { proc, url, output };
}

/**
 * Starts the built gateway with the bench admin key, the store (`DATABASE_URL` when
 * BENCH_DATABASE_URL is set, else PGlite in `dataDir`) and the providers' variables in
 * `providerEnv`; resolves once `GET /health/ready` answers 200.
 */
export async function startGateway(dataDir: string, providerEnv: Record<string, string>): Promise<{ proc: ChildProcess; url: string; output: OutputLog }> {
  if (!existsSync(GATEWAY_MAIN)) fail(`${GATEWAY_MAIN} is missing: build first (npx nest build gateway), or use npm run bench`);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TOKENHUB_ADMIN_KEY: ADMIN_KEY,
    ...providerEnv,
    DATA_DIR: dataDir,
    ...(DATABASE_URL ? { DATABASE_URL } : {}),
  };
  // As `npm start` runs it.
  const proc = startChild('gateway', ['--max-semi-space-size=32', GATEWAY_MAIN], env);
  const output = new OutputLog();
  output.attach(proc.stdout);
  output.attach(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited(proc)) fail(`the gateway exited (code ${proc.exitCode}, signal ${proc.signalCode}) before it was ready:\n${output.text}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return { proc, url, output };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) fail(`the gateway was not ready within 90 s:\n${output.text}`);
    await sleep(200);
  }
}

/**
 * Runs a benchmark's `main` under an overall deadline and exits the process with its code,
 * stopping the children (`cleanup`) whatever happens: on success, on failure (after
 * `onFailure`, e.g. to show the gateway's output), on SIGINT/SIGTERM, and, past the deadline,
 * by SIGKILL (then `abandon` removes what cleanup would have).
 */
export function runBenchmark(what: string, main: () => Promise<number>, cleanup: () => Promise<void>, deadlineMs: number, hooks: { abandon?: () => void; onFailure?: (err: unknown) => void } = {}): void {
  const watchdog = setTimeout(() => {
    log(`the ${what} exceeded its ${Math.round(deadlineMs / 1000)} s deadline: killing the children and giving up`);
    for (const { proc } of children) if (!exited(proc)) proc.kill('SIGKILL');
    hooks.abandon?.();
    process.exit(2);
  }, deadlineMs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  main()
    .then(async (code) => {
      await cleanup();
      clearTimeout(watchdog);
      process.exit(code);
    })
    .catch(async (err: unknown) => {
      log(`FAILED: ${(err as Error)?.stack ?? String(err)}`);
      await withTimeout(cleanup(), 40_000, 'cleanup').catch((e: unknown) => log(String(e)));
      hooks.onFailure?.(err);
      clearTimeout(watchdog);
      process.exit(1);
    });
}
