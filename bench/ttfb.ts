/**
 * Streaming time to first byte through TokenHub, for the OpenAI pass-through and each native
 * translator (Azure OpenAI, Anthropic, Gemini, Cohere, Bedrock, Vertex AI), against one fake
 * upstream (bench/native-fakes.ts) that streams the same 20 content pieces in each provider's
 * wire format, so that the only difference between providers is TokenHub's translation.
 * See bench/README.md.
 *
 *   npm run bench -- ttfb
 *   BENCH_TTFB_ROUNDS=5 BENCH_TTFB_REQUESTS=500 npm run bench -- ttfb
 */
import { Agent, request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  children, createVirtualKey, DATABASE_URL, exited, fail, fmt, log, percentile, positiveNumber, readTreeCpuSeconds, redact, RESULTS_DIR, sleep, startFakeProcess,
  runBenchmark, startGateway, stopChild, withTimeout,
} from './common';
import { STREAM_PIECES, VERTEX_LOCATION, VERTEX_PROJECT, VERTEX_TOKEN } from './native-fakes';

const ROUNDS = Math.round(positiveNumber('BENCH_TTFB_ROUNDS', 3));
/** Measured requests per target, round and concurrency (after `WARMUP` unmeasured ones). */
const REQUESTS = Math.round(positiveNumber('BENCH_TTFB_REQUESTS', 300));
const WARMUP = Math.round(positiveNumber('BENCH_TTFB_WARMUP', 50));
const CONCURRENCY = (process.env.BENCH_TTFB_CONCURRENCY ?? '1,16').split(',').map((c) => {
  const n = Number(c.trim());
  if (!Number.isInteger(n) || n < 1) fail(`BENCH_TTFB_CONCURRENCY must be a comma-separated list of positive integers, got "${process.env.BENCH_TTFB_CONCURRENCY}"`);
  return n;
});
/** How long each fake answer pauses after its first content piece, so that the first piece travels alone (0: the whole stream at once). */
const FIRST_GAP_MS = (() => {
  const raw = process.env.BENCH_TTFB_FIRST_GAP_MS ?? '5';
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) fail(`BENCH_TTFB_FIRST_GAP_MS must be a number of milliseconds >= 0, got "${raw}"`);
  return n;
})();
/** 114 characters: "echo: " and this make 120, streamed by every fake as 20 pieces of 6. */
const USER_TEXT = 'Time to first byte: the same twenty pieces of text, in the wire format of each provider, through TokenHub. Go on.'.padEnd(114, '.').slice(0, 114);
const EXPECTED_TEXT = `echo: ${USER_TEXT}`;
const CHUNK_MARKER = 'chat.completion.chunk';
const PROVIDERS = ['openai', 'azure', 'anthropic', 'gemini', 'cohere', 'bedrock', 'vertex'] as const;
type Provider = (typeof PROVIDERS)[number];
const MODELS: Record<Provider, string> = {
  openai: 'gpt-4o',
  azure: 'gpt-4o',
  anthropic: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-flash',
  cohere: 'command-a-03-2025',
  bedrock: 'amazon.nova-pro-v1:0',
  vertex: 'gemini-2.5-flash',
};
const AWS = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench/secret', region: 'us-west-2' };

interface Spec {
  name: string;
  provider: Provider;
  via: 'direct' | 'tokenhub';
  url: URL;
  headers: Record<string, string>;
  body: string;
  /** What the first byte must carry to count: a chat.completion.chunk through TokenHub; any byte from the fake. */
  marker: string | null;
}

interface Sample {
  ttfb: number;
  total: number;
}

interface Measured {
  spec: Spec;
  concurrency: number;
  round: number;
  ttfb: Float64Array;
  total: Float64Array;
  failures: number;
  failureSamples: string[];
  /** Gateway CPU seconds used during the measured requests. */
  gatewayCpuS: number;
  /** TCP connections the fake accepted during the measured requests. */
  upstreamConnections: number;
}

const messages = [{ role: 'user', content: USER_TEXT }];

