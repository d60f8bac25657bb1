import { AdminAuditService } from '../../apps/gateway/src/audit/admin-audit.service';
import { adminJson, AdminResult, ok } from './admin-fixtures';
import { ADMIN_KEY, expectOpenAIError, Gateway, startGateway } from './harness';

/**
 * The admin audit log: every change made through the admin API is one entry (actor,
 * action, target, before and after with secrets redacted, request id); it can be read
 * with filters and a cursor, and nothing (no endpoint, no SQL) can edit or delete it.
 */
interface Entry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: Record<string, any> | null;
  after: Record<string, any> | null;
  request_id: string | null;
}
interface Page {
  object: 'list';
  data: Entry[];
  has_more: boolean;
  next_cursor: string | null;
}

describe('admin audit log', () => {
  let gw: Gateway;
  /** Every change this file made, in order, and what it should have logged. */
  const made: Array<{ call: AdminResult; action: string; targetType: string; targetId: string }> = [];
  const secrets: string[] = [];
  let startedAt: string;

  /** Makes a change through the admin API; asserts it succeeded; remembers it. */
  async function change(method: string, path: string, body: unknown, action: string, targetType: string, targetId?: (b: any) => string): Promise<any> {
    const call = await adminJson(gw, method, path, body);
    expect(call.status).toBeLessThan(300);
    made.push({ call, action, targetType, targetId: targetId ? targetId(call.body) : call.body.id });
    return call.body;
  }

  async function page(query: Record<string, string | number> = {}): Promise<Page> {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    return ok<Page>(gw, 'GET', `/admin/audit-log?${qs}`);
  }

  let customer: any;
  let team: any;
  let key: any;
  let rotated: any;
  let budget: any;

  beforeAll(async () => {
    gw = await startGateway();
    startedAt = new Date(Date.now() - 1000).toISOString();
    customer = await change('POST', '/admin/customers', { name: 'Audited Co', requests_per_minute: 10 }, 'customer.create', 'customer');
    await change('PATCH', `/admin/customers/${customer.id}`, { name: 'Audited Company' }, 'customer.update', 'customer', () => customer.id);
    team = await change('POST', '/admin/teams', { name: 'audited-team', customer_id: customer.id }, 'team.create', 'team');
    await change('PATCH', `/admin/teams/${team.id}`, { max_concurrency: 3 }, 'team.update', 'team', () => team.id);
    key = await change('POST', '/admin/virtual-keys', { name: 'audited-key', team_id: team.id }, 'virtual_key.create', 'virtual_key');
    secrets.push(key.key);
    await change('PATCH', `/admin/virtual-keys/${key.id}`, { active: false, allowed_models: ['openai/*'] }, 'virtual_key.update', 'virtual_key', () => key.id);
    rotated = await change('POST', `/admin/virtual-keys/${key.id}/rotate`, undefined, 'virtual_key.rotate', 'virtual_key');
    secrets.push(rotated.key);
    budget = await change('POST', '/admin/budgets', { scope: 'team', scope_id: team.id, period: 'daily', limit_usd: 5 }, 'budget.create', 'budget');
    await change('PATCH', `/admin/budgets/${budget.id}`, { limit_usd: 6 }, 'budget.update', 'budget');
    await change('DELETE', `/admin/budgets/${budget.id}`, undefined, 'budget.delete', 'budget');
    await change('POST', `/admin/virtual-keys/${key.id}/revoke`, undefined, 'virtual_key.revoke', 'virtual_key');
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('one entry per change, newest first, with actor, action, target and the request id', async () => {
    const { data, has_more } = await page({ limit: 1000 });
    expect(has_more).toBe(false);
    expect(data).toHaveLength(made.length);
    const oldestFirst = [...data].reverse();
    oldestFirst.forEach((entry, i) => {
      expect(entry).toEqual({
        id: expect.stringMatching(/^\d+$/),
        at: expect.any(String),
        actor: 'admin',
        action: made[i].action,
        target_type: made[i].targetType,
        target_id: made[i].targetId,
        before: made[i].action.endsWith('.create') ? null : expect.objectContaining({ id: made[i].targetId }),
        after: made[i].action.endsWith('.delete') ? null : expect.objectContaining({ id: made[i].targetId }),
        request_id: made[i].call.requestId,
      });
    });
    const ids = data.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : 1)));
  });

  it('before and after are the object as the API shows it: null before a creation, null after a deletion', async () => {
    const entries = (await page({ limit: 1000 })).data;
    const find = (action: string) => entries.find((e) => e.action === action)!;

    expect(find('customer.create')).toMatchObject({ before: null, after: { id: customer.id, name: 'Audited Co', requests_per_minute: 10 } });
    expect(find('customer.update')).toMatchObject({ before: { name: 'Audited Co' }, after: { name: 'Audited Company', requests_per_minute: 10 } });
    expect(find('team.update')).toMatchObject({ before: { max_concurrency: null }, after: { max_concurrency: 3, customer_id: customer.id } });
    expect(find('virtual_key.update')).toMatchObject({ before: { active: true, allowed_models: null }, after: { active: false, status: 'inactive', allowed_models: ['openai/*'] } });
    const rotate = find('virtual_key.rotate');
    expect(rotate.before!.key_hint).toBe(key.key_hint);
    expect(rotate.after!.key_hint).toBe(rotated.key_hint);
    expect(rotate.after!.rotated_at).toBe(rotated.rotated_at);
    expect(find('budget.update')).toMatchObject({ before: { limit_usd: 5 }, after: { limit_usd: 6 } });
    expect(find('budget.delete')).toMatchObject({ before: { id: budget.id, limit_usd: 6 }, after: null });
    expect(find('virtual_key.revoke')).toMatchObject({ before: { status: 'inactive', revoked_at: null }, after: { status: 'revoked', revoked_at: expect.any(String) } });
  });

  it('never holds a secret or a key hash', async () => {
    const text = await (await gw.admin('/admin/audit-log?limit=1000')).text();
    const [{ key_hash }] = await gw.query<{ key_hash: string }>('SELECT key_hash FROM virtual_keys WHERE id = $1', [key.id]);
    for (const secret of secrets) expect(text).not.toContain(secret.slice('sk-bf-'.length));
    expect(text).not.toContain(key_hash);
    const raw = await gw.query<{ before: unknown; after: unknown }>('SELECT before, after FROM admin_audit_log');
    const stored = JSON.stringify(raw);
    for (const secret of secrets) expect(stored).not.toContain(secret.slice('sk-bf-'.length));
    expect(stored).not.toContain(key_hash);
  });

  it('redacts secret fields of whatever is recorded (nested too)', async () => {
    await gw.app.get(AdminAuditService).record({
      actor: 'admin',
      action: 'provider_credential.create',
      targetType: 'provider_credential',
      targetId: 'cred-1',
      before: null,
      after: { name: 'openai-main', api_key: 'sk-live-supersecret', nested: { secret: 's3cr3t', token: 'tok', keep: 'visible' }, list: [{ password: 'p' }] },
    });
    const [entry] = (await page({ target_type: 'provider_credential' })).data;
    expect(entry.after).toEqual({ name: 'openai-main', api_key: '[redacted]', nested: { secret: '[redacted]', token: '[redacted]', keep: 'visible' }, list: [{ password: '[redacted]' }] });
    expect(JSON.stringify(await gw.query('SELECT after FROM admin_audit_log'))).not.toMatch(/supersecret|s3cr3t/);
  });

  it('filters by target, action, actor and time', async () => {
    const keyEntries = (await page({ target_type: 'virtual_key', target_id: key.id })).data;
    expect(keyEntries.map((e) => e.action)).toEqual(['virtual_key.revoke', 'virtual_key.rotate', 'virtual_key.update', 'virtual_key.create']);
    expect((await page({ target_type: 'budget' })).data.map((e) => e.action)).toEqual(['budget.delete', 'budget.update', 'budget.create']);
    expect((await page({ action: 'team.update' })).data.map((e) => e.target_id)).toEqual([team.id]);
    expect((await page({ actor: 'admin' })).data.length).toBe(made.length + 1);
    expect((await page({ actor: 'jwt:someone-else' })).data).toEqual([]);

    const all = (await page({ limit: 1000 })).data;
    expect((await page({ from: startedAt, limit: 1000 })).data).toEqual(all);
    expect((await page({ to: startedAt })).data).toEqual([]);
    const middle = [...all].reverse()[3];
    const fromMiddle = (await page({ from: middle.at, limit: 1000 })).data;
    expect(fromMiddle.map((e) => e.id)).toEqual(all.filter((e) => Date.parse(e.at) >= Date.parse(middle.at)).map((e) => e.id));
    expect(fromMiddle.map((e) => e.id)).toContain(middle.id);
  });

  it('walks every entry with limit=3 and the cursor: no gaps, no duplicates', async () => {
    const all = (await page({ limit: 1000 })).data.map((e) => e.id);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const p: Page = await page({ limit: 3, ...(cursor ? { cursor } : {}) });
      expect(p.data.length).toBeLessThanOrEqual(3);
      walked.push(...p.data.map((e) => e.id));
      expect(p.next_cursor === null).toBe(!p.has_more);
      cursor = p.next_cursor;
    } while (cursor);
    expect(walked).toEqual(all);
  });

  it('a failed change is not logged', async () => {
    const before = (await page({ limit: 1000 })).data.length;
    expect((await adminJson(gw, 'POST', '/admin/teams', { name: '' })).status).toBe(400);
    expect((await adminJson(gw, 'PATCH', `/admin/virtual-keys/${key.id}`, { name: 'after revoke' })).status).toBe(409);
    expect((await adminJson(gw, 'POST', `/admin/virtual-keys/${key.id}/revoke`)).status).toBe(200); // already revoked: no change
    expect((await page({ limit: 1000 })).data.length).toBe(before);
  });

  it('no endpoint edits or deletes it', async () => {
    const [entry] = (await page({ limit: 1 })).data;
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const path of ['/admin/audit-log', `/admin/audit-log/${entry.id}`]) {
        const res = await fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : '{}' });
        expect(res.status).toBe(404);
        expectOpenAIError(await res.json());
      }
    }
  });

  it('the database refuses UPDATE and DELETE on it (append-only trigger)', async () => {
    const [{ count }] = await gw.query<{ count: string }>('SELECT count(*) FROM admin_audit_log');
    await expect(gw.query(`UPDATE admin_audit_log SET actor = 'mallory'`)).rejects.toThrow(/append-only/);
    await expect(gw.query(`UPDATE admin_audit_log SET after = NULL WHERE action = 'virtual_key.create'`)).rejects.toThrow(/append-only/);
    await expect(gw.query('DELETE FROM admin_audit_log')).rejects.toThrow(/append-only/);
    const rows = await gw.query<{ count: string; actors: string[] }>('SELECT count(*), array_agg(DISTINCT actor) AS actors FROM admin_audit_log');
    expect(Number(rows[0].count)).toBe(Number(count));
    expect(JSON.stringify(rows[0].actors)).not.toContain('mallory');
  });

  it('only the admin key reads it; bad filters are OpenAI-shaped 400s', async () => {
    expect((await fetch(`${gw.url}/admin/audit-log`)).status).toBe(401);
    const { key: virtualKey } = await gw.createKey('reader');
    const res = await fetch(`${gw.url}/admin/audit-log`, { headers: { authorization: `Bearer ${virtualKey}` } });
    expect(res.status).toBe(403);
    expect(expectOpenAIError(await res.json()).code).toBe('admin_key_required');
    for (const [query, param] of [['cursor=bm9wZQ', 'cursor'], ['from=yesterday', 'from'], ['limit=0', 'limit'], ['limit=1001', 'limit']]) {
      const bad = await adminJson(gw, 'GET', `/admin/audit-log?${query}`);
      expect(bad.status).toBe(400);
      expect(expectOpenAIError(bad.body).param).toBe(param);
    }
  });
});
