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
