import { randomUUID } from 'node:crypto';
import { AuthService } from '../../apps/gateway/src/auth/auth.service';
import { FakeOpenAI } from '../fakes/fake-openai';
import { adminJson, ok } from './admin-fixtures';
import { chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Customers, teams, budgets and virtual keys with policies through the admin API:
 * create, read, change, rotate; the views never show a secret; a change applies at once
 * to cached keys; and where each budget on a key's path stands.
 */
const NO_LIMITS = {
  requests_per_minute: null,
  requests_per_day: null,
  tokens_per_minute: null,
  tokens_per_day: null,
  max_concurrency: null,
  allowed_models: null,
};
const DAY_MS = 86_400_000;

describe('customers, teams, budgets and key policies', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, TOKENHUB_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  const expect400 = async (method: string, path: string, body: unknown, param: string) => {
    const { status, body: error } = await adminJson(gw, method, path, body);
    expect(status).toBe(400);
    expect(expectOpenAIError(error)).toMatchObject({ type: 'invalid_request_error', param });
  };

  describe('customers', () => {
    it('create with limits and budgets, get, list', async () => {
      const { status, body: customer } = await adminJson(gw, 'POST', '/admin/customers', {
        name: 'Acme Corp',
        requests_per_minute: 600,
        tokens_per_day: 20_000_000,
        allowed_models: ['openai/*'],
        budgets: [{ period: 'monthly', limit_usd: 100 }, { period: 'daily', limit_usd: 12.5 }],
      });
      expect(status).toBe(201);
      expect(customer).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        object: 'customer',
        name: 'Acme Corp',
        ...NO_LIMITS,
        requests_per_minute: 600,
        tokens_per_day: 20_000_000,
        allowed_models: ['openai/*'],
        budgets: expect.any(Array),
        created_at: expect.any(String),
      });
      expect(customer.budgets).toHaveLength(2);
      for (const b of customer.budgets) expect(b).toEqual({ id: expect.any(String), object: 'budget', scope: 'customer', scope_id: customer.id, period: expect.any(String), limit_usd: expect.any(Number), created_at: expect.any(String) });
      expect(Object.fromEntries(customer.budgets.map((b: any) => [b.period, b.limit_usd]))).toEqual({ monthly: 100, daily: 12.5 });

      expect(await ok(gw, 'GET', `/admin/customers/${customer.id}`)).toEqual(customer);
      const list = await ok(gw, 'GET', '/admin/customers');
      expect(list.object).toBe('list');
      expect(list.data).toContainEqual(customer);
    });

    it('PATCH: absent fields kept, null removes a limit, budgets replaced by period (kept ids keep their spending)', async () => {
      const created = await ok(gw, 'POST', '/admin/customers', {
        name: 'Globex',
        requests_per_minute: 100,
        max_concurrency: 5,
        budgets: [{ period: 'daily', limit_usd: 10 }, { period: 'hourly', limit_usd: 1 }],
      });
      const daily = created.budgets.find((b: any) => b.period === 'daily');
      const patched = await ok(gw, 'PATCH', `/admin/customers/${created.id}`, {
        name: 'Globex Corporation',
        requests_per_minute: null,
        tokens_per_minute: 5000,
        budgets: [{ period: 'daily', limit_usd: 20 }, { period: 'monthly', limit_usd: 300 }],
      });
      expect(patched).toMatchObject({ id: created.id, name: 'Globex Corporation', requests_per_minute: null, tokens_per_minute: 5000, max_concurrency: 5, created_at: created.created_at });
      expect(patched.budgets.map((b: any) => [b.period, b.limit_usd]).sort()).toEqual([['daily', 20], ['monthly', 300]]);
      expect(patched.budgets.find((b: any) => b.period === 'daily').id).toBe(daily.id);

      // Only the name: everything else stays.
      const renamed = await ok(gw, 'PATCH', `/admin/customers/${created.id}`, { name: 'Globex Inc' });
      expect(renamed).toEqual({ ...patched, name: 'Globex Inc' });
      // budgets: null removes them all.
      expect((await ok(gw, 'PATCH', `/admin/customers/${created.id}`, { budgets: null })).budgets).toEqual([]);
      expect(await gw.query('SELECT id FROM budgets WHERE scope_id = $1', [created.id])).toEqual([]);
    });

    it.each([
      ['no name', {}, 'name'],
      ['a rate limit of 0', { name: 'x', requests_per_minute: 0 }, 'requests_per_minute'],
      ['a rate limit that is a string', { name: 'x', tokens_per_minute: '10' }, 'tokens_per_minute'],
      ['a fractional concurrency cap', { name: 'x', max_concurrency: 1.5 }, 'max_concurrency'],
      ['allowed_models that is not a list', { name: 'x', allowed_models: 'openai/*' }, 'allowed_models'],
      ['an empty allowed model', { name: 'x', allowed_models: ['openai/gpt-4o', ''] }, 'allowed_models'],
      ['an unknown budget period', { name: 'x', budgets: [{ period: 'yearly', limit_usd: 1 }] }, 'budgets[0].period'],
      ['a negative budget', { name: 'x', budgets: [{ period: 'daily', limit_usd: -1 }] }, 'budgets[0].limit_usd'],
      ['a budget period twice', { name: 'x', budgets: [{ period: 'daily', limit_usd: 1 }, { period: 'daily', limit_usd: 2 }] }, 'budgets[1].period'],
    ])('create with %s: 400 naming the field', async (_what, body, param) => {
      await expect400('POST', '/admin/customers', body, param);
    });

    it('PATCH with a null or empty name: 400; unknown id: 404; not a uuid: 400', async () => {
      const { id } = await ok(gw, 'POST', '/admin/customers', { name: 'Initech' });
      await expect400('PATCH', `/admin/customers/${id}`, { name: null }, 'name');
      await expect400('PATCH', `/admin/customers/${id}`, { name: '' }, 'name');
      for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'y' }]] as const) {
        const missing = await adminJson(gw, method, `/admin/customers/${randomUUID()}`, body);
        expect(missing.status).toBe(404);
        expect(expectOpenAIError(missing.body).code).toBe('customer_not_found');
        expect((await adminJson(gw, method, '/admin/customers/nope', body)).status).toBe(400);
      }
      // Nothing changed by the refused calls.
      expect((await ok(gw, 'GET', `/admin/customers/${id}`)).name).toBe('Initech');
    });
  });

  describe('teams', () => {
    it('create under a customer, list by customer, move to none, 404 and 400s', async () => {
      const customer = await ok(gw, 'POST', '/admin/customers', { name: 'Umbrella' });
      const { status, body: team } = await adminJson(gw, 'POST', '/admin/teams', { name: 'search', customer_id: customer.id, requests_per_day: 1000, budgets: [{ period: 'weekly', limit_usd: 50 }] });
      expect(status).toBe(201);
      expect(team).toEqual({
        id: expect.any(String),
        object: 'team',
        name: 'search',
        customer_id: customer.id,
        ...NO_LIMITS,
        requests_per_day: 1000,
        budgets: [expect.objectContaining({ scope: 'team', scope_id: expect.any(String), period: 'weekly', limit_usd: 50 })],
        created_at: expect.any(String),
      });
      expect(team.budgets[0].scope_id).toBe(team.id);
      const other = await ok(gw, 'POST', '/admin/teams', { name: 'loose' });
      expect(other.customer_id).toBeNull();

      expect((await ok(gw, 'GET', `/admin/teams?customer_id=${customer.id}`)).data.map((t: any) => t.id)).toEqual([team.id]);
      const all = (await ok(gw, 'GET', '/admin/teams')).data.map((t: any) => t.id);
      expect(all).toEqual(expect.arrayContaining([team.id, other.id]));
      expect(await ok(gw, 'GET', `/admin/teams/${team.id}`)).toEqual(team);

      const moved = await ok(gw, 'PATCH', `/admin/teams/${team.id}`, { customer_id: null, allowed_models: ['groq/*'] });
      expect(moved).toMatchObject({ customer_id: null, requests_per_day: 1000, allowed_models: ['groq/*'], budgets: team.budgets });
      expect((await ok(gw, 'GET', `/admin/teams?customer_id=${customer.id}`)).data).toEqual([]);

      const unknownCustomer = await adminJson(gw, 'POST', '/admin/teams', { name: 'x', customer_id: randomUUID() });
      expect(unknownCustomer.status).toBe(400);
      expect(expectOpenAIError(unknownCustomer.body)).toMatchObject({ param: 'customer_id', code: 'customer_not_found' });
      await expect400('PATCH', `/admin/teams/${team.id}`, { customer_id: 'not-a-uuid' }, 'customer_id');
      await expect400('GET', '/admin/teams?customer_id=nope', undefined, 'customer_id');
      const missing = await adminJson(gw, 'GET', `/admin/teams/${randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(expectOpenAIError(missing.body).code).toBe('team_not_found');
    });
  });

  describe('budgets', () => {
    it('create on a key, team or customer; one per period; list with filters; change the limit; delete', async () => {
      const team = await ok(gw, 'POST', '/admin/teams', { name: 'budgeted' });
      const { status, body: budget } = await adminJson(gw, 'POST', '/admin/budgets', { scope: 'team', scope_id: team.id, period: 'daily', limit_usd: 5 });
      expect(status).toBe(201);
      expect(budget).toEqual({ id: expect.any(String), object: 'budget', scope: 'team', scope_id: team.id, period: 'daily', limit_usd: 5, created_at: expect.any(String) });
      expect((await ok(gw, 'GET', `/admin/teams/${team.id}`)).budgets).toEqual([budget]);

      const again = await adminJson(gw, 'POST', '/admin/budgets', { scope: 'team', scope_id: team.id, period: 'daily', limit_usd: 9 });
      expect(again.status).toBe(409);
      expect(expectOpenAIError(again.body).code).toBe('budget_exists');

      const key = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'budget-scope' });
      const keyBudget = await ok(gw, 'POST', '/admin/budgets', { scope: 'key', scope_id: key.id, period: 'lifetime', limit_usd: 0.5 });
      expect((await ok(gw, 'GET', `/admin/budgets?scope_id=${team.id}`)).data).toEqual([budget]);
      expect((await ok(gw, 'GET', `/admin/budgets?scope=key&scope_id=${key.id}`)).data).toEqual([keyBudget]);
      const all = (await ok(gw, 'GET', '/admin/budgets')).data.map((b: any) => b.id);
      expect(all).toEqual(expect.arrayContaining([budget.id, keyBudget.id]));

      const changed = await ok(gw, 'PATCH', `/admin/budgets/${budget.id}`, { limit_usd: 7.25 });
      expect(changed).toEqual({ ...budget, limit_usd: 7.25 });
      expect(await ok(gw, 'GET', `/admin/budgets/${budget.id}`)).toEqual(changed);

      await gw.query(`INSERT INTO budget_windows (budget_id, window_start, spent_usd) VALUES ($1, date_trunc('day', now()), 1)`, [budget.id]);
      expect(await ok(gw, 'DELETE', `/admin/budgets/${budget.id}`)).toEqual({ id: budget.id, object: 'budget', deleted: true });
      expect(await gw.query('SELECT * FROM budget_windows WHERE budget_id = $1', [budget.id])).toEqual([]);
      for (const [method, body] of [['GET', undefined], ['PATCH', { limit_usd: 1 }], ['DELETE', undefined]] as const) {
        const gone = await adminJson(gw, method, `/admin/budgets/${budget.id}`, body);
        expect(gone.status).toBe(404);
        expect(expectOpenAIError(gone.body).code).toBe('budget_not_found');
      }
    });

    it.each([
      ['an unknown scope', { scope: 'org', scope_id: randomUUID(), period: 'daily', limit_usd: 1 }, 'scope'],
      ['a scope id that is not a uuid', { scope: 'team', scope_id: 'x', period: 'daily', limit_usd: 1 }, 'scope_id'],
      ['a scope id that does not exist', { scope: 'customer', scope_id: randomUUID(), period: 'daily', limit_usd: 1 }, 'scope_id'],
      ['no period', { scope: 'team', scope_id: randomUUID(), limit_usd: 1 }, 'period'],
      ['a limit that is not a number', { scope: 'team', scope_id: randomUUID(), period: 'daily', limit_usd: '5' }, 'limit_usd'],
    ])('create with %s: 400 naming the field', async (_what, body, param) => {
      await expect400('POST', '/admin/budgets', body, param);
    });
  });

  describe('virtual keys with policies', () => {
    let customer: any;
    let team: any;

    beforeAll(async () => {
      customer = await ok(gw, 'POST', '/admin/customers', { name: 'KeyCorp', tokens_per_minute: 9000 });
      team = await ok(gw, 'POST', '/admin/teams', { name: 'platform', customer_id: customer.id, requests_per_minute: 60 });
    });

    const authenticate = (key: string) => gw.app.get(AuthService).authenticate(`Bearer ${key}`);

    it('create with team, expiry, limits, allowed models and inline budgets; the views show them, never the secret', async () => {
      const expiresAt = new Date(Date.now() + 30 * DAY_MS).toISOString();
      const { status, body: created } = await adminJson(gw, 'POST', '/admin/virtual-keys', {
        name: 'policy-key',
        team_id: team.id,
        expires_at: expiresAt,
        requests_per_minute: 10,
        max_concurrency: 2,
        allowed_models: ['openai/gpt-4o-mini'],
        budgets: [{ period: 'daily', limit_usd: 5 }],
      });
      expect(status).toBe(201);
      expect(created).toEqual({
        id: expect.any(String),
        name: 'policy-key',
        key: expect.stringMatching(/^sk-bf-/),
        key_hint: expect.stringMatching(/^sk-bf-…/),
        status: 'active',
        active: true,
        team_id: team.id,
        expires_at: expiresAt,
        ...NO_LIMITS,
        requests_per_minute: 10,
        max_concurrency: 2,
        allowed_models: ['openai/gpt-4o-mini'],
        budgets: [expect.objectContaining({ scope: 'key', scope_id: created.id, period: 'daily', limit_usd: 5 })],
        created_at: expect.any(String),
        rotated_at: null,
        revoked_at: null,
      });
      const { key: secret, ...view } = created;
      expect(await ok(gw, 'GET', `/admin/virtual-keys/${created.id}`)).toEqual(view);
      const [{ key_hash: hash }] = await gw.query<{ key_hash: string }>('SELECT key_hash FROM virtual_keys WHERE id = $1', [created.id]);
      for (const path of ['/admin/virtual-keys', `/admin/virtual-keys/${created.id}`, '/admin/virtual-keys?include_revoked=true']) {
        const text = await (await gw.admin(path)).text();
        expect(text).not.toContain(secret.slice(6));
        expect(text).not.toContain(hash);
        expect(text).not.toMatch(/key_hash/);
      }
      // The principal carries the key's, team's and customer's policies.
      const principal = await authenticate(secret);
      expect(principal).toMatchObject({ kind: 'virtual_key', keyId: created.id, teamId: team.id, customerId: customer.id });
      if (principal.kind !== 'virtual_key') throw new Error('not a key');
      expect(principal.scopes.map((s) => [s.scope, s.id])).toEqual([['key', created.id], ['team', team.id], ['customer', customer.id]]);
      expect(principal.scopes[0].limits).toMatchObject({ requestsPerMinute: 10, maxConcurrency: 2, allowedModels: ['openai/gpt-4o-mini'] });
    });

    it('PATCH active=false refuses the key at once (403 key_inactive); active=true lets it back in', async () => {
      const { id, key } = await gw.createKey('switch');
      expect((await postChat(gw, key, chatBody())).status).toBe(200); // now cached
      const off = await ok(gw, 'PATCH', `/admin/virtual-keys/${id}`, { active: false });
      expect(off).toMatchObject({ id, active: false, status: 'inactive' });
      const refused = await postChat(gw, key, chatBody());
      expect(refused.status).toBe(403);
      expect(expectOpenAIError(await refused.json()).code).toBe('key_inactive');
      expect(await ok(gw, 'PATCH', `/admin/virtual-keys/${id}`, { active: true })).toMatchObject({ active: true, status: 'active' });
      expect((await postChat(gw, key, chatBody())).status).toBe(200);
    });

    it('PATCH expires_at: a past instant expires it (403 key_expired), null removes the expiry', async () => {
      const { id, key } = await gw.createKey('expiring');
      expect((await postChat(gw, key, chatBody())).status).toBe(200);
      const past = new Date(Date.now() - 1000).toISOString();
      expect(await ok(gw, 'PATCH', `/admin/virtual-keys/${id}`, { expires_at: past })).toMatchObject({ expires_at: past, status: 'expired', active: true });
      const refused = await postChat(gw, key, chatBody());
      expect(refused.status).toBe(403);
      expect(expectOpenAIError(await refused.json()).code).toBe('key_expired');
      expect(await ok(gw, 'PATCH', `/admin/virtual-keys/${id}`, { expires_at: null })).toMatchObject({ expires_at: null, status: 'active' });
      expect((await postChat(gw, key, chatBody())).status).toBe(200);
    });

    it('PATCH limits, allowed models, team and budgets; cached keys see team and customer changes at once', async () => {
      const created = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'movable', requests_per_day: 100, budgets: [{ period: 'hourly', limit_usd: 1 }] });
      await authenticate(created.key); // cached, with no team
      const patched = await ok(gw, 'PATCH', `/admin/virtual-keys/${created.id}`, {
        name: 'moved',
        team_id: team.id,
        requests_per_day: null,
        tokens_per_day: 1_000_000,
        allowed_models: ['openai/*', 'groq/llama-3.3-70b-versatile'],
        budgets: [{ period: 'hourly', limit_usd: 2 }, { period: 'monthly', limit_usd: 40 }],
      });
      expect(patched).toMatchObject({ name: 'moved', team_id: team.id, requests_per_day: null, tokens_per_day: 1_000_000, allowed_models: ['openai/*', 'groq/llama-3.3-70b-versatile'] });
      expect(patched.budgets.find((b: any) => b.period === 'hourly')).toMatchObject({ id: created.budgets[0].id, limit_usd: 2 });
      expect(patched.budgets.map((b: any) => b.period).sort()).toEqual(['hourly', 'monthly']);
      let principal = await authenticate(created.key);
      expect(principal).toMatchObject({ teamId: team.id, customerId: customer.id });

      // A change to the team (or customer) reaches keys already in the cache.
      await ok(gw, 'PATCH', `/admin/teams/${team.id}`, { requests_per_minute: 61 });
      await ok(gw, 'PATCH', `/admin/customers/${customer.id}`, { tokens_per_minute: 9001 });
      principal = await authenticate(created.key);
      if (principal.kind !== 'virtual_key') throw new Error('not a key');
      expect(principal.scopes[1].limits.requestsPerMinute).toBe(61);
      expect(principal.scopes[2].limits.tokensPerMinute).toBe(9001);

      // Out of the team again.
      expect(await ok(gw, 'PATCH', `/admin/virtual-keys/${created.id}`, { team_id: null })).toMatchObject({ team_id: null });
      expect(await authenticate(created.key)).toMatchObject({ teamId: null, customerId: null });
    });

    it('rotate: a new secret for the same key; the old one stops working at once; the history stays with the key', async () => {
      const created = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'rotating', budgets: [{ period: 'daily', limit_usd: 3 }] });
      const before = await postChat(gw, created.key, chatBody());
      expect(before.status).toBe(200);
      const firstRequest = before.headers.get('x-request-id');

      const { status, body: rotated } = await adminJson(gw, 'POST', `/admin/virtual-keys/${created.id}/rotate`);
      expect(status).toBe(200);
      expect(rotated).toMatchObject({ id: created.id, name: 'rotating', status: 'active', key: expect.stringMatching(/^sk-bf-[A-Za-z0-9]{40}$/), budgets: created.budgets, created_at: created.created_at });
      expect(rotated.key).not.toBe(created.key);
      expect(rotated.key_hint).toBe(`sk-bf-…${rotated.key.slice(-4)}`);
      expect(Date.parse(rotated.rotated_at)).toBeGreaterThan(Date.parse(created.created_at) - 1);
      const { key: _secret, ...view } = rotated;
      expect(await ok(gw, 'GET', `/admin/virtual-keys/${created.id}`)).toEqual(view);

      const old = await postChat(gw, created.key, chatBody());
      expect(old.status).toBe(401);
      expect(expectOpenAIError(await old.json()).code).toBe('invalid_api_key');
      const after = await postChat(gw, rotated.key, chatBody());
      expect(after.status).toBe(200);
      const rows = await gw.waitForUsage(2, 'request_id = ANY($1)', [[firstRequest, after.headers.get('x-request-id')]]);
      expect(rows.map((r) => r.key_id)).toEqual([created.id, created.id]);
    });

    it('a revoked key cannot be changed or rotated (409 key_revoked); unknown keys 404', async () => {
      const { id } = await gw.createKey('done');
      await ok(gw, 'POST', `/admin/virtual-keys/${id}/revoke`);
      for (const [method, path, body] of [['PATCH', `/admin/virtual-keys/${id}`, { active: true }], ['POST', `/admin/virtual-keys/${id}/rotate`, undefined]] as const) {
        const res = await adminJson(gw, method, path, body);
        expect(res.status).toBe(409);
        expect(expectOpenAIError(res.body).code).toBe('key_revoked');
      }
      expect((await ok(gw, 'GET', `/admin/virtual-keys/${id}`)).status).toBe('revoked');
      for (const [method, path, body] of [['PATCH', `/admin/virtual-keys/${randomUUID()}`, { name: 'x' }], ['POST', `/admin/virtual-keys/${randomUUID()}/rotate`, undefined]] as const) {
        const res = await adminJson(gw, method, path, body);
        expect(res.status).toBe(404);
        expect(expectOpenAIError(res.body).code).toBe('key_not_found');
      }
    });

    it.each([
      ['an expiry in the past', { name: 'x', expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      ['an expiry that is not a date', { name: 'x', expires_at: 'tomorrow' }, 'expires_at'],
      ['an unknown team', { name: 'x', team_id: randomUUID() }, 'team_id'],
      ['active that is not a boolean', { name: 'x', active: 'yes' }, 'active'],
      ['a budget period twice', { name: 'x', budgets: [{ period: 'weekly', limit_usd: 1 }, { period: 'weekly', limit_usd: 1 }] }, 'budgets[1].period'],
    ])('create with %s: 400 naming the field, and no key made', async (_what, body, param) => {
      const [{ count: before }] = await gw.query<{ count: string }>('SELECT count(*) FROM virtual_keys');
      await expect400('POST', '/admin/virtual-keys', body, param);
      const [{ count: after }] = await gw.query<{ count: string }>('SELECT count(*) FROM virtual_keys');
      expect(Number(after)).toBe(Number(before));
    });

    it('PATCH with active null or a name null: 400', async () => {
      const { id } = await gw.createKey('strict');
      await expect400('PATCH', `/admin/virtual-keys/${id}`, { active: null }, 'active');
      await expect400('PATCH', `/admin/virtual-keys/${id}`, { name: null }, 'name');
      await expect400('PATCH', `/admin/virtual-keys/${id}`, { max_concurrency: 0 }, 'max_concurrency');
    });
  });

  describe('budget status of a key: its own, its team\'s and its customer\'s budgets', () => {
    it('each with its current window, limit, spent, reserved and remaining', async () => {
      const customer = await ok(gw, 'POST', '/admin/customers', { name: 'Status Inc', budgets: [{ period: 'lifetime', limit_usd: 1000 }] });
      const team = await ok(gw, 'POST', '/admin/teams', { name: 'status-team', customer_id: customer.id, budgets: [{ period: 'monthly', limit_usd: 100 }] });
      const otherTeam = await ok(gw, 'POST', '/admin/teams', { name: 'unrelated', budgets: [{ period: 'monthly', limit_usd: 1 }] });
      const key = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'status-key', team_id: team.id, budgets: [{ period: 'daily', limit_usd: 5 }, { period: 'weekly', limit_usd: 2 }] });
      const [keyDaily, keyWeekly] = ['daily', 'weekly'].map((p) => key.budgets.find((b: any) => b.period === p));
      const teamMonthly = team.budgets[0];
      const customerLifetime = customer.budgets[0];

      // What the enforcement path writes: spent and reserved per budget window.
      const now = new Date();
      const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const weekStart = new Date(dayStart.getTime() - ((now.getUTCDay() + 6) % 7) * DAY_MS);
      const insert = (budgetId: string, start: Date, spent: number, reserved = 0) =>
        gw.query('INSERT INTO budget_windows (budget_id, window_start, spent_usd, reserved_usd) VALUES ($1, $2, $3, $4)', [budgetId, start.toISOString(), spent, reserved]);
      await insert(keyDaily.id, dayStart, 1.5, 0.25);
      await insert(keyDaily.id, new Date(dayStart.getTime() - DAY_MS), 4.99); // yesterday: not the current window
      await insert(keyWeekly.id, weekStart, 1.9, 0.2); // over: remaining 0
      await insert(teamMonthly.id, monthStart, 12);
      await insert(customerLifetime.id, new Date(0), 10.5);
      await insert(otherTeam.budgets[0].id, monthStart, 0.5);

      const res = await ok(gw, 'GET', `/admin/virtual-keys/${key.id}/budgets`);
      expect(res).toEqual({ object: 'list', key_id: key.id, data: expect.any(Array) });
      const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
      expect(res.data).toEqual([
        { budget_id: keyDaily.id, scope: 'key', scope_id: key.id, period: 'daily', limit_usd: 5, window_start: dayStart.toISOString(), window_end: new Date(dayStart.getTime() + DAY_MS).toISOString(), spent_usd: 1.5, reserved_usd: 0.25, remaining_usd: 3.25, exhausted: false },
        { budget_id: keyWeekly.id, scope: 'key', scope_id: key.id, period: 'weekly', limit_usd: 2, window_start: weekStart.toISOString(), window_end: new Date(weekStart.getTime() + 7 * DAY_MS).toISOString(), spent_usd: 1.9, reserved_usd: 0.2, remaining_usd: 0, exhausted: true },
        { budget_id: teamMonthly.id, scope: 'team', scope_id: team.id, period: 'monthly', limit_usd: 100, window_start: monthStart.toISOString(), window_end: nextMonth.toISOString(), spent_usd: 12, reserved_usd: 0, remaining_usd: 88, exhausted: false },
        { budget_id: customerLifetime.id, scope: 'customer', scope_id: customer.id, period: 'lifetime', limit_usd: 1000, window_start: null, window_end: null, spent_usd: 10.5, reserved_usd: 0, remaining_usd: 989.5, exhausted: false },
      ]);
      // The same through the reports API.
      expect(await ok(gw, 'GET', `/admin/reports/budgets?key_id=${key.id}`)).toEqual(res);

      // A budget with no window yet has spent nothing; a key with no team shows only its own.
      const lone = await ok(gw, 'POST', '/admin/virtual-keys', { name: 'lone', budgets: [{ period: 'hourly', limit_usd: 0.1 }] });
      const loneStatus = (await ok(gw, 'GET', `/admin/reports/budgets?key_id=${lone.id}`)).data;
      expect(loneStatus).toEqual([expect.objectContaining({ scope: 'key', period: 'hourly', limit_usd: 0.1, spent_usd: 0, reserved_usd: 0, remaining_usd: 0.1, exhausted: false })]);
      expect(Date.parse(loneStatus[0].window_end) - Date.parse(loneStatus[0].window_start)).toBe(3_600_000);

      const missing = await adminJson(gw, 'GET', `/admin/reports/budgets?key_id=${randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(expectOpenAIError(missing.body).code).toBe('key_not_found');
      await expect400('GET', '/admin/reports/budgets', undefined, 'key_id');
    });
  });
});
