/**
 * Soak test: the built gateway under a steady mixed load for a long while (default ten
 * minutes at concurrency 64), to see that it keeps answering and that its resident memory
 * stays flat. The mix: plain and streamed completions, fallbacks (a primary model the fake
 * fails with 503, retried once, then `openai/gpt-4o`), refusals by a rate-limited key (429)
 * and bad requests (400). Every SOAK_SAMPLE seconds it records throughput, outcomes and
 * errors by kind, the RSS of every gateway process (cluster primary and workers, from
 * /proc/<pid>/status) and what `/metrics` says (in flight, ledger backlog, spool bytes).
 * At the end: a table, and a verdict on memory (mean RSS of the last third of the samples
 * after warm-up against the first third). See bench/README.md.
 *
 *   npm run bench:soak                         (builds the gateway, then runs this)
 *   SOAK_DURATION=120 npm run bench:soak       (seconds, default 600)
 *   BENCH_DATABASE_URL=postgres://… npm run bench:soak   (Postgres server, WORKERS processes)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  children, createVirtualKey, DATABASE_URL, exited, fmt, log, positiveNumber, processTree, readVm, redact, RESULTS_DIR, sleep, startFakeProcess, startGateway, stopChild,
  withTimeout,
} from './common';

const DURATION_S = positiveNumber('SOAK_DURATION', 600);
const CONCURRENCY = Math.round(positiveNumber('SOAK_CONCURRENCY', 64));
const SAMPLE_S = positiveNumber('SOAK_SAMPLE', 10);
/** Samples in the first SOAK_WARMUP seconds are left out of the memory verdict (caches, JIT, pools fill up). */
const WARMUP_S = positiveNumber('SOAK_WARMUP', 60);
/** Memory counts as flat when the late mean is within this share of the early mean... */
const FLAT_RATIO = 0.1;
/** ...or within this many MB (small heaps move by a few MB whatever happens). */
const FLAT_MB = 25;
const REQUEST_TIMEOUT_MS = 30_000;
const CHAT = '/v1/chat/completions';
const MESSAGES = [{ role: 'user', content: 'Hello, how are you?' }];

type Kind = 'json' | 'stream' | 'fallback' | 'limited' | 'bad';
/** Out of 20 requests a worker sends in turn. */
const MIX: Kind[] = ['json', 'stream', 'json', 'fallback', 'stream', 'json', 'limited', 'stream', 'json', 'bad', 'json', 'stream', 'fallback', 'json', 'stream', 'limited', 'json', 'stream', 'json', 'fallback'];
/** The answer each kind should get. */
const EXPECTED: Record<Kind, number[]> = { json: [200], stream: [200], fallback: [200], limited: [200, 429], bad: [400] };

interface Window {
  ok: Record<Kind, number>;
  refused: number;
  errors: Map<string, number>;
  latencyMsSum: number;
  answered: number;
}

interface Sample {
  t: number;
  rps: number;
  answered: number;
  refused: number;
  errors: number;
  errorKinds: Record<string, number>;
  meanLatencyMs: number;
  rssMb: number[];
  rssTotalMb: number;
  inFlight: number | null;
  ledgerBacklog: number | null;
  spoolBytes: number | null;
  /** V8 heap in use, summed over the workers (`nodejs_heap_size_used_bytes`), in MB: tells a heap that grows from RSS that does not shrink. */
  heapUsedMb: number | null;
}

