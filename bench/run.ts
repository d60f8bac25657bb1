/**
 * TokenHub overhead benchmark: the same chat completions load sent straight to a fake
 * OpenAI upstream, then through TokenHub (virtual key auth, governance and usage logging
 * on), then through the Portkey gateway (`@portkey-ai/gateway`, pointed at the same fake),
 * at several concurrencies, JSON and streaming. See bench/README.md.
 *
 *   npm run bench                      (builds the gateway, then runs this)
 *   BENCH_DURATION=10 npm run bench    (seconds measured per step, default 5)
 *   BENCH_DATABASE_URL=postgres://… npm run bench   (Postgres server instead of embedded PGlite)
 *   BENCH_PEER=0 npm run bench         (without the Portkey gateway)
 *   npm run bench -- ttfb              (streaming time to first byte by provider: bench/ttfb.ts)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import autocannon from 'autocannon';
import {
  children, createVirtualKey, DATABASE_URL, exited, fail, fmt, freePort, log, OutputLog, percentile, positiveNumber, readProcCpuSeconds, readTreeCpuSeconds, readVm, redact,
  RESULTS_DIR, runBenchmark, sleep, startChild, startFakeProcess, startGateway, stopChild, withTimeout,
} from './common';

const CHAT_PATH = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'Hello' }];

const DURATION_S = positiveNumber('BENCH_DURATION', 5);
const WARMUP_S = positiveNumber('BENCH_WARMUP', 1.5);
/** Each step's measured seconds are split into this many rounds, alternating between the targets. */
const ROUNDS = Math.max(1, Math.round(positiveNumber('BENCH_ROUNDS', 4)));
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map((c) => {
  const n = Number(c.trim());
  if (!Number.isInteger(n) || n < 1) fail(`BENCH_CONCURRENCY must be a comma-separated list of positive integers, got "${process.env.BENCH_CONCURRENCY}"`);
  return n;
});
const MODES = ['json', 'stream'] as const;
/** CPU used by processes other than ours (in % of one core) above which a row is flagged as disturbed. */
const DISTURBED_PCT = 40;
type Mode = (typeof MODES)[number];
type Target = 'direct' | 'tokenhub' | 'portkey';
/** The peer gateway runs unless BENCH_PEER=0. */
const WITH_PEER = process.env.BENCH_PEER !== '0';
const TARGETS: Target[] = WITH_PEER ? ['direct', 'tokenhub', 'portkey'] : ['direct', 'tokenhub'];

/** CPU seconds of our children and of the machine, sampled around each measured step. */
interface CpuSample {
  at: number;
  gateway: number;
  fake: number;
  self: number;
  machineBusy: number;
  machineTotal: number;
}

interface StepResult {
  mode: Mode;
  concurrency: number;
  target: Target;
  durationS: number;
  completed: number;
  /** Responses received during the warm-up before this step. */
  warmupCompleted: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 2xx answers that were not a whole completion or stream. */
  incompleteBodies: number;
  statusCodes: Record<string, number>;
  errorSamples: string[];
  /** Percent of one core used during the measured window. */
  cpu: { gateway: number; fake: number; loadgen: number; machine: number; others: number };
  /** Gateway CPU milliseconds per completed request (TokenHub steps). */
  gatewayCpuMsPerReq: number;
}

let tempDir: string | undefined;
let cleaningUp: Promise<void> | null = null;
/** The gateway's output, shown when the run fails. */
let gatewayOutput: OutputLog | undefined;

interface TargetSpec {
  url: string;
  headers: Record<string, string>;
  body: (mode: Mode) => string;
}

