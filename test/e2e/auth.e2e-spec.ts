import { createHash } from 'node:crypto';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Bearer authentication on the chat endpoint: who gets a 401 and how it looks, what a
 * virtual key is and how it is stored, and that a known key is served from memory
 * (no database round trip) for AUTH_CACHE_TTL_MS.
 */
const AUTH_CACHE_TTL_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('auth (chat endpoint)', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, AUTH_CACHE_TTL_MS: String(AUTH_CACHE_TTL_MS) });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  const chat = (headers: Record<string, string>) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(chatBody()) });

  async function expectRevoked(res: Response): Promise<void> {
    expect(res.status).toBe(403);
    expect(expectOpenAIError(await res.json())).toMatchObject({ type: 'permission_error', code: 'key_revoked', param: null });
  }

  async function expect401(res: Response, code: string): Promise<void> {
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const error = expectOpenAIError(await res.json());
    expect(error).toMatchObject({ type: 'authentication_error', code, param: null });
  }

  describe('refused (401, or 403 once revoked), OpenAI-shaped, and the upstream is never called', () => {
    let upstreamCallsBefore: number;
    beforeAll(() => {
      upstreamCallsBefore = fake.requests.length;
    });
    afterAll(() => {
      expect(fake.requests.length).toBe(upstreamCallsBefore);
    });

    it('without an Authorization header', async () => {
      await expect401(await chat({}), 'missing_api_key');
    });

    it('with an unknown key', async () => {
      await expect401(await chat({ authorization: `Bearer sk-bf-${'x'.repeat(40)}` }), 'invalid_api_key');
    });

    it.each([
      ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz'],
      ['Bearer without a token', 'Bearer'],
      ['Bearer with an empty token', 'Bearer   '],
      ['a bare key without the scheme', `sk-bf-${'y'.repeat(40)}`],
      ['a token containing spaces', 'Bearer sk-bf-abc def'],
    ])('with a malformed header: %s', async (_what, header) => {
      await expect401(await chat({ authorization: header }), 'missing_api_key');
    });

    it('with a revoked key, from the moment it is revoked', async () => {
      const { id, key } = await gw.createKey('to-revoke');
      const before = await postChat(gw, key, chatBody());
      expect(before.status).toBe(200);
      await before.arrayBuffer();

      const revoke = await gw.admin(`/admin/virtual-keys/${id}/revoke`, { method: 'POST' });
      expect(revoke.status).toBe(200);
      expect(await revoke.json()).toMatchObject({ id, status: 'revoked', revoked_at: expect.any(String) });
      // Well inside AUTH_CACHE_TTL_MS: revocation through this process drops the cached entry at once.
      upstreamCallsBefore = fake.requests.length;
      await expectRevoked(await postChat(gw, key, chatBody()));
    });
  });

  it('accepts a valid key as "Bearer <key>", the scheme in any case', async () => {
    const { key } = await gw.createKey('casing');
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const res = await chat({ authorization: `${scheme} ${key}` });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
    }
  });

  describe('virtual keys', () => {
    it('look like sk-bf- followed by at least 32 characters, all different', async () => {
      const keys = await Promise.all([1, 2, 3].map((i) => gw.createKey(`shape-${i}`)));
      for (const { key } of keys) expect(key).toMatch(/^sk-bf-[A-Za-z0-9]{32,}$/);
      expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    });

    it('are stored as a SHA-256 hash only: no column of any stored key holds the secret', async () => {
      const created = await Promise.all([1, 2].map((i) => gw.createKey(`hashed-${i}`)));
      const rows = await gw.query<Record<string, unknown>>('SELECT * FROM virtual_keys');
      for (const { id, key } of created) {
        const row = rows.find((r) => r.id === id)!;
        expect(row).toBeDefined();
        expect(String(row.key_hash)).toBe(sha256(key));
        const secretPart = key.slice('sk-bf-'.length);
        for (const stored of rows) {
          for (const value of Object.values(stored)) {
            const text = value instanceof Date ? value.toISOString() : String(value);
            expect(text).not.toContain(key);
            expect(text).not.toContain(secretPart);
            // The hint keeps the last 4 characters only.
            expect(text).not.toContain(secretPart.slice(-8));
          }
        }
      }
      // And nowhere else in the database either (settings, usage records).
      const dump = JSON.stringify(await gw.query('SELECT * FROM settings')) + JSON.stringify(await gw.query('SELECT * FROM usage_records'));
      for (const { key } of created) expect(dump).not.toContain(key.slice('sk-bf-'.length));
    });
  });

  describe('known keys are served from memory, not from the database', () => {
    it('a key revoked behind the gateway\'s back (in SQL) keeps working until the cache TTL passes, then fails', async () => {
      const { id, key } = await gw.createKey('cached');
      // The first request looks the key up in the database and caches it.
      const first = await postChat(gw, key, chatBody());
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      const cachedAt = Date.now();

      await gw.query('UPDATE virtual_keys SET revoked_at = now() WHERE id = $1', [id]);
      const [row] = await gw.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM virtual_keys WHERE id = $1', [id]);
      expect(row.revoked_at).not.toBeNull();

      // The database says revoked, but the hot path does not ask it: still 200 within the TTL.
      const served = await Promise.all([1, 2, 3].map(() => postChat(gw, key, chatBody())));
      expect(Date.now() - cachedAt).toBeLessThan(AUTH_CACHE_TTL_MS);
      for (const res of served) {
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }

      // Once the TTL has passed the key is read again, and the revocation is seen.
      await sleep(Math.max(0, cachedAt + AUTH_CACHE_TTL_MS + 200 - Date.now()));
      await expectRevoked(await postChat(gw, key, chatBody()));
    });

    it('a key deleted behind the gateway\'s back stops working after the TTL as well', async () => {
      const { id, key } = await gw.createKey('deleted');
      const first = await postChat(gw, key, chatBody());
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      const cachedAt = Date.now();
      await gw.query('DELETE FROM virtual_keys WHERE id = $1', [id]);
      const still = await postChat(gw, key, chatBody());
      expect(Date.now() - cachedAt).toBeLessThan(AUTH_CACHE_TTL_MS);
      expect(still.status).toBe(200);
      await still.arrayBuffer();
      await sleep(Math.max(0, cachedAt + AUTH_CACHE_TTL_MS + 200 - Date.now()));
      await expect401(await postChat(gw, key, chatBody()), 'invalid_api_key');
    });
  });

  it('the admin key is accepted on the chat endpoint and recorded as the admin principal', async () => {
    const res = await postChat(gw, ADMIN_KEY, chatBody({ user: 'admin-caller' }));
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    await res.arrayBuffer();
    const rows = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ principal: 'admin', key_id: null, status_code: 200 });
  });
});