const newWindow = (): Window => ({ ok: { json: 0, stream: 0, fallback: 0, limited: 0, bad: 0 }, refused: 0, errors: new Map(), latencyMsSum: 0, answered: 0 });

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-soak-'));
  try {
    log(`soak: ${DURATION_S} s at concurrency ${CONCURRENCY}, a sample every ${SAMPLE_S} s; store: ${DATABASE_URL ? redact(DATABASE_URL) : 'embedded PGlite'}`);
    const fake = await startFakeProcess('fake upstream', 'bench/fake-upstream.ts', 'FAKE_URL');
    const gateway = await startGateway(dataDir, {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: fake.url,
      TOKENHUB_MAX_RETRIES: '1',
      TOKENHUB_RETRY_BASE_MS: '5',
      // The failing primary would otherwise open the breaker and fail fast: keep every fallback a real attempt.
      CIRCUIT_BREAKER_FAILURES: '0',
    });
    const key = (await createVirtualKey(gateway.url)).key;
    // 600 a minute: well under what this key is sent, so most of its requests are refused.
    const limitedKey = (await createVirtualKey(gateway.url, { requests_per_minute: 600 })).key;
    const pid = gateway.proc.pid!;

    let window = newWindow();
    const samples: Sample[] = [];
    const totals = { answered: 0, errors: new Map<string, number>() };
    let stop = false;
    let loadStarted = Date.now();

    const send = async (kind: Kind): Promise<void> => {
      const body = requestBody(kind);
      const begun = performance.now();
      let outcome: string;
      try {
        const res = await fetch(`${gateway.url}${CHAT}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${kind === 'limited' ? limitedKey : key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        if (!EXPECTED[kind].includes(res.status)) outcome = `${kind}: HTTP ${res.status}`;
        else if (kind === 'stream' && !text.includes('data: [DONE]')) outcome = 'stream: no [DONE]';
        else if (kind === 'fallback' && res.headers.get('x-tokenhub-model') !== 'gpt-4o') outcome = 'fallback: not served by the fallback';
        else outcome = res.status === 429 ? 'refused' : 'ok';
      } catch (err) {
        outcome = `${kind}: ${(err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message}`;
      }
      window.answered++;
      window.latencyMsSum += performance.now() - begun;
      if (outcome === 'ok') window.ok[kind]++;
      else if (outcome === 'refused') window.refused++;
      else window.errors.set(outcome, (window.errors.get(outcome) ?? 0) + 1);
    };

    const worker = async (n: number): Promise<void> => {
      for (let i = n; !stop; i++) await send(MIX[i % MIX.length]);
    };

    const sampler = async (): Promise<void> => {
      let last = performance.now();
      const end = loadStarted + DURATION_S * 1000;
      while (!stop) {
        await sleep(Math.max(0, Math.min(SAMPLE_S * 1000 - (performance.now() - last), end - Date.now())));
        const now = performance.now();
        const w = window;
        window = newWindow();
        const elapsedS = (now - last) / 1000;
        last = now;
        const pids = exited(gateway.proc) ? [] : processTree(pid);
        const rssMb = pids.map((p) => readVm(p, 'VmRSS') ?? 0);
        const metrics = await scrapeGauges(gateway.url);
        const errorKinds = Object.fromEntries(w.errors);
        const errors = [...w.errors.values()].reduce((a, b) => a + b, 0);
        for (const [k, v] of w.errors) totals.errors.set(k, (totals.errors.get(k) ?? 0) + v);
        totals.answered += w.answered;
        const sample: Sample = {
          t: Math.round((Date.now() - loadStarted) / 1000),
          rps: w.answered / elapsedS,
          answered: w.answered,
          refused: w.refused,
          errors,
          errorKinds,
          meanLatencyMs: w.answered ? w.latencyMsSum / w.answered : NaN,
          rssMb,
          rssTotalMb: rssMb.reduce((a, b) => a + b, 0),
          ...metrics,
        };
        samples.push(sample);
        log(`t=${sample.t}s ${fmt(sample.rps, 0)} req/s, ${errors} errors, RSS ${rssMb.map((r) => fmt(r, 0)).join('+')} MB, heap ${sample.heapUsedMb === null ? '?' : fmt(sample.heapUsedMb, 0)} MB, in flight ${sample.inFlight ?? '?'}, backlog ${sample.ledgerBacklog ?? '?'}`);
        if (Date.now() >= end || exited(gateway.proc)) stop = true;
      }
    };

    log('load starts');
    loadStarted = Date.now();
    await Promise.all([sampler(), ...Array.from({ length: CONCURRENCY }, (_, n) => worker(n))]);
    const gatewayDied = exited(gateway.proc);
    // The ledger had the whole run to keep up: every answered request should be recorded.
    await withTimeout(stopChild('gateway', gateway.proc, 30_000), 35_000, 'stopping the gateway');

    const report = render(samples, totals, gatewayDied);
    process.stdout.write(report);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'soak-latest.md'), report);
    writeFileSync(join(RESULTS_DIR, 'soak-latest.json'), JSON.stringify({ durationS: DURATION_S, concurrency: CONCURRENCY, samples, verdict: verdict(samples) }, null, 2));
    writeFileSync(join(RESULTS_DIR, 'soak-latest-gateway.log'), gateway.output.text);
    process.exitCode = gatewayDied || totals.errors.size > 0 || !verdict(samples).flat ? 1 : 0;
  } finally {
    for (const { name, proc } of [...children].reverse()) await stopChild(name, proc, 5_000).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function requestBody(kind: Kind): unknown {
  switch (kind) {
    case 'json':
    case 'limited':
      return { model: 'openai/gpt-4o', messages: MESSAGES };
    case 'stream':
      return { model: 'openai/gpt-4o', messages: MESSAGES, stream: true };
    case 'fallback':
      return { model: 'openai/error-503', fallbacks: ['openai/gpt-4o'], messages: MESSAGES };
    case 'bad':
      return { model: 'openai/gpt-4o', messages: [{ role: 'user' }], temperature: 7 };
  }
}

/** The gauges of interest from `/metrics` (null when the scrape fails: counted, not fatal). */
async function scrapeGauges(url: string): Promise<Pick<Sample, 'inFlight' | 'ledgerBacklog' | 'spoolBytes' | 'heapUsedMb'>> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const gauge = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    };
    const heap = gauge('nodejs_heap_size_used_bytes');
    return {
      inFlight: gauge('tokenhub_in_flight_requests'),
      ledgerBacklog: gauge('tokenhub_usage_ledger_backlog'),
      spoolBytes: gauge('tokenhub_usage_spool_bytes'),
      heapUsedMb: heap === null ? null : heap / 1024 / 1024,
    };
  } catch {
    return { inFlight: null, ledgerBacklog: null, spoolBytes: null, heapUsedMb: null };
  }
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Mean RSS of the last third of the post-warm-up samples against the first third. */
function verdict(samples: Sample[]): { flat: boolean; earlyMb: number; lateMb: number; growthMb: number; growthPct: number; text: string } {
  const steady = samples.filter((s) => s.t > WARMUP_S);
  if (steady.length < 3) return { flat: true, earlyMb: NaN, lateMb: NaN, growthMb: NaN, growthPct: NaN, text: `too few samples after the ${WARMUP_S} s warm-up to judge memory` };
  const third = Math.floor(steady.length / 3);
  const earlyMb = mean(steady.slice(0, third).map((s) => s.rssTotalMb));
  const lateMb = mean(steady.slice(-third).map((s) => s.rssTotalMb));
  const growthMb = lateMb - earlyMb;
  const growthPct = (growthMb / earlyMb) * 100;
  const flat = growthMb <= FLAT_MB || growthMb / earlyMb <= FLAT_RATIO;
  const heap = (xs: Sample[]) => mean(xs.filter((x) => x.heapUsedMb !== null).map((x) => x.heapUsedMb!));
  const text =
    `${flat ? 'FLAT' : 'GROWING'}: gateway RSS (all processes) ${fmt(earlyMb, 1)} MB in the first third after warm-up, ${fmt(lateMb, 1)} MB in the last ` +
    `(${growthMb >= 0 ? '+' : ''}${fmt(growthMb, 1)} MB, ${growthPct >= 0 ? '+' : ''}${fmt(growthPct, 1)} %; flat means at most +${FLAT_MB} MB or +${FLAT_RATIO * 100} %); ` +
    `V8 heap in use ${fmt(heap(steady.slice(0, third)), 1)} MB then ${fmt(heap(steady.slice(-third)), 1)} MB`;
  return { flat, earlyMb, lateMb, growthMb, growthPct, text };
}

function render(samples: Sample[], totals: { answered: number; errors: Map<string, number> }, gatewayDied: boolean): string {
  const v = verdict(samples);
  const lines = [
    `# TokenHub soak: ${DURATION_S} s at concurrency ${CONCURRENCY}`,
    '',
    `Mix per 20 requests: 7 json, 6 stream, 3 fallback (503 primary, one retry, then gpt-4o), 2 on a key limited to 600/min, 1 bad request (400). ` +
      `Store: ${DATABASE_URL ? 'Postgres server' : 'embedded PGlite'}. ${new Date().toISOString()}.`,
    '',
    '| t (s) | req/s | mean ms | refused (429) | errors | RSS MB (per process) | RSS MB total | V8 heap used MB | in flight | ledger backlog | spool bytes |',
    '|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
    ...samples.map(
      (s) =>
        `| ${s.t} | ${fmt(s.rps, 0)} | ${fmt(s.meanLatencyMs, 1)} | ${s.refused} | ${s.errors} | ${s.rssMb.map((r) => fmt(r, 0)).join(' + ')} | ${fmt(s.rssTotalMb, 0)} | ${s.heapUsedMb === null ? '?' : fmt(s.heapUsedMb, 0)} | ${s.inFlight ?? '?'} | ${s.ledgerBacklog ?? '?'} | ${s.spoolBytes ?? '?'} |`,
    ),
    '',
    `Requests answered: ${totals.answered}, mean ${fmt(mean(samples.map((s) => s.rps)), 0)} req/s.`,
    `Errors: ${totals.errors.size === 0 ? 'none' : [...totals.errors].map(([k, n]) => `${k} × ${n}`).join('; ')}.`,
    gatewayDied ? 'The gateway EXITED during the run.' : 'The gateway stayed up.',
    `Memory: ${v.text}.`,
    '',
  ];
  return lines.join('\n');
}

const overall = setTimeout(() => {
  log('the soak overran its overall deadline: killing the children');
  for (const { proc } of children) if (!exited(proc)) proc.kill('SIGKILL');
  process.exit(2);
}, (DURATION_S + 300) * 1000);
overall.unref();

main().catch((err: unknown) => {
  log(`soak failed: ${(err as Error)?.stack ?? String(err)}`);
  for (const { proc } of children) if (!exited(proc)) proc.kill('SIGKILL');
  process.exitCode = 1;
});
