import { randomBytes } from 'node:crypto';
import { createLogger, SecretBox } from '@tokenhub/common';
import { CredentialSyncService } from '../../apps/gateway/src/provider-credentials/credential-sync.service';
import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Provider credentials: stored encrypted through the admin API next to the environment's,
 * spread by weight, limited by allowed models, taken out of rotation when the provider
 * refuses them (401/403) until re-enabled, cooled down on a 429's Retry-After. The fake
 * upstream records the bearer it gets, so each test sees which key served each request.
 */
const KEY = randomBytes(32);
const ENV_OPENAI_KEY = `sk-env-openai-${randomBytes(8).toString('hex')}`;
const ENV_ROT_KEY = `sk-env-envrot-${randomBytes(8).toString('hex')}`;
const newSecret = (name: string) => `sk-${name}-${randomBytes(12).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something (not null/undefined), for up to 3 s. */
async function eventually<T>(probe: () => Promise<T | null | undefined>): Promise<T | null | undefined> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const value = await probe();
    if ((value !== null && value !== undefined) || Date.now() > deadline) return value;
    await sleep(25);
  }
}

interface View {
  id: string;
  object: string;
  source: 'database' | 'env';
  provider: string;
  name: string;
  secret_hint: string;
  weight: number;
  allowed_models: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  status: string;
  cooling_until: string | null;
}

describe('provider credentials', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let key: string;
  let logs = '';
  /** Every secret this file hands the gateway: none may come back out. */
  const secrets = [ENV_OPENAI_KEY, ENV_ROT_KEY];
  /** Every admin API answer, to check for secrets at the end. */
  const answers: string[] = [];
  const refreshMs = CredentialSyncService.REFRESH_MS;

  beforeAll(async () => {
    CredentialSyncService.REFRESH_MS = 300;
    fake = new FakeOpenAI();
    const base = await fake.start();
    const logger = createLogger('debug', { write: (line: string) => void (logs += line) });
    gw = await startGateway(
      {
        LOG_LEVEL: 'debug',
        OPENAI_API_KEY: ENV_OPENAI_KEY,
        OPENAI_BASE_URL: base,
        TOKENHUB_CUSTOM_PROVIDERS: 'spread,scoped,rot,cool,dead,envrot',
        SPREAD_BASE_URL: base,
        SCOPED_BASE_URL: base,
        ROT_BASE_URL: base,
        COOL_BASE_URL: base,
        DEAD_BASE_URL: base,
        ENVROT_BASE_URL: base,
        ENVROT_API_KEY: ENV_ROT_KEY,
        TOKENHUB_ENCRYPTION_KEY: KEY.toString('hex'),
        TOKENHUB_MAX_RETRIES: '1',
        TOKENHUB_RETRY_MAX_AFTER_MS: '500',
      },
      { logger },
    );
    ({ key } = await gw.createKey('credentials-spec'));
  });
  afterAll(async () => {
    CredentialSyncService.REFRESH_MS = refreshMs;
    await gw?.close();
    await fake?.stop();
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await gw.admin(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  async function create(provider: string, name: string, fields: Record<string, unknown> = {}): Promise<{ view: View; secret: string }> {
    const secret = newSecret(name);
    secrets.push(secret);
    const { status, json } = await api('POST', '/admin/provider-credentials', { provider, name, api_key: secret, ...fields });
    expect({ status, json }).toMatchObject({ status: 201 });
    return { view: json as View, secret };
  }

  /** Sends `n` chat requests (25 at a time) and counts which upstream key served them. */
  async function keysUsed(n: number, model: string): Promise<Record<string, number>> {
    const before = fake.requests.length;
    for (let sent = 0; sent < n; sent += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, n - sent) }, () => postChat(gw, key, chatBody({ model }))));
      for (const res of batch) {
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    }
    const counts: Record<string, number> = {};
    for (const r of fake.requests.slice(before)) {
      const bearer = String(r.headers.authorization).replace(/^Bearer /, '');
      counts[bearer] = (counts[bearer] ?? 0) + 1;
    }
    return counts;
  }

  /** A chat request whose answer is kept for the secrets check at the end. */
  async function chat(body: Record<string, unknown>): Promise<{ res: Response; text: string }> {
    const res = await postChat(gw, key, chatBody(body));
    const text = await res.text();
    answers.push(text);
    return { res, text };
  }

  const callsWith = (secret: string) => fake.requests.filter((r) => r.headers.authorization === `Bearer ${secret}`).length;

  async function auditOf(targetId: string): Promise<Array<{ actor: string; action: string; before: string | null; after: string | null }>> {
    return gw.query(`SELECT actor, action, before::text AS before, after::text AS after FROM admin_audit_log WHERE target_id = $1 ORDER BY id`, [targetId]);
  }

  describe('the admin API', () => {
    let created: View;
    let secret: string;

    it('stores a credential and answers without its secret', async () => {
      ({ view: created, secret } = await create('spread', 'spread-a', { weight: 3 }));
      expect(created).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        object: 'provider_credential',
        source: 'database',
        provider: 'spread',
        name: 'spread-a',
        secret_hint: secret.slice(-4),
        weight: 3,
        allowed_models: null,
        enabled: true,
        disabled_reason: null,
        status: 'active',
        cooling_until: null,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      expect(answers[answers.length - 1]).not.toContain(secret);
    });

    it('keeps it encrypted at rest (AES-256-GCM): no plaintext in the row, and only this key opens it', async () => {
      const [row] = await gw.query<{ secret_ciphertext: Buffer; secret_hint: string; whole: string }>(
        `SELECT secret_ciphertext, secret_hint, row_to_json(p)::text AS whole FROM provider_credentials p WHERE id = $1`,
        [created.id],
      );
      const sealed = Buffer.from(row.secret_ciphertext);
      expect(sealed.includes(Buffer.from(secret))).toBe(false);
      expect(row.whole).not.toContain(secret);
      expect(row.whole).not.toContain(Buffer.from(secret).toString('hex'));
      expect(row.secret_hint).toBe(secret.slice(-4));
      // iv (12) | tag (16) | ciphertext (as long as the plaintext)
      expect(sealed.length).toBe(12 + 16 + Buffer.byteLength(secret));
      expect(new SecretBox(KEY).open(sealed)).toBe(secret);
      expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(/could not be opened/);
    });

    it('lists environment and stored credentials, gets one, never with a secret', async () => {
      const list = await api('GET', '/admin/provider-credentials');
      expect(list.status).toBe(200);
      expect(list.json.object).toBe('list');
      const ids = (list.json.data as View[]).map((c) => c.id);
      expect(ids).toEqual(expect.arrayContaining(['env:openai:1', 'env:envrot:1', created.id]));
      expect((list.json.data as View[]).find((c) => c.id === 'env:openai:1')).toMatchObject({
        source: 'env',
        provider: 'openai',
        secret_hint: ENV_OPENAI_KEY.slice(-4),
        enabled: true,
        status: 'active',
      });
      const one = await api('GET', `/admin/provider-credentials/${created.id}`);
      expect(one).toMatchObject({ status: 200, json: { id: created.id, name: 'spread-a', weight: 3 } });
      const filtered = await api('GET', '/admin/provider-credentials?provider=spread');
      expect((filtered.json.data as View[]).map((c) => c.id)).toEqual([created.id]);
    });

    it('audits the change with the secret left out', async () => {
      const entries = await auditOf(created.id);
      expect(entries).toEqual([expect.objectContaining({ actor: 'admin', action: 'provider_credential.create', before: null })]);
      const after = JSON.parse(entries[0].after!);
      expect(after).toMatchObject({ id: created.id, provider: 'spread', secret_hint: secret.slice(-4), weight: 3 });
      expect(entries[0].after).not.toContain(secret);
    });

    it('refuses what it cannot store or use, OpenAI-shaped', async () => {
      const bad = async (body: unknown, param: string | null, code: string | RegExp) => {
        const res = await api('POST', '/admin/provider-credentials', body);
        expect(res.status).toBe(400);
        const error = expectOpenAIError(res.json);
        expect(error.param).toBe(param);
        expect(error.code ?? '').toMatch(code);
      };
      await bad({ provider: 'nosuch', name: 'x', api_key: 'sk-nosuch-123456789' }, 'provider', 'unknown_provider');
      await bad({ provider: 'spread', name: 'x', api_key: 'sk-123456789', weight: 0 }, 'weight', /.+/);
      await bad({ provider: 'spread', name: 'x' }, 'api_key', /.+/);
      await bad({ provider: 'spread', name: 'x', api_key: 'sk-123456789', allowed_models: 'gpt-4o' }, 'allowed_models', /.+/);
      const rotate = await api('PATCH', `/admin/provider-credentials/${created.id}`, { api_key: 'sk-new-key-123456789' });
      expect(rotate.status).toBe(400);
      expect(expectOpenAIError(rotate.json).message).toMatch(/api_key cannot be changed/);
      expect((await api('GET', '/admin/provider-credentials/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      expect((await api('GET', '/admin/provider-credentials/not-an-id')).status).toBe(404);
      expect((await api('PATCH', '/admin/provider-credentials/env:nowhere:1', { enabled: true })).status).toBe(404);
    });

    it('opens to the admin key only', async () => {
      const asKey = await fetch(`${gw.url}/admin/provider-credentials`, { headers: { authorization: `Bearer ${key}` } });
      expect(asKey.status).toBe(403);
      const anonymous = await fetch(`${gw.url}/admin/provider-credentials`);
      expect(anonymous.status).toBe(401);
      const asAdmin = await fetch(`${gw.url}/admin/provider-credentials`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(asAdmin.status).toBe(200);
      await asAdmin.arrayBuffer();
    });
  });

  describe('routing', () => {
    it('spreads requests by weight: 3:1 over 400 requests', async () => {
      const [a] = await gw.query<{ id: string }>(`SELECT id FROM provider_credentials WHERE name = 'spread-a'`);
      const { secret: b } = await create('spread', 'spread-b', { weight: 1 });
      const aSecret = new SecretBox(KEY).open(
        Buffer.from((await gw.query<{ secret_ciphertext: Buffer }>(`SELECT secret_ciphertext FROM provider_credentials WHERE id = $1`, [a.id]))[0].secret_ciphertext),
      );
      const counts = await keysUsed(400, 'spread/gpt-4o');
      expect(Object.keys(counts).sort()).toEqual([aSecret, b].sort());
      // Binomial(400, 0.75): sd ≈ 2.2 points; ±8 points is beyond 3.5 sd.
      const share = counts[aSecret] / 400;
      expect(share).toBeGreaterThan(0.67);
      expect(share).toBeLessThan(0.83);
    });

    it('mixes environment and stored credentials of one provider; a deleted one stops serving', async () => {
      const { view, secret } = await create('openai', 'openai-stored');
      const mixed = await keysUsed(60, 'openai/gpt-4o');
      expect(mixed[ENV_OPENAI_KEY]).toBeGreaterThan(10);
      expect(mixed[secret]).toBeGreaterThan(10);

      const deleted = await api('DELETE', `/admin/provider-credentials/${view.id}`);
      expect(deleted).toEqual({ status: 200, json: { id: view.id, object: 'provider_credential', deleted: true } });
      expect((await api('GET', `/admin/provider-credentials/${view.id}`)).status).toBe(404);
      expect(await keysUsed(20, 'openai/gpt-4o')).toEqual({ [ENV_OPENAI_KEY]: 20 });
      expect((await auditOf(view.id)).map((e) => e.action)).toEqual(['provider_credential.create', 'provider_credential.delete']);
      expect((await api('DELETE', '/admin/provider-credentials/env:openai:1')).status).toBe(400);
    });

    it("honors each credential's allowed models", async () => {
      const { secret: mini } = await create('scoped', 'scoped-mini', { allowed_models: ['gpt-4o-mini*'] });
      const { view: bigView, secret: big } = await create('scoped', 'scoped-big', { allowed_models: ['scoped/gpt-4o'] });
      expect(await keysUsed(20, 'scoped/gpt-4o-mini')).toEqual({ [mini]: 20 });
      expect(await keysUsed(20, 'scoped/gpt-4o')).toEqual({ [big]: 20 });

      const before = fake.requests.length;
      const refused = await postChat(gw, key, chatBody({ model: 'scoped/other-model' }));
      expect(refused.status).toBe(403);
      expect(expectOpenAIError(await refused.json()).code).toBe('no_credential_for_model');
      expect(fake.requests.length).toBe(before);
      const fellBack = await postChat(gw, key, chatBody({ model: 'scoped/other-model', fallbacks: ['openai/gpt-4o'] }));
      expect(fellBack.status).toBe(200);
      expect(fellBack.headers.get('x-tokenhub-provider')).toBe('openai');
      await fellBack.arrayBuffer();

      const widened = await api('PATCH', `/admin/provider-credentials/${bigView.id}`, { allowed_models: null, name: 'scoped-any' });
      expect(widened).toMatchObject({ status: 200, json: { allowed_models: null, name: 'scoped-any' } });
      expect(await keysUsed(5, 'scoped/other-model')).toEqual({ [big]: 5 });
      const [entry] = (await auditOf(bigView.id)).filter((e) => e.action === 'provider_credential.update');
      expect(JSON.parse(entry.before!)).toMatchObject({ allowed_models: ['scoped/gpt-4o'], name: 'scoped-big' });
      expect(JSON.parse(entry.after!)).toMatchObject({ allowed_models: null, name: 'scoped-any' });
    });

    it('takes a credential the provider refuses (401) out of rotation until it is re-enabled', async () => {
      const { view: one, secret: bad } = await create('rot', 'rot-1');
      const { secret: good } = await create('rot', 'rot-2');
      fake.keyFailures.set(bad, { status: 401 });
      // Until the bad key is drawn: that request still succeeds, retried with the other credential.
      let refusedOnce: Response | null = null;
      for (let i = 0; i < 50 && callsWith(bad) === 0; i++) {
        const res = await postChat(gw, key, chatBody({ model: 'rot/gpt-4o' }));
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        if (callsWith(bad) > 0) refusedOnce = res;
      }
      expect(callsWith(bad)).toBe(1);
      expect(refusedOnce!.headers.get('x-tokenhub-attempts')).toBe('2');

      // Persisted off the request path.
      const stored = await eventually(async () => {
        const rows = await gw.query<{ enabled: boolean; disabled_reason: string }>(`SELECT enabled, disabled_reason FROM provider_credentials WHERE id = $1`, [one.id]);
        return rows[0].enabled ? null : rows;
      });
      expect(stored).toEqual([{ enabled: false, disabled_reason: expect.stringContaining('401') }]);
      expect((await api('GET', `/admin/provider-credentials/${one.id}`)).json).toMatchObject({ enabled: false, status: 'disabled', disabled_reason: expect.stringContaining('401') });
      expect(await keysUsed(30, 'rot/gpt-4o')).toEqual({ [good]: 30 });
      const auto = await eventually(async () => (await auditOf(one.id)).find((e) => e.action === 'provider_credential.auto_disable'));
      expect(auto).toMatchObject({ actor: 'gateway' });

      // The periodic refresh does not bring it back.
      await sleep(700);
      expect(await keysUsed(10, 'rot/gpt-4o')).toEqual({ [good]: 10 });

      fake.keyFailures.delete(bad);
      const enabled = await api('PATCH', `/admin/provider-credentials/${one.id}`, { enabled: true });
      expect(enabled).toMatchObject({ status: 200, json: { enabled: true, status: 'active', disabled_reason: null } });
      expect((await keysUsed(40, 'rot/gpt-4o'))[bad]).toBeGreaterThan(5);
      expect((await auditOf(one.id)).map((e) => e.action)).toEqual(['provider_credential.create', 'provider_credential.auto_disable', 'provider_credential.enable']);
    });

    it('fails over (503, fallbackable) once every credential of a provider is refused', async () => {
      const { view, secret } = await create('dead', 'dead-1');
      fake.keyFailures.set(secret, { status: 403 });
      const first = await chat({ model: 'dead/gpt-4o' });
      expect(first.res.status).toBe(403);
      // The provider's message passes through, with the key it echoed blanked out.
      expect(expectOpenAIError(JSON.parse(first.text)).message).toContain('The fake refuses key [redacted] with 403');
      const before = fake.requests.length;
      const out = await postChat(gw, key, chatBody({ model: 'dead/gpt-4o' }));
      expect(out.status).toBe(503);
      expect(out.headers.get('x-tokenhub-attempts')).toBe('1');
      expect(expectOpenAIError(await out.json())).toMatchObject({ type: 'server_error', code: 'provider_credentials_disabled' });
      expect(fake.requests.length).toBe(before);
      const fellBack = await postChat(gw, key, chatBody({ model: 'dead/gpt-4o', fallbacks: ['openai/gpt-4o-mini'] }));
      expect(fellBack.status).toBe(200);
      expect(fellBack.headers.get('x-tokenhub-provider')).toBe('openai');
      expect(fellBack.headers.get('x-tokenhub-attempts')).toBe('2');
      await fellBack.arrayBuffer();
      fake.keyFailures.delete(secret);
      expect((await api('PATCH', `/admin/provider-credentials/${view.id}`, { enabled: true })).status).toBe(200);
      expect(await keysUsed(3, 'dead/gpt-4o')).toEqual({ [secret]: 3 });
    });

    it('takes a refused environment credential out in memory, and the admin API re-enables it', async () => {
      fake.keyFailures.set(ENV_ROT_KEY, { status: 401 });
      const refused = await chat({ model: 'envrot/gpt-4o' });
      expect(refused.res.status).toBe(401);
      expect((await api('GET', '/admin/provider-credentials/env:envrot:1')).json).toMatchObject({
        source: 'env',
        enabled: false,
        status: 'disabled',
        disabled_reason: expect.stringContaining('401'),
      });
      const out = await postChat(gw, key, chatBody({ model: 'envrot/gpt-4o' }));
      expect(out.status).toBe(503);
      await out.arrayBuffer();

      const weight = await api('PATCH', '/admin/provider-credentials/env:envrot:1', { weight: 2 });
      expect(weight.status).toBe(400);
      expect(expectOpenAIError(weight.json).code).toBe('env_credential_read_only');
      fake.keyFailures.delete(ENV_ROT_KEY);
      expect(await api('PATCH', '/admin/provider-credentials/env:envrot:1', { enabled: true })).toMatchObject({ status: 200, json: { enabled: true, status: 'active' } });
      expect(await keysUsed(3, 'envrot/gpt-4o')).toEqual({ [ENV_ROT_KEY]: 3 });
      await eventually(async () => ((await auditOf('env:envrot:1')).length >= 2 ? true : null));
      expect((await auditOf('env:envrot:1')).map((e) => `${e.actor} ${e.action}`)).toEqual(['gateway provider_credential.auto_disable', 'admin provider_credential.enable']);
    });

    it("cools a rate-limited credential down for its Retry-After, then brings it back", async () => {
      const { view: oneView, secret: one } = await create('cool', 'cool-1');
      const { secret: two } = await create('cool', 'cool-2');
      fake.keyFailures.set(one, { status: 429, retryAfter: '5' });
      let limitedOnce: Response | null = null;
      for (let i = 0; i < 50 && callsWith(one) === 0; i++) {
        const res = await postChat(gw, key, chatBody({ model: 'cool/gpt-4o' }));
        // Retried at once with the other credential, without waiting out the Retry-After.
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        if (callsWith(one) > 0) limitedOnce = res;
      }
      expect(limitedOnce!.headers.get('x-tokenhub-attempts')).toBe('2');
      const cooling = (await api('GET', `/admin/provider-credentials/${oneView.id}`)).json as View;
      expect(cooling).toMatchObject({ enabled: true, status: 'cooling_down' });
      expect(Date.parse(cooling.cooling_until!) - Date.now()).toBeGreaterThan(500);
      expect(await keysUsed(20, 'cool/gpt-4o')).toEqual({ [two]: 20 });

      // Both cooling: the provider is out for now (503 with Retry-After), and fallbacks serve.
      fake.keyFailures.set(two, { status: 429, retryAfter: '5' });
      const limited = await chat({ model: 'cool/gpt-4o' });
      expect(limited.res.status).toBe(429);
      const out = await postChat(gw, key, chatBody({ model: 'cool/gpt-4o' }));
      expect(out.status).toBe(503);
      expect(Number(out.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(expectOpenAIError(await out.json()).code).toBe('provider_credentials_cooling_down');
      const fellBack = await postChat(gw, key, chatBody({ model: 'cool/gpt-4o', fallbacks: ['openai/gpt-4o'] }));
      expect(fellBack.status).toBe(200);
      expect(fellBack.headers.get('x-tokenhub-provider')).toBe('openai');
      await fellBack.arrayBuffer();

      fake.keyFailures.delete(one);
      fake.keyFailures.delete(two);
      for (let i = 0; i < 80; i++) {
        const states = ((await api('GET', '/admin/provider-credentials?provider=cool')).json.data as View[]).map((c) => c.status);
        if (states.every((s) => s === 'active')) break;
        await sleep(100);
      }
      const back = await keysUsed(40, 'cool/gpt-4o');
      expect(back[one]).toBeGreaterThan(5);
      expect(back[two]).toBeGreaterThan(5);
    });

    it('picks up credentials another process stores or changes, within the refresh interval', async () => {
      const secret = newSecret('elsewhere');
      secrets.push(secret);
      const [row] = await gw.query<{ id: string }>(
        `INSERT INTO provider_credentials (provider, name, secret_ciphertext, secret_hint, weight, allowed_models) VALUES ('scoped', 'elsewhere', $1, $2, 1, ARRAY['only-elsewhere']) RETURNING id`,
        [new SecretBox(KEY).seal(secret), secret.slice(-4)],
      );
      // 'scoped-any' (allowed: every model) serves the model too; the new one joins it.
      const deadline = Date.now() + 10_000;
      while (callsWith(secret) === 0 && Date.now() < deadline) {
        await keysUsed(5, 'scoped/only-elsewhere');
        await sleep(50);
      }
      const counts = await keysUsed(40, 'scoped/only-elsewhere');
      expect(counts[secret]).toBeGreaterThan(5);

      await gw.query(`UPDATE provider_credentials SET enabled = false, updated_at = now() WHERE id = $1`, [row.id]);
      // Within the refresh interval (polled, so a loaded machine does not fail it).
      let stillUsed = true;
      for (const until = Date.now() + 10_000; stillUsed && Date.now() < until; ) {
        await sleep(100);
        stillUsed = (await keysUsed(10, 'scoped/only-elsewhere'))[secret] !== undefined;
      }
      expect((await keysUsed(20, 'scoped/only-elsewhere'))[secret]).toBeUndefined();
    });

    it('enables a known provider by a stored credential alone, and forgets it when deleted', async () => {
      const { view } = await create('groq', 'groq-only');
      expect(view).toMatchObject({ provider: 'groq', status: 'active' });
      expect((await api('DELETE', `/admin/provider-credentials/${view.id}`)).status).toBe(200);
      const res = await postChat(gw, key, chatBody({ model: 'groq/llama-3.3-70b-versatile' }));
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).code).toBe('model_not_found');
    });
  });

  it('never shows a secret in an answer, the audit log or the usage records, nor writes one to the (debug) log', async () => {
    const audit = (await gw.query<{ entry: string }>(`SELECT row_to_json(a)::text AS entry FROM admin_audit_log a`)).map((r) => r.entry).join('\n');
    const credentials = (await gw.query<{ entry: string }>(`SELECT row_to_json(p)::text AS entry FROM provider_credentials p`)).map((r) => r.entry).join('\n');
    await gw.waitForUsage(1, `status_code = 429`);
    const usage = (await gw.query<{ entry: string }>(`SELECT row_to_json(u)::text AS entry FROM usage_records u`)).map((r) => r.entry).join('\n');
    expect(usage).toContain('[redacted]');
    const everything = answers.join('\n');
    expect(answers.length).toBeGreaterThan(20);
    expect(logs).toMatch(/refused a credential/);
    expect(logs.split('\n').length).toBeGreaterThan(20);
    for (const secret of secrets) {
      const found = { answers: everything, audit, credentials, usage, logs };
      expect({ secret, in: Object.keys(found).filter((where) => found[where as keyof typeof found].includes(secret)) }).toEqual({ secret, in: [] });
    }
  });
});

describe('provider credentials without TOKENHUB_ENCRYPTION_KEY', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ OPENAI_API_KEY: 'sk-env-openai-no-encryption', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('refuses to store a credential, saying the key must be configured', async () => {
    const res = await gw.admin('/admin/provider-credentials', { method: 'POST', body: JSON.stringify({ provider: 'openai', name: 'x', api_key: 'sk-never-stored-123456' }) });
    expect(res.status).toBe(503);
    const error = expectOpenAIError(await res.json());
    expect(error.code).toBe('encryption_key_not_configured');
    expect(error.message).toMatch(/TOKENHUB_ENCRYPTION_KEY/);
    expect(await gw.query(`SELECT id FROM provider_credentials`)).toEqual([]);
  });

  it('does not use stored credentials it cannot decrypt, and will not change them', async () => {
    const [row] = await gw.query<{ id: string }>(
      `INSERT INTO provider_credentials (provider, name, secret_ciphertext, secret_hint) VALUES ('openai', 'sealed-elsewhere', $1, 'abcd') RETURNING id`,
      [new SecretBox(randomBytes(32)).seal('sk-sealed-elsewhere-abcd')],
    );
    const list = await gw.admin('/admin/provider-credentials');
    expect(list.status).toBe(200);
    const data = ((await list.json()) as { data: View[] }).data;
    expect(data.find((c) => c.id === row.id)).toMatchObject({ status: 'not_loaded', enabled: true });
    expect(data.find((c) => c.id === 'env:openai:1')).toMatchObject({ status: 'active' });
    const patch = await gw.admin(`/admin/provider-credentials/${row.id}`, { method: 'PATCH', body: JSON.stringify({ weight: 2 }) });
    expect(patch.status).toBe(503);
    expect(expectOpenAIError(await patch.json()).code).toBe('encryption_key_not_configured');
  });
});
