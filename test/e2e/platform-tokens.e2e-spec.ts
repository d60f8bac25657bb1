import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';
import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, expectOpenAIError, Gateway, postChat, startGateway } from './harness';

/**
 * Platform auth tokens: a JWT from the platform in `Authorization: Bearer`, verified with
 * the shared secret (HS256) or the platform's key set (RS256/ES256 from a JWKS URL),
 * attributed to its subject and team in the usage records. The upstream sees only the
 * gateway's own provider key.
 */
const SECRET = 'platform-shared-secret-0123456789-abcdef';
const ISSUER = 'https://platform.example';
const AUDIENCE = 'tokenhub';
const SKEW_S = 5;
const now = () => Math.floor(Date.now() / 1000);

interface Claims {
  sub?: string;
  team_id?: string;
  iss?: string;
  aud?: string;
  exp?: number;
  [claim: string]: unknown;
}

function hs256(claims: Claims, secret = SECRET): Promise<string> {
  const { exp, ...rest } = claims;
  const jwt = new SignJWT(rest).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

async function expectInvalidToken(res: Response, why: RegExp): Promise<void> {
  const body = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status: 401 });
  const error = expectOpenAIError(body);
  expect(error).toMatchObject({ type: 'authentication_error', code: 'invalid_token', param: null });
  expect(error.message).toMatch(why);
}

async function insertTeam(gw: Gateway, name: string): Promise<{ teamId: string; customerId: string }> {
  const [customer] = await gw.query<{ id: string }>(`INSERT INTO customers (name) VALUES ($1) RETURNING id`, [`${name}-customer`]);
  const [team] = await gw.query<{ id: string }>(`INSERT INTO teams (name, customer_id) VALUES ($1, $2) RETURNING id`, [name, customer.id]);
  return { teamId: team.id, customerId: customer.id };
}

