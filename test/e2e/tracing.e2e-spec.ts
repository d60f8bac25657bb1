import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FakeOpenAI } from '../fakes/fake-openai';
import { Replica, spawnReplica, stopReplica } from './governance-replicas';
import { ADMIN_KEY, chatBody, createTestDatabase, dropTestDatabase, embedded, readSse } from './harness';

jest.setTimeout(120_000);

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes: Array<{ key: string; value: OtlpValue }>;
  status?: { code?: number; message?: string };
}

/** A minimal OTLP/HTTP traces receiver (JSON encoding), keeping every span and request it gets. */
class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly requests: Array<{ path: string; contentType: string | undefined; body: string }> = [];
  readonly resources: Array<Record<string, unknown>> = [];
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req).then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
    const parsed = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    for (const rs of parsed.resourceSpans) {
      this.resources.push(attrs(rs.resource.attributes));
      for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
    }
  }

  async waitFor(predicate: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
    const deadline = Date.now() + 20_000;
    while (!predicate(this.spans) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.spans;
  }
}

function attrs(list: OtlpSpan['attributes']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list) out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue));
  return out;
}

const ROOT = join(__dirname, '..', '..');

/**
 * The built gateway in a process of its own, as deployed: the OTLP exporter loads Node's
 * `http` with a dynamic import, which Jest's module sandbox does not run.
 */
describe('OpenTelemetry traces (OTLP/HTTP)', () => {
  let fake: FakeOpenAI;
  let receiver: OtlpReceiver;
  let gateway: Replica;
  let databaseUrl: string | undefined;
  let dataDir: string;
  let key: string;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'apps', 'gateway', 'src', 'tracing', 'tracing.service.js'))) {
      await promisify(execFile)('npx', ['nest', 'build', 'gateway'], { cwd: ROOT });
    }
    fake = new FakeOpenAI();
    receiver = new OtlpReceiver();
    const [base, otlp] = await Promise.all([fake.start(), receiver.start()]);
    databaseUrl = embedded ? undefined : await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-tracing-'));
    gateway = await spawnReplica({
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      DATA_DIR: dataDir,
      WORKERS: '1',
      TOKENHUB_ADMIN_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      OPENAI_API_KEY: 'sk-upstream-secret-0123',
      OPENAI_BASE_URL: base,
      TOKENHUB_MAX_RETRIES: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      OTEL_SERVICE_NAME: 'tokenhub-e2e',
      // The batch processor's delay: short, so spans arrive while the test waits.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const res = await fetch(`${gateway.url}/admin/virtual-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tracing-spec' }),
    });
    ({ key } = (await res.json()) as { key: string });
  });
  afterAll(async () => {
    if (gateway) await stopReplica(gateway);
    await fake?.stop();
    await receiver?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it("exports a server span per chat request, child of the caller's traceparent, and a client span per attempt", async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const secret = 'a question nobody else asks';
    const res = await post(chatBody({ model: 'openai/error-503', fallbacks: ['openai/gpt-4o'], messages: [{ role: 'user', content: secret }] }), {
      traceparent: `00-${traceId}-${callerSpan}-01`,
    });
    expect(res.status).toBe(200);
    await res.text();
    const requestId = res.headers.get('x-request-id');

    const spans = await receiver.waitFor((all) => all.filter((s) => s.traceId === traceId).length >= 3);
    const trace = spans.filter((s) => s.traceId === traceId);
    const server = trace.find((s) => s.parentSpanId === callerSpan)!;
    expect(server).toBeDefined();
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.kind).toBe(2); // SERVER
    expect(attrs(server.attributes)).toMatchObject({
      'tokenhub.request_id': requestId,
      'http.response.status_code': 200,
      'gen_ai.request.model': 'openai/error-503',
      'gen_ai.system': 'openai',
      'gen_ai.response.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': expect.any(Number),
      'gen_ai.usage.output_tokens': expect.any(Number),
      'tokenhub.attempts': 2,
      'tokenhub.stream': false,
    });

    const attempts = trace.filter((s) => s.parentSpanId === server.spanId).sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    expect(attempts.map((s) => ({ name: s.name, kind: s.kind, ...pick(attrs(s.attributes), 'gen_ai.system', 'tokenhub.attempt.outcome', 'http.response.status_code'), status: s.status?.code ?? 0 }))).toEqual([
      { name: 'chat error-503', kind: 3, 'gen_ai.system': 'openai', 'tokenhub.attempt.outcome': 'error', 'http.response.status_code': 503, status: 2 },
      { name: 'chat gpt-4o', kind: 3, 'gen_ai.system': 'openai', 'tokenhub.attempt.outcome': 'success', 'http.response.status_code': 200, status: 0 },
    ]);
    // Attempts lie within their request, one after the other.
    const [first, second] = attempts;
    expect(BigInt(first.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(server.startTimeUnixNano));
    expect(BigInt(first.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(second.startTimeUnixNano));
    expect(BigInt(second.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(server.endTimeUnixNano));

    // Exported as OTLP JSON to <endpoint>/v1/traces, with the service name; never a key nor message content.
    expect(receiver.requests[0]).toMatchObject({ path: '/v1/traces', contentType: expect.stringMatching(/^application\/json/) });
    expect(receiver.resources[0]).toMatchObject({ 'service.name': 'tokenhub-e2e' });
    const exported = receiver.requests.map((r) => r.body).join('\n');
    for (const leak of [key, 'sk-upstream-secret-0123', secret, 'echo:']) expect(exported).not.toContain(leak);
  });

  it('starts a new trace without a traceparent, and traces streams, refusals and unreadable bodies', async () => {
    const before = receiver.spans.length;
    const streamed = await post(chatBody({ stream: true }));
    expect(streamed.status).toBe(200);
    await readSse(streamed);
    const refused = await post({ model: 'openai/gpt-4o' });
    expect(refused.status).toBe(400);
    await refused.text();
    // A body that is not JSON is answered before the chat path proper: traced all the same.
    const unreadable = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(unreadable.status).toBe(400);
    await unreadable.text();
    const ids = [streamed.headers.get('x-request-id'), refused.headers.get('x-request-id'), unreadable.headers.get('x-request-id')];

    const spans = await receiver.waitFor((all) => ids.every((id) => all.some((s) => attrs(s.attributes)['tokenhub.request_id'] === id)));
    const byId = (id: string | null) => spans.slice(before).find((s) => attrs(s.attributes)['tokenhub.request_id'] === id)!;
    const stream = byId(ids[0]);
    expect(stream.parentSpanId ?? '').toBe('');
    expect(attrs(stream.attributes)).toMatchObject({ 'tokenhub.stream': true, 'tokenhub.ttft_ms': expect.any(Number), 'http.response.status_code': 200 });
    expect(spans.filter((s) => s.parentSpanId === stream.spanId)).toHaveLength(1);
    const bad = byId(ids[1]);
    expect(attrs(bad.attributes)).toMatchObject({ 'http.response.status_code': 400, 'error.type': expect.any(String), 'tokenhub.attempts': 0 });
    expect(attrs(byId(ids[2]).attributes)).toMatchObject({ 'http.response.status_code': 400, 'error.type': expect.any(String), 'tokenhub.attempts': 0 });
  });
});

function pick(o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
