import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamHttpClient } from './upstream-http-client';

const TIMEOUTS = { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, responseMs: 5_000, maxResponseBytes: 1_000_000 };

/** What the circuit breaker is told about a call: a stream the adapter stops reading is no upstream failure. */
describe('UpstreamHttpClient outcome reports', () => {
  let server: Server;
  let url: string;
  const client = new UpstreamHttpClient(TIMEOUTS);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/reset') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"a":1}\n\n');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      res.writeHead(req.url === '/fail' ? 503 : 200, { 'content-type': 'text/event-stream' });
      res.write('data: {"a":1}\n\n');
      // Keeps the stream open a while, as a provider does after its final event.
      setTimeout(() => res.end('data: [DONE]\n\n'), 200);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await client.close();
    await new Promise((r) => server.close(r));
  });

  async function outcomeOf(path: string, read: (body: AsyncIterable<unknown> & { destroy(): void }) => Promise<void>, abort?: AbortController): Promise<boolean | 'none'> {
    const signal = (abort ?? new AbortController()).signal;
    let outcome: boolean | 'none' = 'none';
    const res = await client.post({ url: `${url}${path}`, headers: { 'content-type': 'application/json' }, body: '{}', signal, onOutcome: (ok) => (outcome = ok) });
    await read(res.body as never).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    return outcome;
  }

  it('counts a body read to its end as a success', async () => {
    expect(await outcomeOf('/ok', async (body) => { for await (const _ of body); })).toBe(true);
  });

  it('counts a body the adapter closes early (it had what it needed) as a success', async () => {
    expect(await outcomeOf('/ok', async (body) => { for await (const _ of body) break; })).toBe(true);
    expect(await outcomeOf('/ok', async (body) => body.destroy())).toBe(true);
  });

  it('counts a 5xx and a connection reset mid-body as failures', async () => {
    expect(await outcomeOf('/fail', async (body) => body.destroy())).toBe(false);
    expect(await outcomeOf('/reset', async (body) => { for await (const _ of body); })).toBe(false);
  });

  it('reports nothing for a call the client cancels', async () => {
    const abort = new AbortController();
    expect(await outcomeOf('/ok', async (body) => { abort.abort(); for await (const _ of body); }, abort)).toBe('none');
  });
});

/** Whole answers read without a body stream: the same deadlines, cap, outcomes and cancellation as `post` + `readBody`. */
describe('UpstreamHttpClient.postForBody', () => {
  let server: Server;
  let url: string;
  const client = new UpstreamHttpClient({ ...TIMEOUTS, responseMs: 300, maxResponseBytes: 1_000 });

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/ok') return void res.end('{"choices":[]}');
      if (req.url === '/refused') {
        res.writeHead(429, { 'retry-after': '3', 'x-seen': 'a' });
        return void res.end('{"error":{"message":"slow down"}}');
      }
      if (req.url === '/large') return void res.end('x'.repeat(5_000));
      if (req.url === '/reset') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('{"partial":');
        return void setTimeout(() => req.socket.destroy(), 20);
      }
      // '/trickle': a byte every 100 ms, past the 300 ms response deadline.
      res.writeHead(200);
      const timer = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await client.close();
    await new Promise((r) => server.close(r));
  });

  async function call(path: string, abort = new AbortController()) {
    const outcomes: boolean[] = [];
    const result = await client
      .postForBody({ url: `${url}${path}`, headers: { 'content-type': 'application/json' }, body: '{}', signal: abort.signal, onOutcome: (ok) => outcomes.push(ok) })
      .then(
        (answer) => ({ status: answer.statusCode, body: answer.body.toString(), headers: answer.headers }),
        (err: Error & { status?: number; code?: string }) => ({ error: err.name, status: err.status, code: err.code }),
      );
    return { result, outcomes };
  }

  it('answers the whole body, and counts it a success', async () => {
    expect(await call('/ok')).toMatchObject({ result: { status: 200, body: '{"choices":[]}' }, outcomes: [true] });
  });

  it('answers a refusal with its body and headers (for the caller to turn into its error)', async () => {
    const { result, outcomes } = await call('/refused');
    expect(result).toMatchObject({ status: 429, body: '{"error":{"message":"slow down"}}', headers: { 'retry-after': '3', 'x-seen': 'a' } });
    expect(outcomes).toEqual([true]);
  });

  it('fails past the size cap, the response deadline, or a reset mid-body, each counted a failure', async () => {
    expect(await call('/large')).toEqual({ result: { error: 'UpstreamError', status: 502, code: 'upstream_response_too_large' }, outcomes: [false] });
    expect(await call('/trickle')).toEqual({ result: { error: 'UpstreamError', status: 504, code: 'upstream_timeout' }, outcomes: [false] });
    expect(await call('/reset')).toEqual({ result: { error: 'UpstreamError', status: 502, code: 'upstream_connection_error' }, outcomes: [false] });
  });

  it('gives up at once when the client cancels, reporting nothing', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    expect(await call('/trickle', abort)).toMatchObject({ result: { error: 'ClientCancelledError' }, outcomes: [] });
    const already = new AbortController();
    already.abort();
    expect(await call('/ok', already)).toMatchObject({ result: { error: 'ClientCancelledError' }, outcomes: [] });
  });
});
