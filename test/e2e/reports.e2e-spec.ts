import { LATENCY_BUCKETS_MS, REPORT_GROUPS, UsageRecordEntity, UsageRollupRepository, type ReportGroup } from '@tokenhub/store';
import { UsageRetention } from '../../apps/gateway/src/usage/usage-retention.service';
import { FakeOpenAI } from '../fakes/fake-openai';
import { adminJson, num, ok, usageRecord, writeUsage } from './admin-fixtures';
import { chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Usage reports come from the hourly rollups the usage writer keeps as it inserts
 * records: their totals equal the sums over the raw records for every grouping and
 * filter, a replayed batch counts once, the report query never reads usage_records
 * (its plan, and a report after every raw record is gone), and retention prunes raw
 * records but not the rollups.
 */
interface Totals {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  total_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
  latency_ms: { avg: number | null; p50: number | null; p95: number | null; p99: number | null };
}
interface Report {
  object: 'usage_report';
  group_by: ReportGroup;
  from: string | null;
  to: string | null;
  data: Array<Totals & { group: string | null; name: string | null }>;
  has_more: boolean;
  totals: Totals;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** What each grouping is over the raw records (the definition the rollups must match). */
const RAW_GROUP: Record<ReportGroup, string> = {
  key: 'key_id::text',
  team: 'team_id::text',
  customer: 'customer_id::text',
  model: 'coalesce(served_model, requested_model)',
  provider: 'served_provider',
  user: '"user"',
  day: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
};

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let s = seed;
  const next = () => ((s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  return { next, pick: <T>(items: T[]): T => items[Math.floor(next() * items.length)], int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

describe('usage reports', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  const ids: Record<string, string> = {};
  let synthetic: UsageRecordEntity[];

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, TOKENHUB_MAX_RETRIES: '0', USAGE_RETENTION_DAYS: '90' });
    const customer = await ok(gw, 'POST', '/admin/customers', { name: 'Report Co' });
    const t1 = await ok(gw, 'POST', '/admin/teams', { name: 'team-one', customer_id: customer.id });
    const t2 = await ok(gw, 'POST', '/admin/teams', { name: 'team-two' });
    const k1 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'key-one', team_id: t1.id });
    const k2 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'key-two', team_id: t2.id });
    const k3 = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'key-three' });
    Object.assign(ids, { customer: customer.id, t1: t1.id, t2: t2.id, k1: k1.id, k2: k2.id, k3: k3.id });

    // Real traffic through the chat endpoint: served, refused, failed, streamed, unauthenticated.
    const sent: string[] = [];
    const send = async (key: string, body: unknown) => {
      const res = await postChat(gw, key, body);
      await res.arrayBuffer();
      sent.push(res.headers.get('x-request-id')!);
    };
    await send(k1.key, chatBody({ user: 'alice' }));
    await send(k1.key, chatBody({ user: 'bob' }));
    await send(k1.key, chatBody({ model: 'openai/gpt-4o-mini', user: 'alice' }));
    await send(k1.key, chatBody({ temperature: 9 }));
    await send(k2.key, chatBody({ model: 'openai/gpt-4o-mini', user: 'carol' }));
    await send(k2.key, chatBody({ model: 'openai/error-500', user: 'carol' }));
    await send(k3.key, chatBody({ stream: true }));
    await send('sk-bf-not-a-key-00000000000000000000000000', chatBody());
    expect(await gw.waitForUsage(sent.length, 'request_id = ANY($1)', [sent])).toHaveLength(sent.length);

    // Older traffic, over the last three days, written the way the chat path writes it.
    const rnd = random(42);
    const owners = [
      { keyId: k1.id, teamId: t1.id, customerId: customer.id, principal: `key:${k1.id}` },
      { keyId: k2.id, teamId: t2.id, customerId: null, principal: `key:${k2.id}` },
      { keyId: k3.id, teamId: null, customerId: null, principal: `key:${k3.id}` },
      { keyId: null, teamId: null, customerId: null, principal: 'anonymous' },
    ];
    const models: Array<[string | null, string | null, string]> = [
      ['openai', 'gpt-4o', 'openai/gpt-4o'],
      ['openai', 'gpt-4o-mini', 'gpt-4o-mini'],
      ['groq', 'llama-3.3-70b-versatile', 'groq/llama-3.3-70b-versatile'],
      [null, null, 'openai/unknown-model'],
    ];
    const now = Date.now();
    synthetic = Array.from({ length: 240 }, () => {
      const [servedProvider, servedModel, requestedModel] = rnd.pick(models);
      const status = servedModel ? rnd.pick([200, 200, 200, 200, 429, 500]) : rnd.pick([400, 404]);
      const served = status === 200;
      const priced = served && servedProvider === 'openai';
      const prompt = served ? rnd.int(1, 5000) : null;
      const completion = served ? rnd.int(1, 2000) : null;
      return usageRecord({
        ...rnd.pick(owners),
        createdAt: new Date(now - rnd.int(1, 72 * 60) * 60_000),
        user: rnd.pick(['alice', 'bob', 'dave', null]),
        servedProvider: status === 200 || status >= 429 ? servedProvider : null,
        servedModel: status === 200 || status >= 429 ? servedModel : null,
        requestedModel,
        statusCode: status,
        promptTokens: prompt,
        completionTokens: completion,
        cachedTokens: served ? rnd.int(0, prompt!) : null,
        totalTokens: served ? prompt! + completion! : null,
        costUsd: priced ? Math.round(rnd.next() * 1e8) / 1e10 : null,
        latencyMs: rnd.pick([rnd.int(0, 5), rnd.int(6, 300), rnd.int(300, 3000), rnd.int(3000, 150_000), 200_000]),
      });
    });
    await writeUsage(gw, synthetic);
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  async function report(query: Record<string, string | number>): Promise<Report> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    return ok<Report>(gw, 'GET', `/admin/reports/usage?${qs}`);
  }

  /** The same totals, computed over the raw records. */
  async function rawTotals(group: string, where = 'true', params: unknown[] = []) {
    const rows = await gw.query<Record<string, unknown>>(
      `SELECT ${group} AS g, count(*) AS requests, count(*) FILTER (WHERE status_code >= 400) AS errors,
              coalesce(sum(prompt_tokens), 0) AS prompt_tokens, coalesce(sum(completion_tokens), 0) AS completion_tokens,
              coalesce(sum(cached_tokens), 0) AS cached_tokens, coalesce(sum(cost_usd), 0) AS cost_usd,
              count(*) FILTER (WHERE cost_usd IS NULL AND (status_code < 400 OR total_tokens IS NOT NULL)) AS unpriced_requests,
              coalesce(sum(latency_ms), 0) AS latency_ms_sum
         FROM usage_records WHERE ${where} GROUP BY 1`,
      params,
    );
    return new Map(rows.map((r) => [(r.g as string | null) ?? null, r]));
  }

  function expectSame(actual: Totals, raw: Record<string, unknown>) {
    const requests = num(raw.requests);
    expect(actual).toMatchObject({
      requests,
      errors: num(raw.errors),
      prompt_tokens: num(raw.prompt_tokens),
      completion_tokens: num(raw.completion_tokens),
      cached_tokens: num(raw.cached_tokens),
      total_tokens: num(raw.prompt_tokens) + num(raw.completion_tokens),
      unpriced_requests: num(raw.unpriced_requests),
    });
    expect(actual.cost_usd).toBeCloseTo(num(raw.cost_usd), 9);
    expect(actual.latency_ms.avg).toBe(Math.round((num(raw.latency_ms_sum) / requests) * 10) / 10);
  }

  it.each(REPORT_GROUPS.map((g) => [g]))('group_by=%s: every group\'s totals equal the sums over the raw records', async (groupBy) => {
    const r = await report({ group_by: groupBy, limit: 10000 });
    const raw = await rawTotals(RAW_GROUP[groupBy]);
    expect(r).toMatchObject({ object: 'usage_report', group_by: groupBy, from: null, to: null, has_more: false });
    expect(new Set(r.data.map((row) => row.group))).toEqual(new Set(raw.keys()));
    for (const row of r.data) expectSame(row, raw.get(row.group)!);
    expectSame(r.totals, (await rawTotals(`'all'`)).get('all')!);
    expect(r.totals.requests).toBeGreaterThanOrEqual(synthetic.length + 8);
  });

  it('rows carry names; most requests first, days oldest first', async () => {
    const byKey = await report({ group_by: 'key' });
    expect(byKey.data.find((r) => r.group === ids.k1)!.name).toBe('key-one');
    expect(byKey.data.find((r) => r.group === null)!.name).toBeNull();
    const requests = byKey.data.map((r) => r.requests);
    expect(requests).toEqual([...requests].sort((a, b) => b - a));
    expect((await report({ group_by: 'team' })).data.find((r) => r.group === ids.t2)!.name).toBe('team-two');
    expect((await report({ group_by: 'customer' })).data.find((r) => r.group === ids.customer)!.name).toBe('Report Co');
    const days = (await report({ group_by: 'day' })).data.map((r) => r.group!);
    expect(days).toEqual([...days].sort());
    expect(days.length).toBeGreaterThanOrEqual(3);
    for (const day of days) expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it.each([
    ['key_id', 'k1', 'key_id = $1'],
    ['team_id', 't1', 'team_id = $1'],
    ['customer_id', 'customer', 'customer_id = $1'],
  ])('filters by %s', async (param, id, where) => {
    const r = await report({ group_by: 'model', [param]: ids[id] });
    const raw = await rawTotals(RAW_GROUP.model, where, [ids[id]]);
    expect(r.data.length).toBe(raw.size);
    for (const row of r.data) expectSame(row, raw.get(row.group)!);
    expectSame(r.totals, (await rawTotals(`'all'`, where, [ids[id]])).get('all')!);
    expect(r.totals.requests).toBeLessThan((await report({ group_by: 'model' })).totals.requests);
  });

  it('from and to are rounded out to whole hours, and say so', async () => {
    const from = new Date(Date.now() - 47.5 * HOUR_MS);
    const to = new Date(Date.now() - 20.25 * HOUR_MS);
    const r = await report({ group_by: 'provider', from: from.toISOString(), to: to.toISOString(), team_id: ids.t2 });
    const hourFrom = new Date(Math.floor(from.getTime() / HOUR_MS) * HOUR_MS);
    const hourTo = new Date(Math.ceil(to.getTime() / HOUR_MS) * HOUR_MS);
    expect(r.from).toBe(hourFrom.toISOString());
    expect(r.to).toBe(hourTo.toISOString());
    const where = 'created_at >= $1 AND created_at < $2 AND team_id = $3';
    const params = [hourFrom.toISOString(), hourTo.toISOString(), ids.t2];
    const raw = await rawTotals(RAW_GROUP.provider, where, params);
    expect(r.data.length).toBe(raw.size);
    for (const row of r.data) expectSame(row, raw.get(row.group)!);
    expectSame(r.totals, (await rawTotals(`'all'`, where, params)).get('all')!);
    expect(r.totals.requests).toBeGreaterThan(0);
  });

  it('latency percentiles fall in the histogram bucket of the exact percentile', async () => {
    const r = await report({ group_by: 'provider' });
    const latencies = (await gw.query<{ latency_ms: number }>('SELECT latency_ms FROM usage_records ORDER BY latency_ms')).map((x) => Number(x.latency_ms));
    for (const [q, estimate] of [[0.5, r.totals.latency_ms.p50], [0.95, r.totals.latency_ms.p95], [0.99, r.totals.latency_ms.p99]] as const) {
      const exact = latencies[Math.ceil(q * latencies.length) - 1];
      const bucket = LATENCY_BUCKETS_MS.findIndex((upper) => exact <= upper);
      if (bucket === -1) {
        expect(estimate).toBe(LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]);
      } else {
        expect(estimate).toBeGreaterThanOrEqual(bucket === 0 ? 0 : LATENCY_BUCKETS_MS[bucket - 1]);
        expect(estimate).toBeLessThanOrEqual(LATENCY_BUCKETS_MS[bucket]);
      }
    }
    expect(r.totals.latency_ms.p50!).toBeLessThanOrEqual(r.totals.latency_ms.p95!);
    expect(r.totals.latency_ms.p95!).toBeLessThanOrEqual(r.totals.latency_ms.p99!);
  });

  it('limit: at most that many rows, has_more, and totals over every group', async () => {
    const all = await report({ group_by: 'user' });
    const one = await report({ group_by: 'user', limit: 1 });
    expect(one.data).toEqual([all.data[0]]);
    expect(one.has_more).toBe(true);
    expect(one.totals).toEqual(all.totals);
  });

  it('a batch written twice (same request ids) counts once, in records and in rollups', async () => {
    const before = await report({ group_by: 'key' });
    const [{ count }] = await gw.query<{ count: string }>('SELECT count(*) FROM usage_records');
    await writeUsage(gw, synthetic.slice(0, 100));
    expect(await report({ group_by: 'key' })).toEqual(before);
    expect(num((await gw.query<{ count: string }>('SELECT count(*) FROM usage_records'))[0].count)).toBe(num(count));
  });

  it('the report queries\' plans read usage_rollups, never usage_records', async () => {
    const repo = gw.app.get(UsageRollupRepository);
    for (const groupBy of REPORT_GROUPS) {
      for (const filters of [{}, { keyId: ids.k1, from: new Date(Date.now() - DAY_MS), to: new Date() }, { teamId: ids.t1, customerId: ids.customer }]) {
        const plans = await repo.explain({ groupBy, limit: 1000, ...filters });
        expect(plans).toHaveLength(2);
        for (const plan of plans) {
          expect(plan).toContain('usage_rollups');
          expect(plan).not.toContain('usage_records');
        }
      }
    }
  });

  it.each([
    ['no group_by', {}, 'group_by'],
    ['an unknown group_by', { group_by: 'week' }, 'group_by'],
    ['a from that is not a date', { group_by: 'key', from: 'last week' }, 'from'],
    ['a to before from', { group_by: 'key', from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
    ['a key_id that is not a uuid', { group_by: 'key', key_id: 'k1' }, 'key_id'],
    ['a limit of 0', { group_by: 'key', limit: 0 }, 'limit'],
  ])('rejects %s with an OpenAI-shaped 400', async (_what, query, param) => {
    const qs = new URLSearchParams(query as Record<string, string>);
    const res = await adminJson(gw, 'GET', `/admin/reports/usage?${qs}`);
    expect(res.status).toBe(400);
    expect(expectOpenAIError(res.body)).toMatchObject({ type: 'invalid_request_error', param });
  });

  describe('retention', () => {
    it('prunes raw records older than USAGE_RETENTION_DAYS, keeps newer ones, and the rollups', async () => {
      const old = Array.from({ length: 5 }, (_, i) => usageRecord({ createdAt: new Date(Date.now() - (100 + i) * DAY_MS), user: 'retention' }));
      const kept = Array.from({ length: 3 }, (_, i) => usageRecord({ createdAt: new Date(Date.now() - (89 - i) * DAY_MS), user: 'retention' }));
      await writeUsage(gw, [...old, ...kept]);
      const before = await report({ group_by: 'day' });
      const [{ count: total }] = await gw.query<{ count: string }>('SELECT count(*) FROM usage_records');

      const deleted = await gw.app.get(UsageRetention).prune();
      expect(deleted).toBe(old.length);
      const left = await gw.query<{ request_id: string }>(`SELECT request_id FROM usage_records WHERE "user" = 'retention'`);
      expect(left.map((r) => r.request_id).sort()).toEqual(kept.map((r) => r.requestId).sort());
      expect(num((await gw.query<{ count: string }>('SELECT count(*) FROM usage_records'))[0].count)).toBe(num(total) - old.length);
      // Reports still cover the pruned days.
      expect(await report({ group_by: 'day' })).toEqual(before);
      expect((await report({ group_by: 'user' })).data.find((r) => r.group === 'retention')!.requests).toBe(8);
      // Nothing more to prune.
      expect(await gw.app.get(UsageRetention).prune()).toBe(0);
    });

    it('with every raw record gone, every report is unchanged: reports read only the rollups', async () => {
      const before = await Promise.all(REPORT_GROUPS.map((g) => report({ group_by: g })));
      const deleted = await gw.app.get(UsageRetention).prune(new Date(Date.now() + 1000 * DAY_MS));
      expect(deleted).toBeGreaterThan(synthetic.length);
      expect(num((await gw.query<{ count: string }>('SELECT count(*) FROM usage_records'))[0].count)).toBe(0);
      const after = await Promise.all(REPORT_GROUPS.map((g) => report({ group_by: g })));
      expect(after).toEqual(before);
    });
  });
});
