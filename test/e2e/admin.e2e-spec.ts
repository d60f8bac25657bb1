import { randomUUID } from 'node:crypto';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * The admin API: only the admin key opens it, and the virtual key lifecycle (create,
 * list, get, revoke) never shows a secret after creation.
 */
interface KeyView {
  id: string;
  name: string;
  key_hint: string;
  status: 'active' | 'revoked';
  created_at: string;
  revoked_at: string | null;
}

describe('admin API', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let virtualKey: { id: string; key: string };

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base });
    virtualKey = await gw.createKey('not-an-admin');
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  const call = (method: string, path: string, authorization?: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  describe('who may call it', () => {
    // Every row has all three values: jest hands a test function with more parameters than its row a `done` callback.
    const routes: Array<[string, string, unknown]> = [
      ['POST', '/admin/virtual-keys', { name: 'x' }],
      ['GET', '/admin/virtual-keys', undefined],
      ['GET', `/admin/virtual-keys/${randomUUID()}`, undefined],
      ['POST', `/admin/virtual-keys/${randomUUID()}/revoke`, undefined],
      ['GET', '/admin/usage', undefined],
    ];

    it.each(routes)('%s %s without a key: 401', async (method, path, body) => {
      const res = await call(method, path, undefined, body);
      expect(res.status).toBe(401);
      expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
    });

    it.each(routes)('%s %s with an unknown key: 401', async (method, path, body) => {
      const res = await call(method, path, 'Bearer sk-th-admin-guess-0000000000000000', body);
      expect(res.status).toBe(401);
      expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    });

    it.each(routes)('%s %s with a virtual key: 403', async (method, path, body) => {
      const res = await call(method, path, `Bearer ${virtualKey.key}`, body);
      expect(res.status).toBe(403);
      expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'permission_error', code: 'admin_key_required' });
    });

    it('a virtual key is refused before anything happens: no key is created by it', async () => {
      const before = await gw.query<{ count: string }>('SELECT count(*) FROM virtual_keys');
      const res = await call('POST', '/admin/virtual-keys', `Bearer ${virtualKey.key}`, { name: 'sneaky' });
      expect(res.status).toBe(403);
      const after = await gw.query<{ count: string }>('SELECT count(*) FROM virtual_keys');
      expect(after[0].count).toBe(before[0].count);
    });

    it('the admin key opens every route', async () => {
      expect((await call('GET', '/admin/virtual-keys', `Bearer ${ADMIN_KEY}`)).status).toBe(200);
      expect((await call('GET', '/admin/usage', `Bearer ${ADMIN_KEY}`)).status).toBe(200);
      const created = await call('POST', '/admin/virtual-keys', `Bearer ${ADMIN_KEY}`, { name: 'by-admin' });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as KeyView;
      expect((await call('GET', `/admin/virtual-keys/${id}`, `Bearer ${ADMIN_KEY}`)).status).toBe(200);
      expect((await call('POST', `/admin/virtual-keys/${id}/revoke`, `Bearer ${ADMIN_KEY}`)).status).toBe(200);
    });
  });

  describe('virtual keys', () => {
    it('creation answers 201 with the secret, once; list and get never show it', async () => {
      const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name: 'search-team-prod' }) });
      expect(res.status).toBe(201);
      const created = (await res.json()) as KeyView & { key: string };
      expect(created).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'search-team-prod',
        key: expect.stringMatching(/^sk-bf-[A-Za-z0-9]{32,}$/),
        key_hint: `sk-bf-…${created.key.slice(-4)}`,
        status: 'active',
        active: true,
        team_id: null,
        expires_at: null,
        requests_per_minute: null,
        requests_per_day: null,
        tokens_per_minute: null,
        tokens_per_day: null,
        max_concurrency: null,
        allowed_models: null,
        budgets: [],
        created_at: expect.any(String),
        rotated_at: null,
        revoked_at: null,
      });
      expect(Number.isNaN(Date.parse(created.created_at))).toBe(false);
      const secret = created.key.slice('sk-bf-'.length);

      const list = await gw.admin('/admin/virtual-keys');
      expect(list.status).toBe(200);
      const listText = await list.text();
      expect(listText).not.toContain(secret);
      const listed = JSON.parse(listText) as { object: string; data: KeyView[] };
      expect(listed.object).toBe('list');
      const entry = listed.data.find((k) => k.id === created.id)!;
      const { key: _secret, ...view } = created;
      expect(entry).toEqual(view);
      for (const k of listed.data) expect(k).not.toHaveProperty('key');

      const one = await gw.admin(`/admin/virtual-keys/${created.id}`);
      expect(one.status).toBe(200);
      const oneText = await one.text();
      expect(oneText).not.toContain(secret);
      expect(JSON.parse(oneText)).toEqual(view);

      // And the secret works.
      const chat = await postChat(gw, created.key, chatBody());
      expect(chat.status).toBe(200);
    });

    it('revocation: status and time set, the key stops working, revoking again keeps the first time', async () => {
      const { id, key } = await gw.createKey('short-lived');
      const revoked = await gw.admin(`/admin/virtual-keys/${id}/revoke`, { method: 'POST' });
      expect(revoked.status).toBe(200);
      const view = (await revoked.json()) as KeyView;
      expect(view).toMatchObject({ id, status: 'revoked', revoked_at: expect.any(String) });
      expect(view).not.toHaveProperty('key');

      const chat = await postChat(gw, key, chatBody());
      expect(chat.status).toBe(403);
      expect(expectOpenAIError(await chat.json()).code).toBe('key_revoked');

      const again = (await (await gw.admin(`/admin/virtual-keys/${id}/revoke`, { method: 'POST' })).json()) as KeyView;
      expect(again.revoked_at).toBe(view.revoked_at);
      expect((await (await gw.admin(`/admin/virtual-keys/${id}`)).json()) as KeyView).toMatchObject({ status: 'revoked', revoked_at: view.revoked_at });
    });

    it('the list hides revoked keys unless include_revoked=true, newest first', async () => {
      const active = await gw.createKey('listed-active');
      const gone = await gw.createKey('listed-revoked');
      await gw.admin(`/admin/virtual-keys/${gone.id}/revoke`, { method: 'POST' });

      const activeOnly = ((await (await gw.admin('/admin/virtual-keys')).json()) as { data: KeyView[] }).data;
      expect(activeOnly.map((k) => k.id)).toContain(active.id);
      expect(activeOnly.map((k) => k.id)).not.toContain(gone.id);
      expect(activeOnly.every((k) => k.status === 'active')).toBe(true);

      const everything = ((await (await gw.admin('/admin/virtual-keys?include_revoked=true')).json()) as { data: KeyView[] }).data;
      expect(everything.map((k) => k.id)).toEqual(expect.arrayContaining([active.id, gone.id]));
      const times = everything.map((k) => Date.parse(k.created_at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const [{ count }] = await gw.query<{ count: string }>('SELECT count(*) FROM virtual_keys');
      expect(everything).toHaveLength(Number(count));
    });

    it('refuses an include_revoked that is not true or false', async () => {
      const res = await gw.admin('/admin/virtual-keys?include_revoked=maybe');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe('include_revoked');
    });

    it.each([
      ['no name', {}, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a name that is not a string', { name: 42 }, 'name'],
      ['a name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ])('creation with %s: 400 naming the field', async (_what, body, param) => {
      const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'invalid_request_error', param });
    });

    it('creation with a body that is not JSON: 400', async () => {
      const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: '{"name":' });
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).type).toBe('invalid_request_error');
    });

    it('an unknown id: 404 on get and on revoke', async () => {
      const id = randomUUID();
      for (const res of [await gw.admin(`/admin/virtual-keys/${id}`), await gw.admin(`/admin/virtual-keys/${id}/revoke`, { method: 'POST' })]) {
        expect(res.status).toBe(404);
        expect(expectOpenAIError(await res.json())).toMatchObject({ code: 'key_not_found' });
      }
    });

    it('an id that is not a uuid: 400', async () => {
      for (const res of [await gw.admin('/admin/virtual-keys/nope'), await gw.admin('/admin/virtual-keys/nope/revoke', { method: 'POST' })]) {
        expect(res.status).toBe(400);
        expect(expectOpenAIError(await res.json()).type).toBe('invalid_request_error');
      }
    });
  });

  it('an unknown admin route is an OpenAI-shaped 404', async () => {
    const res = await gw.admin('/admin/nothing-here');
    expect(res.status).toBe(404);
    expectOpenAIError(await res.json());
  });
});
