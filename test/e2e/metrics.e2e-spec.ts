import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FakeOpenAI } from '../fakes/fake-openai';
import { setLimits } from './governance-helpers';
import { Replica, spawnReplica, stopReplica } from './governance-replicas';
import { ADMIN_KEY, chatBody, createTestDatabase, dropTestDatabase, embedded, expectOpenAIError, Gateway, postChat, readSse, startGateway } from './harness';

jest.setTimeout(120_000);

const METRICS_TOKEN = 'metrics-token-0123456789';

/** Every series `/metrics` must show, with its Prometheus type. */
const SERIES: Record<string, string> = {
  tokenhub_requests_total: 'counter',
  tokenhub_request_duration_seconds: 'histogram',
  tokenhub_upstream_duration_seconds: 'histogram',
  tokenhub_time_to_first_token_seconds: 'histogram',
  tokenhub_tokens_total: 'counter',
  tokenhub_cost_usd_total: 'counter',
  tokenhub_fallbacks_total: 'counter',
  tokenhub_retries_total: 'counter',
  tokenhub_cache_results_total: 'counter',
  tokenhub_limits_refused_total: 'counter',
  tokenhub_in_flight_requests: 'gauge',
  tokenhub_usage_ledger_backlog: 'gauge',
  tokenhub_usage_spool_bytes: 'gauge',
  process_resident_memory_bytes: 'gauge',
  process_cpu_seconds_total: 'counter',
  nodejs_eventloop_lag_seconds: 'gauge',
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (\\S+)(?: (-?\\d+))?$`);
/** Prometheus reads values with Go's ParseFloat: `NaN` and `Inf` in any case (prom-client writes `Nan` for an event-loop lag not yet sampled). */
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?inf|nan)$/i;

/**
 * A strict reading of the Prometheus text format (0.0.4): HELP and TYPE lines once per family,
 * TYPE before its samples, every sample line well formed and belonging to a declared family
 * (histograms by their _bucket/_sum/_count lines), no sample (name and labels) twice, and
 * histogram buckets cumulative, ending at +Inf equal to _count. Throws on the first problem.
 */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name, ${where}`);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`HELP twice, ${where}`);
        helps.add(name);
      } else {
        if (types.has(name)) throw new Error(`TYPE twice, ${where}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`unknown type, ${where}`);
        if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`TYPE after samples, ${where}`);
        types.set(name, rest);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m || !VALUE.test(m[m.length - 2])) throw new Error(`malformed sample, ${where}`);
    const name = m[1];
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(new RegExp(LABEL, 'g'))) {
      if (key in labels) throw new Error(`label twice, ${where}`);
      labels[key] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    if (!familyOf(name, types)) throw new Error(`sample without a TYPE, ${where}`);
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`sample twice, ${where}`);
    seen.add(id);
    const raw = m[m.length - 2];
    samples.push({ name, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  checkHistograms(types, samples);
  return { types, samples };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return types.get(base) === 'histogram' || types.get(base) === 'summary' ? base : undefined;
}

function checkHistograms(types: Map<string, string>, samples: Sample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const key = JSON.stringify(Object.entries(rest).sort());
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const [key, buckets] of groups) {
      let last = -1;
      for (const b of buckets) {
        if (b.value < last) throw new Error(`${family} buckets are not cumulative (${key})`);
        last = b.value;
      }
      if (buckets[buckets.length - 1].labels.le !== '+Inf') throw new Error(`${family} does not end with le="+Inf" (${key})`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key);
      if (count?.value !== last) throw new Error(`${family}_count is not the +Inf bucket (${key})`);
    }
  }
}

/** The value of the one sample with this name and these labels (others ignored), or undefined. */
function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} samples`);
  return matches[0]?.value;
}

/** The sum over every sample with this name and these labels. */
function total(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string, token?: string): Promise<{ res: Response; text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { res, text: await res.text() };
}