function directSpecs(origin: string): Spec[] {
  const json = { 'content-type': 'application/json' };
  const spec = (provider: Provider, path: string, headers: Record<string, string>, body: object): Spec => ({
    name: `${provider} (fake alone)`, provider, via: 'direct', url: new URL(path, origin), headers: { ...json, ...headers }, body: JSON.stringify(body), marker: null,
  });
  const contents = [{ role: 'user', parts: [{ text: USER_TEXT }] }];
  return [
    { ...spec('openai', '/v1/chat/completions', { authorization: 'Bearer sk-bench' }, { model: MODELS.openai, messages, stream: true }), marker: CHUNK_MARKER },
    { ...spec('azure', `/openai/deployments/${MODELS.azure}/chat/completions?api-version=2024-10-21`, { 'api-key': 'az-bench' }, { messages, stream: true }), marker: CHUNK_MARKER },
    spec('anthropic', '/v1/messages', { 'x-api-key': 'sk-ant-bench', 'anthropic-version': '2023-06-01' }, { model: MODELS.anthropic, max_tokens: 1024, messages, stream: true }),
    spec('gemini', `/v1beta/models/${MODELS.gemini}:streamGenerateContent?alt=sse`, { 'x-goog-api-key': 'gm-bench' }, { contents }),
    spec('cohere', '/v2/chat', { authorization: 'Bearer co-bench' }, { model: MODELS.cohere, messages, stream: true }),
    spec('bedrock', `/model/${encodeURIComponent(MODELS.bedrock)}/converse-stream`, { authorization: `AWS4-HMAC-SHA256 Credential=${AWS.accessKeyId}/unsigned` }, { messages: [{ role: 'user', content: [{ text: USER_TEXT }] }] }),
    spec('vertex', `/vertex/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}/publishers/google/models/${MODELS.vertex}:streamGenerateContent?alt=sse`, { authorization: `Bearer ${VERTEX_TOKEN}` }, { contents }),
  ];
}