describe('platform tokens (HS256)', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let teamId: string;
  let customerId: string;
  const valid = (extra: Claims = {}) => hs256({ sub: 'alice@example.com', team_id: teamId, iss: ISSUER, aud: AUDIENCE, exp: now() + 600, ...extra });

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream-platform',
      OPENAI_BASE_URL: base,
      TOKENHUB_JWT_SECRET: SECRET,
      TOKENHUB_JWT_ISSUER: ISSUER,
      TOKENHUB_JWT_AUDIENCE: AUDIENCE,
      TOKENHUB_JWT_CLOCK_SKEW_S: String(SKEW_S),
    });
    ({ teamId, customerId } = await insertTeam(gw, 'search'));
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  it('serves a valid token and attributes the request to its subject, team and customer', async () => {
    const token = await valid();
    const res = await postChat(gw, token, chatBody({ user: 'end-user-1' }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content).toBe('echo: Hello, how are you?');
    // The upstream gets the gateway's provider key, never the caller's token.
    const sent = fake.requests[fake.requests.length - 1].headers.authorization;
    expect(sent).toBe('Bearer sk-upstream-platform');

    const requestId = res.headers.get('x-request-id');
    const [record] = await gw.waitForUsage(1, 'request_id = $1', [requestId]);
    expect(record).toMatchObject({
      principal: 'jwt:alice@example.com',
      team_id: teamId,
      customer_id: customerId,
      key_id: null,
      status_code: 200,
      user: 'end-user-1',
    });
  });

  it('serves the same token again from the verification cache, and streams', async () => {
    const token = await valid({ sub: 'svc-batch' });
    for (let i = 0; i < 3; i++) {
      const res = await postChat(gw, token, chatBody());
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const stream = await postChat(gw, token, chatBody({ stream: true }));
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('data: [DONE]');
    const rows = await gw.waitForUsage(4, `principal = 'jwt:svc-batch'`);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.team_id === teamId)).toBe(true);
  });

  it('accepts a token without a team claim, attributed to no team', async () => {
    const res = await postChat(gw, await hs256({ sub: 'lone-wolf', iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }), chatBody());
    expect(res.status).toBe(200);
    const [record] = await gw.waitForUsage(1, `principal = 'jwt:lone-wolf'`);
    expect(record).toMatchObject({ team_id: null, customer_id: null });
  });

  it('accepts a token that expired within the allowed clock skew', async () => {
    const res = await postChat(gw, await valid({ sub: 'skewed', exp: now() - 2 }), chatBody());
    expect(res.status).toBe(200);
  });

  describe('401 invalid_token, saying why, and the upstream is never called', () => {
    let upstreamCalls: number;
    beforeAll(() => {
      upstreamCalls = fake.requests.length;
    });
    afterAll(() => {
      expect(fake.requests.length).toBe(upstreamCalls);
    });

    it('for an expired token', async () => {
      await expectInvalidToken(await postChat(gw, await valid({ exp: now() - 60 }), chatBody()), /expired/);
    });

    it('for a token signed with another secret', async () => {
      await expectInvalidToken(await postChat(gw, await hs256({ sub: 'mallory', team_id: teamId, iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }, 'another-secret-of-at-least-32-characters'), chatBody()), /signature/);
    });

    it('for a token whose payload was altered after signing', async () => {
      const [header, , signature] = (await valid()).split('.');
      const forged = Buffer.from(JSON.stringify({ sub: 'root', team_id: teamId, iss: ISSUER, aud: AUDIENCE, exp: now() + 60 })).toString('base64url');
      await expectInvalidToken(await postChat(gw, `${header}.${forged}.${signature}`, chatBody()), /signature/);
    });

    it('for the wrong audience', async () => {
      await expectInvalidToken(await postChat(gw, await valid({ aud: 'another-service' }), chatBody()), /audience/);
    });

    it('for the wrong issuer', async () => {
      await expectInvalidToken(await postChat(gw, await valid({ iss: 'https://evil.example' }), chatBody()), /issuer/);
    });

    it('for a team that does not exist', async () => {
      await expectInvalidToken(await postChat(gw, await valid({ team_id: '00000000-0000-4000-8000-000000000000' }), chatBody()), /team .* does not exist/);
    });

    it('for a team claim that is not a team id', async () => {
      await expectInvalidToken(await postChat(gw, await valid({ team_id: 'search' }), chatBody()), /team_id claim must be a team id/);
    });

    it('without sub, or without exp', async () => {
      await expectInvalidToken(await postChat(gw, await hs256({ team_id: teamId, iss: ISSUER, aud: AUDIENCE, exp: now() + 60 }), chatBody()), /sub/);
      await expectInvalidToken(await postChat(gw, await hs256({ sub: 'forever', iss: ISSUER, aud: AUDIENCE }), chatBody()), /exp/);
    });

    it('for an unsigned (alg none) token', async () => {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: 'root', iss: ISSUER, aud: AUDIENCE, exp: now() + 60 })}.x`;
      await expectInvalidToken(await postChat(gw, unsigned, chatBody()), /not accepted/);
    });

    it('for three dot-separated parts that are not a JWT', async () => {
      await expectInvalidToken(await postChat(gw, 'abc.def.ghi', chatBody()), /well-formed/);
    });

    it('records the refused request as anonymous', async () => {
      const res = await postChat(gw, await valid({ exp: now() - 3600 }), chatBody());
      expect(res.status).toBe(401);
      const [record] = await gw.waitForUsage(1, 'request_id = $1', [res.headers.get('x-request-id')]);
      expect(record).toMatchObject({ principal: 'anonymous', status_code: 401, error_code: 'invalid_token' });
    });
  });

  it('does not open the admin API (403)', async () => {
    const res = await fetch(`${gw.url}/admin/virtual-keys`, { headers: { authorization: `Bearer ${await valid()}` } });
    expect(res.status).toBe(403);
    expect(expectOpenAIError(await res.json()).code).toBe('admin_key_required');
  });

  it('leaves virtual keys working next to tokens', async () => {
    const { key } = await gw.createKey('next-to-jwt');
    const res = await postChat(gw, key, chatBody());
    expect(res.status).toBe(200);
  });
});

describe('platform tokens (RS256 and ES256 from a JWKS URL)', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  let jwksServer: Server;
  let jwksFetches = 0;
  let rsa: { privateKey: KeyLike; publicKey: KeyLike };
  let ec: { privateKey: KeyLike; publicKey: KeyLike };
  let stranger: { privateKey: KeyLike; publicKey: KeyLike };
  let teamId: string;

  const sign = (key: KeyLike, alg: string, kid: string, claims: Claims = {}) =>
    new SignJWT({ team_id: teamId, ...claims })
      .setProtectedHeader({ alg, kid })
      .setSubject((claims.sub as string | undefined) ?? 'bob')
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? now() + 300)
      .sign(key);

  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('ES256'), generateKeyPair('RS256')]);
    const keys: JWK[] = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    jwksServer = createServer((req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({
      OPENAI_API_KEY: 'sk-upstream-jwks',
      OPENAI_BASE_URL: base,
      TOKENHUB_JWT_JWKS_URL: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`,
      TOKENHUB_JWT_ISSUER: ISSUER,
      TOKENHUB_JWT_TEAM_CLAIM: 'team_id',
    });
    ({ teamId } = await insertTeam(gw, 'platform'));
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
    await new Promise<void>((resolve) => jwksServer?.close(() => resolve()));
  });

  it('serves RS256 and ES256 tokens signed by keys in the set, fetching the set once', async () => {
    for (const [key, alg, kid, sub] of [
      [rsa.privateKey, 'RS256', 'rsa-1', 'bob'],
      [ec.privateKey, 'ES256', 'ec-1', 'carol'],
      [rsa.privateKey, 'RS256', 'rsa-1', 'dave'],
    ] as const) {
      const res = await postChat(gw, await sign(key, alg, kid, { sub }), chatBody());
      expect({ sub, status: res.status }).toEqual({ sub, status: 200 });
      await res.arrayBuffer();
    }
    expect(jwksFetches).toBe(1);
    const rows = await gw.waitForUsage(3, `principal LIKE 'jwt:%'`);
    expect(rows.map((r) => r.principal).sort()).toEqual(['jwt:bob', 'jwt:carol', 'jwt:dave']);
    expect(rows.every((r) => r.team_id === teamId)).toBe(true);
  });

  it('refuses a token signed by a key outside the set, under a known kid', async () => {
    await expectInvalidToken(await postChat(gw, await sign(stranger.privateKey, 'RS256', 'rsa-1', { sub: 'eve' }), chatBody()), /signature/);
  });

  it('refuses an expired RS256 token and an HS256 one (no shared secret configured)', async () => {
    await expectInvalidToken(await postChat(gw, await sign(rsa.privateKey, 'RS256', 'rsa-1', { exp: now() - 3600 }), chatBody()), /expired/);
    await expectInvalidToken(await postChat(gw, await hs256({ sub: 'x', iss: ISSUER, exp: now() + 60 }), chatBody()), /HS256 tokens are not accepted/);
  });
});