/** Requests are observed as they end, just after their answer: polls until `ready` holds. */
async function scrapeUntil(url: string, token: string | undefined, ready: (e: Exposition) => boolean): Promise<Exposition> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { res, text } = await scrape(url, token);
    expect(res.status).toBe(200);
    const e = parseExposition(text);
    if (ready(e) || Date.now() > deadline) return e;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /metrics', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: string;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    fake.streamChunks = 3;
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream-secret',
      OPENAI_BASE_URL: await fake.start(),
      TOKENHUB_MAX_RETRIES: '1',
      METRICS_TOKEN,
    });
    ({ key } = await gw.createKey('metrics-spec'));
  });
  afterAll(async () => {
    await fake?.stop();
    await gw?.close();
  });

  it('asks for METRICS_TOKEN when it is set, OpenAI-shaped, and is not in the OpenAPI document', async () => {
    for (const token of [undefined, 'wrong-token-0123456789']) {
      const { res, text } = await scrape(gw.url, token);
      expect(res.status).toBe(401);
      expect(expectOpenAIError(JSON.parse(text))).toMatchObject({ type: 'authentication_error', code: 'invalid_metrics_token' });
    }
    const docs = (await (await fetch(`${gw.url}/docs-json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).not.toContain('/metrics');
  });

  it('counts success, 4xx, retry and fallback, streams and refusals with the values sent', async () => {
    const limited = await gw.createKey('metrics-limited');
    await setLimits(gw.query, 'virtual_keys', limited.id, { requestsPerMinute: 1 });

    const ok = await postChat(gw, key, chatBody());
    expect(ok.status).toBe(200);
    const okUsage = ((await ok.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;

    const bad = await postChat(gw, key, { model: 'openai/gpt-4o' });
    expect(bad.status).toBe(400);
    await bad.text();

    // error-500 is retried once (TOKENHUB_MAX_RETRIES=1), then the fallback serves.
    const fellBack = await postChat(gw, key, chatBody({ model: 'openai/error-500', fallbacks: ['openai/gpt-4o-mini'] }));
    expect(fellBack.status).toBe(200);
    expect(fellBack.headers.get('x-tokenhub-attempts')).toBe('3');
    await fellBack.text();

    const streamed = await postChat(gw, key, chatBody({ stream: true }));
    expect(streamed.status).toBe(200);
    await readSse(streamed);

    expect((await postChat(gw, limited.key, chatBody())).status).toBe(200);
    const refused = await postChat(gw, limited.key, chatBody());
    expect(refused.status).toBe(429);
    await refused.text();

    const e = await scrapeUntil(gw.url, METRICS_TOKEN, (x) => total(x, 'tokenhub_requests_total') >= 6);
    for (const [name, type] of Object.entries(SERIES)) expect({ name, type: e.types.get(name) }).toEqual({ name, type });

    const requests = (labels: Record<string, string>) => value(e, 'tokenhub_requests_total', labels);
    expect(total(e, 'tokenhub_requests_total')).toBe(6);
    expect(requests({ provider: 'openai', model: 'gpt-4o', status: '200', stream: 'false' })).toBe(2);
    expect(requests({ provider: 'openai', model: 'gpt-4o', status: '200', stream: 'true' })).toBe(1);
    expect(requests({ provider: 'openai', model: 'gpt-4o-mini', status: '200', stream: 'false' })).toBe(1);
    // Refused before any upstream call: no provider or model to name.
    expect(requests({ provider: 'none', model: 'none', status: '400', stream: 'false' })).toBe(1);
    expect(requests({ provider: 'none', model: 'none', status: '429', stream: 'false' })).toBe(1);

    expect(value(e, 'tokenhub_request_duration_seconds_count', { provider: 'openai', model: 'gpt-4o', stream: 'false' })).toBe(2);
    expect(value(e, 'tokenhub_time_to_first_token_seconds_count', { provider: 'openai', model: 'gpt-4o' })).toBe(1);
    // A model outside the catalog that no upstream served is not a label value of its own.
    expect(value(e, 'tokenhub_upstream_duration_seconds_count', { provider: 'openai', model: 'other', outcome: 'error' })).toBe(2);
    expect(value(e, 'tokenhub_upstream_duration_seconds_count', { provider: 'openai', model: 'gpt-4o-mini', outcome: 'success' })).toBe(1);
    expect(e.samples.some((s) => s.labels.model === 'error-500')).toBe(false);
    expect(value(e, 'tokenhub_retries_total', { provider: 'openai', model: 'other' })).toBe(1);
    expect(value(e, 'tokenhub_fallbacks_total', { provider: 'openai', model: 'other' })).toBe(1);

    // Three identical non-streamed gpt-4o answers (the first, and the limited key's) and one streamed one.
    const prompt = value(e, 'tokenhub_tokens_total', { provider: 'openai', model: 'gpt-4o', type: 'prompt' });
    expect(prompt).toBeGreaterThanOrEqual(2 * okUsage.prompt_tokens);
    expect(value(e, 'tokenhub_tokens_total', { provider: 'openai', model: 'gpt-4o', type: 'completion' })).toBeGreaterThanOrEqual(2 * okUsage.completion_tokens);
    const rows = await gw.waitForUsage(6);
    const cost = rows.filter((r) => r.served_model === 'gpt-4o').reduce((sum, r) => sum + Number(r.cost_usd), 0);
    expect(value(e, 'tokenhub_cost_usd_total', { provider: 'openai', model: 'gpt-4o' })).toBeCloseTo(cost, 9);
    expect(value(e, 'tokenhub_limits_refused_total', { reason: 'requests' })).toBe(1);

    expect(value(e, 'tokenhub_in_flight_requests')).toBe(0);
    expect(value(e, 'tokenhub_usage_spool_bytes')).toBe(0);
    expect(value(e, 'tokenhub_usage_ledger_backlog')).toBeGreaterThanOrEqual(0);
    expect(value(e, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('counts the response cache verdicts the x-tokenhub-cache header gives', async () => {
    const verdicts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await postChat(gw, key, chatBody({ prompt_cache_key: 'metrics-spec', messages: [{ role: 'user', content: 'cached question' }] }));
      expect(res.status).toBe(200);
      await res.text();
      const verdict = res.headers.get('x-tokenhub-cache');
      if (verdict) verdicts.push(verdict);
    }
    expect(verdicts[0]).toBe('miss');
    expect(verdicts).toHaveLength(2);
    const e = await scrapeUntil(gw.url, METRICS_TOKEN, (x) => total(x, 'tokenhub_requests_total') >= 8);
    const expected: Record<string, number> = {};
    for (const v of verdicts) expected[v] = (expected[v] ?? 0) + 1;
    const counted: Record<string, number> = {};
    for (const s of e.samples.filter((x) => x.name === 'tokenhub_cache_results_total')) counted[s.labels.result] = s.value;
    expect(counted).toEqual(expected);
  });

  it('keeps in-flight requests in the gauge while they run', async () => {
    fake.chunkDelayMs = 300;
    const streaming = await postChat(gw, key, chatBody({ model: 'openai/slow-stream', stream: true }));
    expect(streaming.status).toBe(200);
    const e = parseExposition((await scrape(gw.url, METRICS_TOKEN)).text);
    // At least this stream (a request of an earlier test may still be finishing its record).
    expect(value(e, 'tokenhub_in_flight_requests')).toBeGreaterThanOrEqual(1);
    await readSse(streaming);
  });
});

const ROOT = join(__dirname, '..', '..');

/** One process with WORKERS=2 (the built app): whichever worker a scrape reaches answers for both. */
(embedded ? describe.skip : describe)('GET /metrics across cluster workers (WORKERS=2)', () => {
  let fake: FakeOpenAI;
  let databaseUrl: string;
  let dataDir: string;
  let gateway: Replica;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'apps', 'gateway', 'src', 'metrics', 'metrics-cluster.js'))) {
      await promisify(execFile)('npx', ['nest', 'build', 'gateway'], { cwd: ROOT });
    }
    fake = new FakeOpenAI();
    databaseUrl = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-metrics-'));
    gateway = await spawnReplica({
      WORKERS: '2',
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      TOKENHUB_ADMIN_KEY: ADMIN_KEY,
      OPENAI_API_KEY: 'sk-upstream',
      OPENAI_BASE_URL: await fake.start(),
      LOG_LEVEL: 'warn',
    });
  });
  afterAll(async () => {
    if (gateway) await stopReplica(gateway);
    await fake?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('sums both workers: every scrape, whichever worker answers, counts all requests', async () => {
    const { url } = gateway;
    const keyRes = await fetch(`${url}/admin/virtual-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'metrics-cluster' }),
    });
    const { key } = (await keyRes.json()) as { key: string };
    const sent = 12;
    // New connections each time: the primary spreads them over both workers.
    const answers = await Promise.all(
      Array.from({ length: sent }, () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
          body: JSON.stringify(chatBody()),
        }).then(async (r) => ({ status: r.status, text: await r.text() })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(sent).fill(200));

    const counted: number[] = [];
    for (let i = 0; i < 6; i++) {
      const e = await scrapeUntil(url, undefined, (x) => total(x, 'tokenhub_requests_total') >= sent);
      counted.push(total(e, 'tokenhub_requests_total', { provider: 'openai', model: 'gpt-4o', status: '200' }));
      expect(value(e, 'tokenhub_in_flight_requests')).toBe(0);
      expect(value(e, 'process_resident_memory_bytes')).toBeGreaterThan(40 * 1024 * 1024);
    }
    expect(counted).toEqual(Array(6).fill(sent));
  });
});
