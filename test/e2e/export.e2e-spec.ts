import { Writable } from 'node:stream';
import { UsageRecordRepository } from '@tokenhub/store';
import type { Response as ExpressResponse } from 'express';
import { UsageService } from '../../apps/gateway/src/usage/usage.service';
import { FakeOpenAI } from '../fakes/fake-openai';
import { adminJson, ok, usageRecord, writeUsage } from './admin-fixtures';
import { ADMIN_KEY, chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Request audit queries: GET /admin/usage filters by team and customer too, and
 * GET /admin/usage/export streams every matching record as NDJSON, page by page
 * (keyset pagination, one page in memory at a time).
 */
interface UsageView {
  request_id: string;
  created_at: string;
  key_id: string | null;
  team_id: string | null;
  customer_id: string | null;
  user: string | null;
  status: number;
  metadata: Record<string, unknown> | null;
}

/**
 * A response whose client takes nothing until `resume()`: each write is held, so the
 * writer sees backpressure (write() returns false) and must wait for 'drain'.
 */
class SlowResponse extends Writable {
  statusCode = 0;
  readonly headers: Record<string, string> = {};
  private readonly chunks: string[] = [];
  private readonly held: Array<() => void> = [];
  private flowing = false;

  constructor() {
    super({ highWaterMark: 1024 });
  }

  _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    if (this.flowing) callback();
    else this.held.push(callback);
  }

  resume(): this {
    this.flowing = true;
    for (const callback of this.held.splice(0)) callback();
    return this;
  }

  status(code: number): this {
    this.statusCode = code;
    return this;
  }

  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }

  flushHeaders(): void {}

  received(): UsageView[] {
    return this.chunks.join('').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as UsageView);
  }
}

/** Rows per export page in this file (the default is 1000), so a few hundred records make several pages. */
const PAGE = 100;