function tokenhubSpecs(gatewayUrl: string, virtualKey: string): Spec[] {
  return PROVIDERS.map((provider) => ({
    name: provider === 'openai' ? 'openai (pass-through)' : provider,
    provider,
    via: 'tokenhub' as const,
    url: new URL('/v1/chat/completions', gatewayUrl),
    headers: { authorization: `Bearer ${virtualKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: `${provider}/${MODELS[provider]}`, messages, stream: true }),
    marker: CHUNK_MARKER,
  }));
}

function gatewayEnv(origin: string): Record<string, string> {
  return {
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: `${origin}/v1`,
    AZURE_API_KEY: 'az-bench',
    AZURE_BASE_URL: origin,
    ANTHROPIC_API_KEY: 'sk-ant-bench',
    ANTHROPIC_BASE_URL: `${origin}/v1`,
    GEMINI_API_KEY: 'gm-bench',
    GEMINI_BASE_URL: `${origin}/v1beta`,
    COHERE_API_KEY: 'co-bench',
    COHERE_BASE_URL: `${origin}/v2`,
    AWS_ACCESS_KEY_ID: AWS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
    AWS_REGION: AWS.region,
    BEDROCK_BASE_URL: origin,
    VERTEX_PROJECT,
    VERTEX_LOCATION,
    VERTEX_ACCESS_TOKEN: VERTEX_TOKEN,
    VERTEX_BASE_URL: `${origin}/vertex/v1`,
    ...(process.env.BENCH_LOG_LEVEL ? { LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}),
  };
}

/** One streamed request: times to the first byte carrying `spec.marker` (any byte without one) and to the end. */
function once(agent: Agent, spec: Spec): Promise<Sample & { status: number; body: Buffer; error?: string }> {
  return new Promise((resolveSample) => {
    const t0 = performance.now();
    let ttfb = NaN;
    const req = request(
      { agent, host: spec.url.hostname, port: spec.url.port, path: `${spec.url.pathname}${spec.url.search}`, method: 'POST', headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) } },
      (res) => {
        const parts: Buffer[] = [];
        let seen = '';
        res.on('data', (chunk: Buffer) => {
          if (Number.isNaN(ttfb)) {
            if (spec.marker === null) ttfb = performance.now() - t0;
            else {
              seen += chunk.toString('latin1');
              if (seen.includes(spec.marker)) ttfb = performance.now() - t0;
              else seen = seen.slice(-spec.marker.length);
            }
          }
          parts.push(chunk);
        });
        res.on('end', () => resolveSample({ ttfb, total: performance.now() - t0, status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', (err) => resolveSample({ ttfb, total: NaN, status: res.statusCode ?? 0, body: Buffer.concat(parts), error: err.message }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (err) => resolveSample({ ttfb, total: NaN, status: 0, body: Buffer.alloc(0), error: err.message }));
    req.end(spec.body);
  });
}

/** The text of a TokenHub stream and its number of content chunks; null when it is not a whole, successful stream. */
function streamedText(body: string): { text: string; contentChunks: number } | null {
  if (!body.endsWith('data: [DONE]\n\n') || body.includes('event: error')) return null;
  let text = '';
  let contentChunks = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as { object?: string; choices?: Array<{ delta?: { content?: string | null } }> };
    if (chunk.object !== CHUNK_MARKER) return null;
    const content = chunk.choices?.[0]?.delta?.content;
    if (content) {
      text += content;
      contentChunks++;
    }
  }
  return { text, contentChunks };
}

/** Why a sample is not a success, or null. TokenHub streams must carry the whole expected text. */
function problemOf(spec: Spec, s: { status: number; body: Buffer; error?: string; ttfb: number }): string | null {
  if (s.error) return `request error: ${s.error}`;
  if (s.status !== 200) return `HTTP ${s.status}: ${s.body.toString('utf8').slice(0, 500)}`;
  if (Number.isNaN(s.ttfb)) return `no first byte${spec.marker ? ` carrying ${spec.marker}` : ''}: ${s.body.toString('utf8').slice(0, 300)}`;
  if (spec.via === 'direct') return s.body.length > 0 ? null : 'empty body';
  const streamed = streamedText(s.body.toString('utf8'));
  if (!streamed) return `incomplete stream: …${s.body.toString('utf8').slice(-300)}`;
  if (streamed.text !== EXPECTED_TEXT) return `streamed text differs: ${JSON.stringify(streamed.text.slice(0, 200))}`;
  return null;
}

async function run(spec: Spec, concurrency: number, count: number): Promise<{ samples: Sample[]; failures: number; failureSamples: string[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples: Sample[] = [];
  const failureSamples: string[] = [];
  let failures = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const s = await once(agent, spec);
      const problem = problemOf(spec, s);
      if (problem) {
        failures++;
        if (failureSamples.length < 5) failureSamples.push(problem);
      } else samples.push({ ttfb: s.ttfb, total: s.total });
    }
  };
  try {
    await withTimeout(Promise.all(Array.from({ length: concurrency }, worker)), 60_000 + count * 100, `${spec.name} at concurrency ${concurrency}`);
  } finally {
    agent.destroy();
  }
  return { samples, failures, failureSamples };
}

/** One request to each target, checked; a misconfiguration fails here with what it answered. Returns TokenHub's content chunks per provider. */
async function preflight(specs: Spec[]): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: false });
  const chunks: Record<string, number> = {};
  for (const spec of specs) {
    const s = await once(agent, spec);
    const problem = problemOf(spec, s);
    if (problem) fail(`preflight ${spec.via} ${spec.provider}: ${problem}`);
    if (spec.via === 'tokenhub') chunks[spec.provider] = streamedText(s.body.toString('utf8'))!.contentChunks;
  }
  return chunks;
}

/** The fake's count of TCP connections accepted, asked over a connection of its own (counted too). */
function fakeConnections(origin: string): Promise<number> {
  return withTimeout(
    new Promise<number>((resolveCount, reject) => {
      const req = request(new URL('/_bench/connections', origin), { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolveCount((JSON.parse(text) as { connections: number }).connections));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    10_000,
    'asking the fake for its connections',
  );
}

/**
 * The targets of one round: the fake alone first (at concurrency 1 only, but for the OpenAI
 * reference), then TokenHub's, rotated by one each round so that no provider always runs
 * first or last (right after the load generator's own burst, or as the load from elsewhere
 * drifts).
 */
function roundOrder(specs: Spec[], concurrency: number, round: number): Spec[] {
  const direct = specs.filter((s) => s.via === 'direct' && (concurrency === 1 || s.provider === 'openai'));
  const tokenhub = specs.filter((s) => s.via === 'tokenhub');
  const shift = (round - 1) % tokenhub.length;
  return [...direct, ...tokenhub.slice(shift), ...tokenhub.slice(0, shift)];
}

const sorted = (values: number[]) => Float64Array.from(values).sort();

interface Row {
  spec: Spec;
  concurrency: number;
  ttfbP50: number;
  ttfbP99: number;
  totalP50: number;
  totalP99: number;
  /** p50 TTFB of each round, to show the spread. */
  roundP50: number[];
  n: number;
  failures: number;
  /** Gateway CPU milliseconds per measured request (TokenHub targets). */
  gatewayCpuMs: number;
  /** New connections to the fake per 100 requests (keep-alive reuse: the load generator's own count as well, `concurrency` per run). */
  connectionsPer100: number;
}

function rows(measured: Measured[]): Row[] {
  const out: Row[] = [];
  for (const m of measured) {
    let row = out.find((r) => r.spec === m.spec && r.concurrency === m.concurrency);
    if (!row) {
      row = { spec: m.spec, concurrency: m.concurrency, ttfbP50: NaN, ttfbP99: NaN, totalP50: NaN, totalP99: NaN, roundP50: [], n: 0, failures: 0, gatewayCpuMs: NaN, connectionsPer100: NaN };
      out.push(row);
    }
    row.roundP50.push(percentile(m.ttfb, 50));
    row.failures += m.failures;
  }
  out.sort((x, y) => (x.spec.via === y.spec.via ? PROVIDERS.indexOf(x.spec.provider) - PROVIDERS.indexOf(y.spec.provider) : x.spec.via === 'direct' ? -1 : 1));
  for (const row of out) {
    const mine = measured.filter((m) => m.spec === row.spec && m.concurrency === row.concurrency);
    const ttfb = sorted(mine.flatMap((m) => Array.from(m.ttfb)));
    const total = sorted(mine.flatMap((m) => Array.from(m.total)));
    const requests = mine.reduce((n, m) => n + m.ttfb.length + m.failures, 0);
    const cpuMs = (mine.reduce((n, m) => n + m.gatewayCpuS, 0) * 1000) / requests;
    const connectionsPer100 = (mine.reduce((n, m) => n + m.upstreamConnections, 0) * 100) / requests;
    Object.assign(row, { connectionsPer100, ttfbP50: percentile(ttfb, 50), ttfbP99: percentile(ttfb, 99), totalP50: percentile(total, 50), totalP99: percentile(total, 99), n: ttfb.length, gatewayCpuMs: cpuMs });
  }
  return out;
}

function render(all: Row[], meta: { startedAt: Date; loadStart: number[]; loadEnd: number[]; store: string; chunks: Record<string, number>; wallS: number }): string {
  const cpu = cpus();
  const lines: string[] = [];
  lines.push('# TokenHub streaming time to first byte, by provider');
  lines.push('');
  lines.push(
    `${meta.startedAt.toISOString()} · ${cpu.length} × ${cpu[0]?.model ?? 'CPU'} · Node ${process.version} · store: ${meta.store} · ` +
      `${ROUNDS} rounds × ${REQUESTS} streamed requests per target and concurrency (after ${WARMUP} warm-up ones), targets interleaved in each round and their order rotated between rounds · ` +
      `fake pauses ${FIRST_GAP_MS} ms after the first content piece · ` +
      `load average ${meta.loadStart.map((l) => l.toFixed(2)).join(' / ')} at start, ${meta.loadEnd.map((l) => l.toFixed(2)).join(' / ')} at the end (1 / 5 / 15 min)`,
  );
  lines.push('');
  lines.push(
    `Every fake answer streams "echo: <prompt>" (${EXPECTED_TEXT.length} characters) as ${STREAM_PIECES} content events of the same ${EXPECTED_TEXT.length / STREAM_PIECES} characters, ` +
      'in the provider\'s own framing. TTFB: from sending the request to the first body byte carrying a `chat.completion.chunk` ' +
      '(from the fake alone: to its first body byte); total: to the end of the stream. Milliseconds; p50 and p99 over all rounds, ' +
      '"rounds" is the spread of the per-round TTFB p50 (min–max); gateway CPU from /proc (10 ms ticks), per request; ' +
      'new upstream connections: TCP connections the fake accepted per 100 measured requests (the load generator\'s own included for the direct rows). ' +
      'Every TokenHub stream was checked to carry the whole text.',
  );
  for (const c of CONCURRENCY) {
    const here = all.filter((r) => r.concurrency === c);
    const base = here.find((r) => r.spec.via === 'tokenhub' && r.spec.provider === 'openai');
    lines.push('');
    lines.push(`## Concurrency ${c}`);
    lines.push('');
    lines.push('| target | TTFB p50 | TTFB p99 | total p50 | total p99 | added TTFB p50 vs OpenAI pass-through | added total p50 vs pass-through | rounds (TTFB p50) | gateway CPU ms / req | new upstream connections / 100 req | TokenHub content chunks | fake alone TTFB p50 | failures |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
    const direct = (p: Provider) => here.find((r) => r.spec.via === 'direct' && r.spec.provider === p);
    const openaiDirect = direct('openai');
    if (openaiDirect) {
      lines.push(
        `| direct to the fake (OpenAI format, reference) | ${fmt(openaiDirect.ttfbP50)} | ${fmt(openaiDirect.ttfbP99)} | ${fmt(openaiDirect.totalP50)} | ${fmt(openaiDirect.totalP99)} | | | ` +
          `${fmt(Math.min(...openaiDirect.roundP50))}–${fmt(Math.max(...openaiDirect.roundP50))} | | ${fmt(openaiDirect.connectionsPer100, 1)} | | | ${openaiDirect.failures} |`,
      );
    }
    for (const r of here.filter((x) => x.spec.via === 'tokenhub')) {
      const isBase = r === base;
      const fake = direct(r.spec.provider);
      lines.push(
        `| TokenHub → ${r.spec.name} | ${fmt(r.ttfbP50)} | ${fmt(r.ttfbP99)} | ${fmt(r.totalP50)} | ${fmt(r.totalP99)} | ` +
          `${isBase || !base ? '—' : signed(r.ttfbP50 - base.ttfbP50)} | ${isBase || !base ? '—' : signed(r.totalP50 - base.totalP50)} | ` +
          `${fmt(Math.min(...r.roundP50))}–${fmt(Math.max(...r.roundP50))} | ${fmt(r.gatewayCpuMs, 3)} | ${fmt(r.connectionsPer100, 1)} | ${meta.chunks[r.spec.provider] ?? 'n/a'} | ${fake ? fmt(fake.ttfbP50) : 'n/a'} | ${r.failures === 0 ? '0' : `**${r.failures}**`} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    `Load average ${meta.loadStart[0].toFixed(2)} → ${meta.loadEnd[0].toFixed(2)} on ${cpu.length} cores: ` +
      (Math.max(meta.loadStart[0], meta.loadEnd[0]) > cpu.length / 2
        ? '**the machine was busy with other work**: the "rounds" spread shows how much; rerun on a quiet machine for final figures.'
        : 'the machine was quiet.'),
  );
  lines.push('');
  lines.push(`Total wall time: ${meta.wallS.toFixed(0)} s.`);
  return lines.join('\n') + '\n';
}

const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(2)}` : 'n/a');

let tempDir: string | undefined;

async function cleanup(): Promise<void> {
  for (const { name, proc } of [...children].reverse()) await stopChild(name, proc, name === 'gateway' ? 30_000 : 5_000);
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}

export async function main(): Promise<number> {
  const startedAt = new Date();
  const loadStart = loadavg();
  const t0 = performance.now();
  tempDir = mkdtempSync(join(tmpdir(), 'tokenhub-bench-ttfb-'));
  const store = DATABASE_URL ? `Postgres server (${redact(DATABASE_URL)})` : 'embedded PGlite (temp DATA_DIR)';
  log(`TTFB: store ${store}; ${ROUNDS} rounds × ${REQUESTS} requests (+${WARMUP} warm-up) per target; concurrency ${CONCURRENCY.join(', ')}; first gap ${FIRST_GAP_MS} ms`);

  const fake = await startFakeProcess('native fake upstream', join(__dirname, 'native-fakes.ts'), 'NATIVE_FAKE_URL', { BENCH_TTFB_FIRST_GAP_MS: String(FIRST_GAP_MS) });
  log(`native fake upstream at ${fake.url} (pid ${fake.proc.pid})`);
  const gateway = await startGateway(tempDir, gatewayEnv(fake.url));
  log(`gateway at ${gateway.url} (pid ${gateway.proc.pid})`);
  const key = await createVirtualKey(gateway.url);
  const specs = [...directSpecs(fake.url), ...tokenhubSpecs(gateway.url, key.key)];
  const chunks = await preflight(specs);

  const measured: Measured[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const concurrency of CONCURRENCY) {
        // The fake alone at concurrency 1 only (a reference, not a comparison).
        for (const spec of roundOrder(specs, concurrency, round)) {
          if (exited(gateway.proc)) fail(`the gateway died during the run:\n${gateway.output.text}`);
          if (exited(fake.proc)) fail(`the fake upstream died during the run:\n${fake.output.text}`);
          const warm = await run(spec, concurrency, WARMUP * Math.max(1, Math.min(concurrency, 4)));
          if (warm.failures) log(`round ${round} c=${concurrency} ${spec.via} ${spec.provider}: ${warm.failures} warm-up requests failed: ${warm.failureSamples[0]}`);
          const connectionsBefore = await fakeConnections(fake.url);
          const cpuBefore = readTreeCpuSeconds(gateway.proc.pid);
          const r = await run(spec, concurrency, REQUESTS);
          const gatewayCpuS = readTreeCpuSeconds(gateway.proc.pid) - cpuBefore;
          // The query's own connection is not counted: it is made after this reading.
          const upstreamConnections = (await fakeConnections(fake.url)) - connectionsBefore - 1;
          const ttfb = sorted(r.samples.map((s) => s.ttfb));
          measured.push({ spec, concurrency, round, ttfb, total: sorted(r.samples.map((s) => s.total)), failures: r.failures, failureSamples: r.failureSamples, gatewayCpuS, upstreamConnections });
          log(
            `round ${round} c=${String(concurrency).padEnd(3)} ${spec.via.padEnd(8)} ${spec.provider.padEnd(9)} TTFB p50 ${fmt(percentile(ttfb, 50))} p99 ${fmt(percentile(ttfb, 99))} ms` +
              `${r.failures ? `  !! ${r.failures} failed: ${r.failureSamples[0]}` : ''}`,
          );
          await sleep(50);
        }
      }
    }
  } finally {
    if (measured.some((m) => m.failures > 0)) log(`gateway output (end):\n${gateway.output.text.slice(-4_000)}\nfake output (end):\n${fake.output.text.slice(-2_000)}`);
  }

  const table = rows(measured);
  const report = render(table, { startedAt, loadStart, loadEnd: loadavg(), store, chunks, wallS: (performance.now() - t0) / 1000 });
  process.stdout.write(`\n${report}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'ttfb-latest.md'), report);
  writeFileSync(
    join(RESULTS_DIR, 'ttfb-latest.json'),
    JSON.stringify(
      {
        startedAt, store, rounds: ROUNDS, requests: REQUESTS, warmup: WARMUP, firstGapMs: FIRST_GAP_MS, chunks,
        rows: table.map(({ spec, ...r }) => ({ target: spec.name, via: spec.via, provider: spec.provider, ...r })),
        failures: measured.filter((m) => m.failures).map((m) => ({ target: m.spec.name, via: m.spec.via, round: m.round, concurrency: m.concurrency, samples: m.failureSamples })),
      },
      null,
      2,
    ),
  );
  log(`written to ${join(RESULTS_DIR, 'ttfb-latest.md')}`);
  const failures = measured.reduce((n, m) => n + m.failures, 0);
  if (failures > 0) {
    log(`WARNING: ${failures} failed requests; see the report above`);
    return 1;
  }
  return 0;
}

/** Runs `main` with an overall deadline, stopping the children whatever happens; exits the process. */
export function start(): void {
  const targets = PROVIDERS.length * 2;
  const deadlineMs = (ROUNDS * CONCURRENCY.length * targets * (30 + REQUESTS * (0.05 + FIRST_GAP_MS / 1000)) + 240) * 1000;
  runBenchmark('TTFB run', main, cleanup, deadlineMs, { abandon: () => tempDir && rmSync(tempDir, { recursive: true, force: true }) });
}

if (require.main === module) start();
