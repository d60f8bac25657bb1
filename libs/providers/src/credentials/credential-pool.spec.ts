import { UpstreamError } from '../upstream-error';
import { credentialAllows, CredentialDisabledEvent, CredentialPool, StoredCredential } from './credential-pool';

const stored = (id: string, fields: Partial<StoredCredential> = {}): StoredCredential => ({
  id,
  provider: 'openai',
  name: id,
  apiKey: `sk-${id}`,
  hint: id.slice(-4),
  weight: 1,
  allowedModels: null,
  enabled: true,
  disabledReason: null,
  updatedAt: new Date(1_000),
  ...fields,
});
const http = (status: number, retryAfterMs?: number) => new UpstreamError('http', status, `upstream said ${status}`, { retryAfterMs });

describe('CredentialPool', () => {
  let events: CredentialDisabledEvent[];
  const pool = (env: Array<{ apiKey?: string; weight: number }>, rows: StoredCredential[] = []) => {
    const p = new CredentialPool('openai', env, (e) => events.push(e));
    p.setStored(rows);
    return p;
  };
  beforeEach(() => (events = []));

  it('spreads by weight over environment and stored credentials', () => {
    const p = pool([{ apiKey: 'sk-env', weight: 1 }], [stored('a', { weight: 2 })]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) {
      const c = p.pick('gpt-4o')!;
      counts[c.apiKey] = (counts[c.apiKey] ?? 0) + 1;
    }
    expect(counts['sk-a'] / 3000).toBeGreaterThan(0.6);
    expect(counts['sk-a'] / 3000).toBeLessThan(0.73);
  });

  it('calls a keyless server without a key until a stored credential exists', () => {
    expect(pool([{ weight: 1 }]).pick('m')).toBeNull();
    expect(pool([{ weight: 1 }], [stored('a')]).pick('m')!.apiKey).toBe('sk-a');
  });

  it('honours allowed models (names and patterns, bare or provider-qualified)', () => {
    expect(credentialAllows(['gpt-4o-mini*'], 'openai', 'gpt-4o-mini-2024-07-18')).toBe(true);
    expect(credentialAllows(['openai/gpt-4o'], 'openai', 'gpt-4o')).toBe(true);
    expect(credentialAllows(['gpt-4o'], 'openai', 'gpt-4o-mini')).toBe(false);
    expect(credentialAllows(['a.b'], 'openai', 'aXb')).toBe(false);
    const p = pool([], [stored('mini', { allowedModels: ['gpt-4o-mini*'] }), stored('big', { allowedModels: ['gpt-4o'] })]);
    for (let i = 0; i < 20; i++) expect(p.pick('gpt-4o-mini')!.id).toBe('mini');
    expect(() => p.pick('o3')).toThrow(expect.objectContaining({ status: 403, code: 'no_credential_for_model', fallbackable: true, retryable: false }));
  });

  it('takes a refused credential out, asks for a retry while another can serve, and says when none can', () => {
    const p = pool([], [stored('a'), stored('b')]);
    const a = p.find('a')!;
    const err = p.report(a, http(401), 'gpt-4o');
    expect(err.retryable).toBe(true);
    expect(events).toEqual([expect.objectContaining({ id: 'a', source: 'database', status: 401, reason: expect.stringContaining('401') })]);
    for (let i = 0; i < 20; i++) expect(p.pick('gpt-4o')!.id).toBe('b');
    const last = p.report(p.find('b')!, http(403), 'gpt-4o');
    expect(last.retryable).toBe(false);
    expect(() => p.pick('gpt-4o')).toThrow(expect.objectContaining({ status: 503, code: 'provider_credentials_disabled', fallbackable: true, retryable: false }));
    p.enable('a');
    expect(p.pick('gpt-4o')!.id).toBe('a');
  });

  it('does not let a refresh revive a refused credential before its disable is stored', () => {
    const p = pool([], [stored('a'), stored('b')]);
    p.report(p.find('a')!, http(401), 'm');
    p.setStored([stored('a'), stored('b')]);
    expect(p.find('a')!.enabled).toBe(false);
    // The row changed after the disable was stored (re-enabled elsewhere): trusted.
    p.find('a')!.localDisable = { until: 1_000 };
    p.setStored([stored('a', { updatedAt: new Date(2_000) }), stored('b')]);
    expect(p.find('a')!.enabled).toBe(true);
  });

  it('cools a rate-limited credential down for its Retry-After', () => {
    const p = pool([{ apiKey: 'sk-1', weight: 1 }, { apiKey: 'sk-2', weight: 1 }]);
    const one = p.find('env:openai:1')!;
    const err = p.report(one, http(429, 5_000), 'm');
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeUndefined();
    for (let i = 0; i < 20; i++) expect(p.pick('m')!.apiKey).toBe('sk-2');
    const both = p.report(p.find('env:openai:2')!, http(429, 3_000), 'm');
    expect(both.retryAfterMs).toBe(3_000);
    try {
      p.pick('m');
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toMatchObject({ status: 503, code: 'provider_credentials_cooling_down', fallbackable: true, retryable: true });
      expect((e as UpstreamError).retryAfterMs).toBeGreaterThan(2_000);
      expect((e as UpstreamError).retryAfterMs).toBeLessThanOrEqual(3_000);
    }
    expect(p.states().map((s) => s.coolingUntil !== null)).toEqual([true, true]);
  });

  it('passes a 429 without Retry-After and other failures through untouched', () => {
    const p = pool([{ apiKey: 'sk-1', weight: 1 }]);
    const e429 = http(429);
    expect(p.report(p.find('env:openai:1')!, e429, 'm')).toBe(e429);
    const e500 = http(500);
    expect(p.report(p.find('env:openai:1')!, e500, 'm')).toBe(e500);
    expect(p.pick('m')!.apiKey).toBe('sk-1');
    expect(events).toEqual([]);
  });
});
