import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { UpstreamError } from '../upstream-error';
import { VertexTokenSource } from './vertex-token-source';

const TOKEN_URL = 'https://oauth.test/token';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = { client_email: 'sa@p.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), private_key_id: 'kid-1' };

function fakeFetch(answers: Array<{ status?: number; body: unknown }>) {
  const calls: URLSearchParams[] = [];
  let resolveGate!: () => void;
  const gate = new Promise<void>((r) => (resolveGate = r));
  const fn = jest.fn(async (_url: string, init: RequestInit) => {
    calls.push(new URLSearchParams(String(init.body)));
    await gate;
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200 });
  });
  return { fn, calls, open: resolveGate };
}

describe('VertexTokenSource', () => {
  it('signs an RS256 assertion, exchanges it once for concurrent callers, and caches the token', async () => {
    let now = 1_000_000;
    const f = fakeFetch([{ body: { access_token: 'tok-1', expires_in: 3600 } }, { body: { access_token: 'tok-2', expires_in: 3600 } }]);
    const source = new VertexTokenSource({ key, tokenUrl: TOKEN_URL, now: () => now, fetch: f.fn as unknown as typeof fetch });
    const pending = Promise.all([source.token(), source.token(), source.token()]);
    await new Promise((r) => setTimeout(r, 50));
    f.open();
    expect(await pending).toEqual(['tok-1', 'tok-1', 'tok-1']);
    expect(f.fn).toHaveBeenCalledTimes(1);

    const form = f.calls[0];
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const assertion = form.get('assertion')!;
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'RS256', kid: 'kid-1' });
    const { payload } = await jwtVerify(assertion, await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256'), {
      issuer: key.client_email,
      audience: TOKEN_URL,
      currentDate: new Date(now),
    });
    expect(payload).toMatchObject({ scope: 'https://www.googleapis.com/auth/cloud-platform', iat: 1000, exp: 4600 });

    now += 3600_000 - 61_000; // still more than a minute left
    expect(await source.token()).toBe('tok-1');
    expect(f.fn).toHaveBeenCalledTimes(1);
    now += 2_000; // within the last minute: refreshed
    expect(await source.token()).toBe('tok-2');
    expect(f.fn).toHaveBeenCalledTimes(2);
  });

  it('refetches after invalidate, and reports a refused exchange without the assertion', async () => {
    const f = fakeFetch([{ body: { access_token: 'tok-1', expires_in: 3600 } }, { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } }]);
    f.open();
    const source = new VertexTokenSource({ key, tokenUrl: TOKEN_URL, fetch: f.fn as unknown as typeof fetch });
    expect(await source.token()).toBe('tok-1');
    source.invalidate();
    const err = await source.token().catch((e) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/invalid_grant/);
    expect(err.message).not.toContain(f.calls[1].get('assertion'));
  });

  it('times out a token endpoint that does not answer', async () => {
    const hang = jest.fn((_u: string, init: RequestInit) => new Promise<Response>((_r, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason))));
    const source = new VertexTokenSource({ key, tokenUrl: TOKEN_URL, timeoutMs: 50, fetch: hang as unknown as typeof fetch });
    await expect(source.token()).rejects.toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  it('uses a static token as is', async () => {
    expect(await new VertexTokenSource({ staticToken: 'static' }).token()).toBe('static');
  });
});