describe('usage audit queries and NDJSON export', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  const ids: Record<string, string> = {};
  /** Every record's request id, newest first, as the list API walks them. */
  let everything: UsageView[];

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, TOKENHUB_MAX_RETRIES: '0' });
    const customer = await ok(gw, 'POST', '/admin/customers', { name: 'Export Co' });
    const t1 = await ok(gw, 'POST', '/admin/teams', { name: 'exporters', customer_id: customer.id });
    const t2 = await ok(gw, 'POST', '/admin/teams', { name: 'others' });
    const k1 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'k1', team_id: t1.id });
    const k2 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'k2', team_id: t2.id });
    Object.assign(ids, { customer: customer.id, t1: t1.id, t2: t2.id, k1: k1.id, k2: k2.id });

    const sent: string[] = [];
    for (const [key, body] of [
      [k1.key, chatBody({ user: 'alice', metadata: { env: 'prod' } })],
      [k1.key, chatBody({ user: 'bob', stream: true })],
      [k2.key, chatBody({ user: 'alice', metadata: { env: 'dev' } })],
      [k2.key, chatBody({ temperature: 7 })],
    ] as const) {
      const res = await postChat(gw, key, body);
      await res.arrayBuffer();
      sent.push(res.headers.get('x-request-id')!);
    }
    expect(await gw.waitForUsage(sent.length, 'request_id = ANY($1)', [sent])).toHaveLength(sent.length);
    // Older records, enough for several export pages (this file reads 100 rows a page).
    const now = Date.now();
    await writeUsage(
      gw,
      Array.from({ length: 567 }, (_, i) =>
        usageRecord({
          createdAt: new Date(now - 60_000 - (i % 200) * 1000), // many share a created_at: the keyset must break ties
          keyId: i % 3 === 0 ? k1.id : i % 3 === 1 ? k2.id : null,
          teamId: i % 3 === 0 ? t1.id : i % 3 === 1 ? t2.id : null,
          customerId: i % 3 === 0 ? customer.id : null,
          principal: i % 3 === 0 ? `key:${k1.id}` : i % 3 === 1 ? `key:${k2.id}` : 'anonymous',
          user: i % 5 === 0 ? 'alice' : null,
          statusCode: i % 7 === 0 ? 429 : 200,
          metadata: { batch: 'bulk', i },
        }),
      ),
    );
    gw.app.get(UsageService).exportPageSize = PAGE;
    everything = await listAll({});
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  async function listAll(filters: Record<string, string>): Promise<UsageView[]> {
    const out: UsageView[] = [];
    let cursor: string | null = null;
    do {
      const qs: URLSearchParams = new URLSearchParams({ ...filters, limit: '1000', ...(cursor ? { cursor } : {}) });
      const page: { data: UsageView[]; next_cursor: string | null } = await ok(gw, 'GET', `/admin/usage?${qs}`);
      out.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }

  async function exportNdjson(filters: Record<string, string>): Promise<{ res: Response; rows: UsageView[]; chunks: number; text: string }> {
    const res = await gw.admin(`/admin/usage/export?${new URLSearchParams(filters)}`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      text += decoder.decode(value, { stream: true });
    }
    const rows = text.length === 0 ? [] : text.replace(/\n$/, '').split('\n').map((line) => JSON.parse(line) as UsageView);
    return { res, rows, chunks, text };
  }

  const requestIds = (rows: UsageView[]) => rows.map((r) => r.request_id);

  describe('GET /admin/usage: team and customer filters', () => {
    it('records carry the team and customer of their key', async () => {
      const k1Rows = everything.filter((r) => r.key_id === ids.k1);
      expect(k1Rows.length).toBeGreaterThan(2);
      for (const r of k1Rows) expect(r).toMatchObject({ team_id: ids.t1, customer_id: ids.customer });
    });

    it.each([
      ['team_id', 't1', (r: UsageView) => r.team_id === ids.t1],
      ['team_id', 't2', (r: UsageView) => r.team_id === ids.t2],
      ['customer_id', 'customer', (r: UsageView) => r.customer_id === ids.customer],
    ])('filters by %s (%s)', async (param, id, keep) => {
      const page = await ok(gw, 'GET', `/admin/usage?${param}=${ids[id]}&limit=50`);
      expect(requestIds(page.data)).toEqual(requestIds(everything.filter(keep).slice(0, 50)));
      expect(page.has_more).toBe(true);
    });

    it('combines with the other filters', async () => {
      const page = await ok(gw, 'GET', `/admin/usage?team_id=${ids.t2}&user=alice&metadata=${encodeURIComponent('{"env":"dev"}')}`);
      expect(page.data).toHaveLength(1);
      expect(page.data[0]).toMatchObject({ team_id: ids.t2, user: 'alice', metadata: { env: 'dev' } });
    });

    it('rejects a team_id or customer_id that is not a uuid', async () => {
      for (const param of ['team_id', 'customer_id']) {
        const res = await adminJson(gw, 'GET', `/admin/usage?${param}=nope`);
        expect(res.status).toBe(400);
        expect(expectOpenAIError(res.body).param).toBe(param);
      }
    });
  });

  describe('GET /admin/usage/export', () => {
    it('streams every record as NDJSON, newest first, the same records as the list walks', async () => {
      const { res, rows, text } = await exportNdjson({});
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      expect(res.headers.get('content-length')).toBeNull(); // streamed, not buffered
      expect(text.endsWith('\n')).toBe(true);
      expect(rows.length).toBe(everything.length);
      expect(rows.length).toBeGreaterThan(567);
      expect(new Set(requestIds(rows)).size).toBe(rows.length);
      expect(rows).toEqual(everything);
    });

    it('reads one keyset page at a time, never everything at once', async () => {
      const repo = gw.app.get(UsageRecordRepository);
      const spy = jest.spyOn(repo, 'query');
      try {
        const { rows } = await exportNdjson({});
        const pageSize = gw.app.get(UsageService).exportPageSize;
        expect(spy.mock.calls.length).toBe(Math.floor(rows.length / pageSize) + 1);
        for (const [q] of spy.mock.calls) expect(q.limit).toBe(pageSize);
        expect(spy.mock.calls[0][0].after).toBeUndefined();
        const last = rows[pageSize - 1];
        expect(spy.mock.calls[1][0].after).toEqual({ createdAt: new Date(last.created_at), requestId: last.request_id });
      } finally {
        spy.mockRestore();
      }
    });

    it('writes each page as it is read: several chunks on the wire', async () => {
      const { rows, chunks } = await exportNdjson({ team_id: ids.t1 });
      expect(rows).toEqual(everything.filter((r) => r.team_id === ids.t1));
      expect(rows.length).toBeGreaterThan(PAGE);
      expect(chunks).toBeGreaterThan(1);
    });

    it.each([
      ['team_id', { team_id: 't2' }, (r: UsageView) => r.team_id === ids.t2],
      ['customer_id', { customer_id: 'customer' }, (r: UsageView) => r.customer_id === ids.customer],
      ['key_id and status', { key_id: 'k2', status: '429' }, (r: UsageView) => r.key_id === ids.k2 && r.status === 429],
      ['user and metadata', { user: 'alice', metadata: '{"env":"prod"}' }, (r: UsageView) => r.user === 'alice' && r.metadata?.env === 'prod'],
    ])('takes the list\'s filters: %s', async (_what, filters, keep) => {
      const query = Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, ids[v] ?? v]));
      const { rows } = await exportNdjson(query);
      const expected = everything.filter(keep);
      expect(expected.length).toBeGreaterThan(0);
      expect(rows).toEqual(expected);
    });

    it('a time range, and a filter nothing matches: an empty body', async () => {
      const from = everything[everything.length - 100].created_at;
      const to = everything[50].created_at;
      const { rows } = await exportNdjson({ from, to });
      expect(rows).toEqual(everything.filter((r) => Date.parse(r.created_at) >= Date.parse(from) && Date.parse(r.created_at) < Date.parse(to)));
      const none = await exportNdjson({ user: 'nobody-at-all' });
      expect(none.res.status).toBe(200);
      expect(none.text).toBe('');
    });

    it('waits for a slow client to drain each page before reading the next', async () => {
      const service = gw.app.get(UsageService);
      const spy = jest.spyOn(gw.app.get(UsageRecordRepository), 'query');
      service.exportPageSize = 10;
      try {
        const out = new SlowResponse();
        const done = service.export({}, out as unknown as ExpressResponse);
        await new Promise((r) => setTimeout(r, 150));
        // The first page is written and not yet taken: nothing more is read.
        expect(spy.mock.calls).toHaveLength(1);
        expect(out.received().length).toBe(10);
        out.resume();
        await done;
        expect(out.statusCode).toBe(200);
        expect(out.headers['content-type']).toMatch(/^application\/x-ndjson/);
        expect(out.received()).toEqual(everything);
        expect(spy.mock.calls.length).toBe(Math.floor(everything.length / 10) + 1);
      } finally {
        service.exportPageSize = PAGE;
        spy.mockRestore();
      }
    });

    it('stops when the client goes away', async () => {
      const service = gw.app.get(UsageService);
      const spy = jest.spyOn(gw.app.get(UsageRecordRepository), 'query');
      service.exportPageSize = 10;
      try {
        const out = new SlowResponse();
        const done = service.export({}, out as unknown as ExpressResponse);
        await new Promise((r) => setTimeout(r, 50));
        out.destroy();
        await done;
        expect(spy.mock.calls).toHaveLength(1);
      } finally {
        service.exportPageSize = PAGE;
        spy.mockRestore();
      }
    });

    it('a client that hangs up mid-export over HTTP: the gateway carries on', async () => {
      const abort = new AbortController();
      const res = await fetch(`${gw.url}/admin/usage/export`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: abort.signal });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await reader.read().catch(() => undefined);
      const { rows } = await exportNdjson({ key_id: ids.k1 });
      expect(rows).toEqual(everything.filter((r) => r.key_id === ids.k1));
    });

    it.each([
      ['metadata that is not JSON', { metadata: '{env:prod}' }, 'metadata'],
      ['a team_id that is not a uuid', { team_id: 'x' }, 'team_id'],
      ['a status that is not a number', { status: 'ok' }, 'status'],
      ['a from that is not a date', { from: 'monday' }, 'from'],
    ])('rejects %s with an OpenAI-shaped JSON 400, before streaming', async (_what, filters, param) => {
      const res = await gw.admin(`/admin/usage/export?${new URLSearchParams(filters)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(expectOpenAIError(await res.json()).param).toBe(param);
    });

    it('admin key only', async () => {
      expect((await fetch(`${gw.url}/admin/usage/export`)).status).toBe(401);
      const { key } = await gw.createKey('not-admin');
      const res = await fetch(`${gw.url}/admin/usage/export`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(403);
      expect(expectOpenAIError(await res.json()).code).toBe('admin_key_required');
    });
  });
});