function targets(fakeUrl: string, gatewayUrl: string, virtualKey: string, portkeyUrl: string | null): Record<Target, TargetSpec> {
  const fakeOrigin = new URL(fakeUrl).origin;
  return {
    direct: {
      url: `${fakeOrigin}${CHAT_PATH}`,
      headers: { authorization: 'Bearer sk-bench', 'content-type': 'application/json' },
      body: (mode) => JSON.stringify({ model: 'gpt-4o', messages: MESSAGES, ...(mode === 'stream' ? { stream: true } : {}) }),
    },
    tokenhub: {
      url: `${gatewayUrl}${CHAT_PATH}`,
      headers: { authorization: `Bearer ${virtualKey}`, 'content-type': 'application/json' },
      body: (mode) => JSON.stringify({ model: 'openai/gpt-4o', messages: MESSAGES, ...(mode === 'stream' ? { stream: true } : {}) }),
    },
    // Portkey's documented way to reach an OpenAI-compatible server at another address.
    portkey: {
      url: `${portkeyUrl}${CHAT_PATH}`,
      headers: { authorization: 'Bearer sk-bench', 'content-type': 'application/json', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${fakeOrigin}/v1` },
      body: (mode) => JSON.stringify({ model: 'gpt-4o', messages: MESSAGES, ...(mode === 'stream' ? { stream: true } : {}) }),
    },
  };
}

/**
 * The Portkey gateway from npm (its own Node server, headless), on a free port. Its
 * `@hono/node-server` is pinned to 1.13.5 (package.json `overrides`): with the newer one npm
 * picks, Portkey answers every streamed request with a 500 ("TypeError: immutable").
 */
async function startPortkey(): Promise<{ proc: ReturnType<typeof startChild>; url: string; output: OutputLog }> {
  const main = join(dirname(createRequire(__filename).resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
  const port = await freePort();
  const proc = startChild('portkey', [main, `--port=${port}`, '--headless'], { PATH: process.env.PATH, NODE_ENV: 'production' });
  const output = new OutputLog();
  output.attach(proc.stdout);
  output.attach(proc.stderr);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited(proc)) fail(`the Portkey gateway exited before it was ready:\n${output.text}`);
    try {
      await (await fetch(url, { signal: AbortSignal.timeout(2_000) })).arrayBuffer();
      return { proc, url, output };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) fail(`the Portkey gateway was not ready within 30 s:\n${output.text}`);
    await sleep(200);
  }
}

/** A whole, successful answer: a completion, or a stream that ends with [DONE] and no error event. */
function bodyIsComplete(mode: Mode, body: string): boolean {
  if (mode === 'stream') return body.endsWith('data: [DONE]\n\n') && !body.includes('event: error') && body.includes('chat.completion.chunk');
  return body.includes('"chat.completion"') && body.includes('"choices"');
}

/** One request of each kind before the load starts, so a misconfiguration fails with a clear message. */
async function preflight(specs: Record<Target, TargetSpec>): Promise<void> {
  for (const target of TARGETS) {
    for (const mode of MODES) {
      const spec = specs[target];
      const res = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: spec.body(mode), signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (res.status !== 200 || !bodyIsComplete(mode, body)) fail(`preflight ${target} ${mode} answered ${res.status}: ${body.slice(0, 1_000)}`);
    }
  }
}

function readMachineCpu(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = values.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = n[3] + n[4];
  return { busy: (total - idle) / 100, total: total / 100 };
}

function sampleCpu(gatewayPid?: number, fakePid?: number): CpuSample {
  const self = process.cpuUsage();
  const machine = readMachineCpu();
  return {
    at: performance.now(),
    gateway: readTreeCpuSeconds(gatewayPid),
    fake: readProcCpuSeconds(fakePid),
    self: (self.user + self.system) / 1e6,
    machineBusy: machine.busy,
    machineTotal: machine.total,
  };
}

interface LoadOutcome {
  result: autocannon.Result;
  latencies: Float64Array;
  errorSamples: string[];
  incomplete: number;
}

/** One autocannon run; latencies are kept at full (sub-millisecond) precision. */
function load(spec: TargetSpec, mode: Mode, connections: number, durationS: number): Promise<LoadOutcome> {
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  /** 2xx answers that are not a whole completion or stream (non-2xx are counted apart). */
  let incomplete = 0;
  const sample = (text: string) => {
    if (errorSamples.length < 5) errorSamples.push(text);
  };
  return new Promise<LoadOutcome>((resolveRun, reject) => {
    let guard: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url: spec.url,
        connections,
        duration: durationS,
        timeout: 10,
        sampleInt: 100,
        requests: [
          {
            method: 'POST',
            path: CHAT_PATH,
            headers: spec.headers,
            body: spec.body(mode),
            onResponse: (status, body) => {
              if (status < 200 || status >= 300) sample(`HTTP ${status}: ${body.slice(0, 500)}`);
              else if (!bodyIsComplete(mode, body)) {
                incomplete++;
                sample(`HTTP ${status} with an incomplete body: …${body.slice(-300)}`);
              }
            },
          },
        ],
      },
      (err, result) => {
        clearTimeout(guard);
        if (err) reject(err);
        else resolveRun({ result, latencies: Float64Array.from(latencies).sort(), errorSamples, incomplete });
      },
    );
    instance.on('response', (_client, _status, _bytes, ms) => {
      latencies.push(ms);
    });
    instance.on('reqError', (error) => sample(`request error: ${error.message}`));
    guard = setTimeout(() => {
      instance.stop();
      reject(new Error(`autocannon did not finish a ${durationS} s run within ${durationS + 30} s`));
    }, (durationS + 30) * 1000);
  });
}

/** One measured run of one target: what the load generator saw, and the CPU used meanwhile. */
interface Run {
  outcome: LoadOutcome;
  before: CpuSample;
  after: CpuSample;
}

async function measureRun(spec: TargetSpec, mode: Mode, concurrency: number, durationS: number, pids: { gateway?: number; fake?: number }): Promise<Run> {
  const before = sampleCpu(pids.gateway, pids.fake);
  const outcome = await load(spec, mode, concurrency, durationS);
  const after = sampleCpu(pids.gateway, pids.fake);
  await sleep(200);
  return { outcome, before, after };
}

/** A target's step: its rounds' runs added up (requests, time, CPU) and their latencies pooled. */
function combine(target: Target, mode: Mode, concurrency: number, runs: Run[], warmupCompleted: number): StepResult {
  const sum = (f: (run: Run) => number) => runs.reduce((total, run) => total + f(run), 0);
  const wall = sum((r) => r.after.at - r.before.at) / 1000;
  const pooled = new Float64Array(sum((r) => r.outcome.latencies.length));
  let offset = 0;
  for (const run of runs) {
    pooled.set(run.outcome.latencies, offset);
    offset += run.outcome.latencies.length;
  }
  const latencies = pooled.sort();
  const completed = latencies.length;
  const durationS = sum((r) => r.outcome.result.duration);
  const pct = (seconds: number) => (wall > 0 ? (100 * seconds) / wall : 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, { count }] of Object.entries(run.outcome.result.statusCodeStats)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  const gatewayCpu = sum((r) => r.after.gateway - r.before.gateway);
  const step: StepResult = {
    mode,
    concurrency,
    target,
    durationS,
    completed,
    warmupCompleted,
    rps: completed / durationS,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
    non2xx: sum((r) => r.outcome.result.non2xx),
    errors: sum((r) => r.outcome.result.errors),
    timeouts: sum((r) => r.outcome.result.timeouts),
    incompleteBodies: sum((r) => r.outcome.incomplete),
    statusCodes,
    errorSamples: runs.flatMap((r) => r.outcome.errorSamples).slice(0, 5),
    cpu: {
      gateway: pct(gatewayCpu),
      fake: pct(sum((r) => r.after.fake - r.before.fake)),
      loadgen: pct(sum((r) => r.after.self - r.before.self)),
      // Machine busy time is counted over all cores: in percent of one core too.
      machine: pct(sum((r) => r.after.machineBusy - r.before.machineBusy)),
      others: 0,
    },
    gatewayCpuMsPerReq: completed > 0 ? (gatewayCpu * 1000) / completed : NaN,
  };
  step.cpu.others = Math.max(0, step.cpu.machine - step.cpu.gateway - step.cpu.fake - step.cpu.loadgen);
  const bad = step.non2xx + step.errors + step.incompleteBodies;
  log(
    `${mode.padEnd(6)} c=${String(concurrency).padEnd(3)} ${target.padEnd(8)} ${step.rps.toFixed(0).padStart(6)} req/s  ` +
      `p50 ${step.p50.toFixed(2)} ms  p99 ${step.p99.toFixed(2)} ms${bad ? `  !! non-2xx ${step.non2xx}, errors ${step.errors}, bad bodies ${step.incompleteBodies}` : ''}`,
  );
  return step;
}

/**
 * One mode and concurrency for every target: each warmed up, then measured in ROUNDS
 * alternating rounds (A B C, C B A, A B C, …) of DURATION_S / ROUNDS seconds, so that a
 * machine whose speed drifts during the run (a shared host does) weighs on every target alike
 * and the ratios between them stay fair.
 */
async function measure(specs: Record<Target, TargetSpec>, mode: Mode, concurrency: number, pidsOf: (target: Target) => { gateway?: number; fake?: number }): Promise<StepResult[]> {
  const warmups = new Map<Target, number>();
  for (const target of TARGETS) warmups.set(target, (await load(specs[target], mode, concurrency, WARMUP_S)).latencies.length);
  await sleep(200);
  const runs = new Map<Target, Run[]>(TARGETS.map((t) => [t, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
    for (const target of order) runs.get(target)!.push(await measureRun(specs[target], mode, concurrency, DURATION_S / ROUNDS, pidsOf(target)));
  }
  return TARGETS.map((target) => combine(target, mode, concurrency, runs.get(target)!, warmups.get(target)!));
}

interface PgClient {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}

/** Usage records the gateway wrote for the bench key, by status; read after it has shut down (and flushed). */
async function usageRecordCounts(keyId: string, dataDir: string): Promise<Record<string, number>> {
  const sql = 'SELECT status_code, count(*)::int AS n FROM usage_records WHERE key_id = $1 GROUP BY status_code ORDER BY status_code';
  let rows: Array<Record<string, unknown>>;
  if (DATABASE_URL) {
    const { Client } = createRequire(__filename)('pg') as { Client: new (config: { connectionString: string }) => PgClient };
    const client = new Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      rows = (await client.query(sql, [keyId])).rows;
    } finally {
      await client.end();
    }
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(join(dataDir, 'pg'));
    try {
      rows = (await db.query<Record<string, unknown>>(sql, [keyId])).rows;
    } finally {
      await db.close();
    }
  }
  const counts: Record<string, number> = {};
  for (const row of rows) counts[String(row.status_code)] = Number(row.n);
  return counts;
}

interface Report {
  startedAt: Date;
  loadAtStart: number;
  steps: StepResult[];
  store: string;
  peakRssMb: number | null;
  rssAtEndMb: number | null;
  fakePeakRssMb: number | null;
  usage: Record<string, number> | null;
  usageError: string | null;
  tokenhubResponses: number;
  gatewayOutput: string;
  gatewayOutputTruncated: boolean;
  wallS: number;
}

function render(r: Report): string {
  const lines: string[] = [];
  const cpu = cpus();
  lines.push(`# TokenHub benchmark`);
  lines.push('');
  lines.push(
    `${r.startedAt.toISOString()} · ${cpu.length} × ${cpu[0]?.model ?? 'CPU'} · Node ${process.version} · store: ${r.store} · ` +
      `${DURATION_S} s measured per step (${ROUNDS} alternating rounds) after ${WARMUP_S} s warm-up · loopback only · load average at start ${r.loadAtStart.toFixed(2)}`,
  );
  lines.push('');
  lines.push('Latencies in ms, measured by the load generator (autocannon) to the last byte of the response.');
  lines.push('');
  lines.push('| mode | concurrency | direct req/s | TokenHub req/s | ratio | direct p50 | direct p99 | TokenHub p50 | TokenHub p99 | added p50 ms | non-2xx / errors |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pairs: Array<[StepResult, StepResult]> = [];
  for (const mode of MODES) {
    for (const c of CONCURRENCY) {
      const d = r.steps.find((s) => s.mode === mode && s.concurrency === c && s.target === 'direct');
      const t = r.steps.find((s) => s.mode === mode && s.concurrency === c && s.target === 'tokenhub');
      if (d && t) pairs.push([d, t]);
    }
  }
  const disturbed = (s: StepResult) => s.cpu.others > DISTURBED_PCT;
  for (const [d, t] of pairs) {
    const failures = d.non2xx + d.errors + d.incompleteBodies + t.non2xx + t.errors + t.incompleteBodies;
    lines.push(
      `| ${d.mode} | ${d.concurrency}${disturbed(d) || disturbed(t) ? ' \\*' : ''} | ${fmt(d.rps, 0)} | ${fmt(t.rps, 0)} | ${fmt(t.rps / d.rps)} | ${fmt(d.p50)} | ${fmt(d.p99)} | ` +
        `${fmt(t.p50)} | ${fmt(t.p99)} | ${fmt(t.p50 - d.p50)} | ${failures === 0 ? '0' : `**${failures}**`} |`,
    );
  }
  if (pairs.some(([d, t]) => disturbed(d) || disturbed(t))) {
    lines.push('');
    lines.push(
      `\\* Other processes${DATABASE_URL ? ' (the Postgres server included)' : ''} used more than ${DISTURBED_PCT} % of a core during the direct or the TokenHub step of this row: its figures are disturbed.`,
    );
  }
  if (WITH_PEER) {
    lines.push('');
    lines.push('Side by side with the Portkey gateway (`@portkey-ai/gateway`, same fake upstream, same load generator, same run):');
    lines.push('');
    lines.push('| mode | concurrency | TokenHub req/s | Portkey req/s | TokenHub ÷ Portkey | TokenHub added p50 ms | Portkey added p50 ms | TokenHub CPU ms / req | Portkey CPU ms / req | Portkey non-2xx / errors |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const [d, t] of pairs) {
      const k = r.steps.find((s) => s.mode === d.mode && s.concurrency === d.concurrency && s.target === 'portkey');
      if (!k) continue;
      const failures = k.non2xx + k.errors + k.incompleteBodies;
      lines.push(
        `| ${d.mode} | ${d.concurrency} | ${fmt(t.rps, 0)} | ${fmt(k.rps, 0)} | ${fmt(t.rps / k.rps)} | ${fmt(t.p50 - d.p50)} | ${fmt(k.p50 - d.p50)} | ` +
          `${fmt(t.gatewayCpuMsPerReq, 3)} | ${fmt(k.gatewayCpuMsPerReq, 3)} | ${failures === 0 ? '0' : `**${failures}**`} |`,
      );
    }
  }
  lines.push('');
  lines.push('CPU during the TokenHub steps, in % of one core (the machine has ' + cpu.length + ' cores, so ' + cpu.length * 100 + ' % is all of it):');
  lines.push('');
  lines.push(`| mode | concurrency | gateway | fake upstream | load generator | other processes${DATABASE_URL ? ' (Postgres included)' : ''} | whole machine | gateway CPU ms / request |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [, t] of pairs) {
    lines.push(
      `| ${t.mode} | ${t.concurrency} | ${fmt(t.cpu.gateway, 0)} | ${fmt(t.cpu.fake, 0)} | ${fmt(t.cpu.loadgen, 0)} | ${fmt(t.cpu.others, 0)} | ${fmt(t.cpu.machine, 0)} | ${fmt(t.gatewayCpuMsPerReq, 3)} |`,
    );
  }
  lines.push('');
  const failing = r.steps.filter((s) => s.non2xx + s.errors + s.incompleteBodies + s.timeouts > 0);
  const totals = r.steps.reduce(
    (acc, s) => ({ non2xx: acc.non2xx + s.non2xx, errors: acc.errors + s.errors, timeouts: acc.timeouts + s.timeouts, incompleteBodies: acc.incompleteBodies + s.incompleteBodies }),
    { non2xx: 0, errors: 0, timeouts: 0, incompleteBodies: 0 },
  );
  lines.push(
    `Failures over all ${r.steps.length} measured steps: non-2xx ${totals.non2xx}, connection errors ${totals.errors} (of which timeouts ${totals.timeouts}), ` +
      `incomplete bodies ${totals.incompleteBodies}.`,
  );
  for (const s of failing) {
    lines.push('');
    lines.push(`**WARNING** ${s.mode} c=${s.concurrency} ${s.target}: status codes ${JSON.stringify(s.statusCodes)}, errors ${s.errors}, timeouts ${s.timeouts}, incomplete bodies ${s.incompleteBodies}`);
    for (const e of s.errorSamples) lines.push(`    ${e.replace(/\n/g, '\\n')}`);
  }
  lines.push('');
  lines.push(`Gateway peak RSS (VmHWM): ${r.peakRssMb === null ? 'n/a' : `${r.peakRssMb.toFixed(0)} MB`}; RSS at the end: ${r.rssAtEndMb === null ? 'n/a' : `${r.rssAtEndMb.toFixed(0)} MB`}. Fake upstream peak RSS: ${r.fakePeakRssMb === null ? 'n/a' : `${r.fakePeakRssMb.toFixed(0)} MB`}.`);
  lines.push('');
  if (r.usage) {
    const total = Object.values(r.usage).reduce((a, b) => a + b, 0);
    lines.push(
      `Usage records written for the bench key: ${total} (by status: ${Object.entries(r.usage).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}); ` +
        `TokenHub responses received by the load generator, warm-ups and preflight included: ${r.tokenhubResponses}. ` +
        `Requests still in flight when a step ends are cut off by the load generator, and recorded as 499.`,
    );
    if (total < r.tokenhubResponses) {
      lines.push('');
      lines.push(`**WARNING** fewer usage records (${total}) than TokenHub responses (${r.tokenhubResponses}): records were lost.`);
    }
  } else {
    lines.push(`Usage records could not be counted: ${r.usageError}`);
  }
  lines.push('');
  const out = r.gatewayOutput.trim();
  lines.push(out ? `Gateway output at LOG_LEVEL=warn (${out.split('\n').length} lines, first 20):` : 'Gateway output at LOG_LEVEL=warn: none.');
  if (out) {
    lines.push('');
    lines.push('```');
    lines.push(...out.split('\n').slice(0, 20));
    if (r.gatewayOutputTruncated) lines.push('… (truncated)');
    lines.push('```');
  }
  lines.push('');
  lines.push(`Total wall time: ${r.wallS.toFixed(0)} s.`);
  return lines.join('\n') + '\n';
}

async function cleanup(): Promise<void> {
  if (cleaningUp) return cleaningUp;
  cleaningUp = (async () => {
    // The gateway first: it may still be talking to the fake.
    for (const { name, proc } of [...children].reverse()) await stopChild(name, proc, name === 'gateway' ? 30_000 : 5_000);
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  })();
  return cleaningUp;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadAtStart = loadavg()[0];
  const t0 = performance.now();
  tempDir = mkdtempSync(join(tmpdir(), 'tokenhub-bench-'));
  const store = DATABASE_URL ? `Postgres server (${redact(DATABASE_URL)})` : 'embedded PGlite (temp DATA_DIR)';
  log(`store: ${store}; ${DURATION_S} s per step in ${ROUNDS} alternating rounds after ${WARMUP_S} s warm-up; concurrency ${CONCURRENCY.join(', ')}`);

  const fake = await startFakeProcess('fake upstream', join(__dirname, 'fake-upstream.ts'), 'FAKE_URL');
  log(`fake upstream at ${fake.url} (pid ${fake.proc.pid})`);
  const gateway = await startGateway(tempDir, { OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.url });
  gatewayOutput = gateway.output;
  log(`gateway at ${gateway.url} (pid ${gateway.proc.pid})`);
  const key = await createVirtualKey(gateway.url);
  const portkey = WITH_PEER ? await startPortkey() : null;
  if (portkey) log(`Portkey gateway at ${portkey.url} (pid ${portkey.proc.pid})`);
  const specs = targets(fake.url, gateway.url, key.key, portkey?.url ?? null);
  await preflight(specs);

  const steps: StepResult[] = [];
  let tokenhubResponses = 2; // the preflight
  const pids = { gateway: gateway.proc.pid, fake: fake.proc.pid };
  for (const mode of MODES) {
    for (const concurrency of CONCURRENCY) {
      if (portkey && exited(portkey.proc)) fail(`the Portkey gateway died during the run:\n${portkey.output.text}`);
      if (exited(gateway.proc)) fail(`the gateway died during the run (code ${gateway.proc.exitCode}, signal ${gateway.proc.signalCode}):\n${gateway.output.text}`);
      if (exited(fake.proc)) fail(`the fake upstream died during the run:\n${fake.output.text}`);
      // The gateway being measured: TokenHub's process tree, or Portkey's process.
      steps.push(...(await measure(specs, mode, concurrency, (target) => (target === 'portkey' ? { gateway: portkey!.proc.pid, fake: pids.fake } : pids))));
    }
  }

  const peakRssMb = readVm(gateway.proc.pid, 'VmHWM');
  const rssAtEndMb = readVm(gateway.proc.pid, 'VmRSS');
  const fakePeakRssMb = readVm(fake.proc.pid, 'VmHWM');
  for (const s of steps) if (s.target === 'tokenhub') tokenhubResponses += s.completed + s.warmupCompleted;

  log('stopping the gateway (SIGTERM) and the fake upstream');
  await stopChild('gateway', gateway.proc, 30_000);
  let usage: Record<string, number> | null = null;
  let usageError: string | null = null;
  try {
    usage = await withTimeout(usageRecordCounts(key.id, tempDir), 60_000, 'counting usage records');
  } catch (err) {
    usageError = (err as Error).message;
  }
  await stopChild('fake upstream', fake.proc, 5_000);

  const report = render({
    startedAt,
    loadAtStart,
    steps,
    store,
    peakRssMb,
    rssAtEndMb,
    fakePeakRssMb,
    usage,
    usageError,
    tokenhubResponses,
    gatewayOutput: gateway.output.text,
    gatewayOutputTruncated: gateway.output.truncated,
    wallS: (performance.now() - t0) / 1000,
  });
  process.stdout.write(`\n${report}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'latest.md'), report);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), JSON.stringify({ startedAt, store, durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, steps, peakRssMb, usage }, null, 2));
  writeFileSync(join(RESULTS_DIR, 'latest-gateway.log'), gateway.output.text);
  log(`written to ${join(RESULTS_DIR, 'latest.md')}`);

  const failures = steps.reduce((n, s) => n + s.non2xx + s.errors + s.incompleteBodies, 0);
  if (failures > 0) {
    log(`WARNING: ${failures} failed requests (non-2xx, connection errors or incomplete bodies); see the report above`);
    return 1;
  }
  return 0;
}

/** Runs the overhead benchmark, whatever happens stopping the children; exits the process. */
function start(): void {
  // Never hang: a generous deadline for the whole run, whatever happens.
  const steps = MODES.length * CONCURRENCY.length * TARGETS.length;
  const deadlineMs = (steps * (WARMUP_S + DURATION_S + ROUNDS + 10) + 240) * 1000;
  runBenchmark('run', main, cleanup, deadlineMs, {
    abandon: () => tempDir && rmSync(tempDir, { recursive: true, force: true }),
    onFailure: (err) => {
      const output = gatewayOutput?.text.trim();
      if (output && !String((err as Error)?.message).includes(output)) log(`gateway output (last 40 lines):\n${output.split('\n').slice(-40).join('\n')}`);
    },
  });
}

// `npm run bench -- ttfb` runs the streaming time-to-first-byte comparison by provider (bench/ttfb.ts) instead.
if (process.argv[2] === 'ttfb') (require('./ttfb') as typeof import('./ttfb')).start();
else if (process.argv[2] !== undefined) fail(`unknown mode "${process.argv[2]}": run with no argument (the overhead benchmark) or "ttfb"`);
else start();
