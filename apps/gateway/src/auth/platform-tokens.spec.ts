import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TeamRepository } from '@tokenhub/store';
import { generateKeyPair, SignJWT } from 'jose';
import { looksLikeJwt, PlatformTokenVerifier } from './platform-tokens';

/** Token verification failures that need no database (no team claim): what each one answers. */
describe('PlatformTokenVerifier', () => {
  const noTeams = null as unknown as TeamRepository;
  const base = { teamClaim: 'team_id', clockSkewS: 0 };

  it('tells JWTs from keys', () => {
    expect(looksLikeJwt('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true);
    expect(looksLikeJwt(`sk-bf-${'a'.repeat(40)}`)).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
    expect(looksLikeJwt('a.b.')).toBe(false);
  });

  it('answers 503 jwks_unavailable when the key set cannot be fetched, and does not cache that', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(500);
      res.end('down');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    try {
      const { privateKey } = await generateKeyPair('RS256');
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setSubject('s').setExpirationTime('1m').sign(privateKey);
      const verifier = new PlatformTokenVerifier({ ...base, jwksUrl: url }, noTeams, 1000);
      for (let i = 0; i < 2; i++) {
        await expect(verifier.authenticate(token, `hash-${i}`)).rejects.toMatchObject({ status: 503, code: 'jwks_unavailable' });
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('caches a verified token until it expires, and a refusal briefly', async () => {
    const secret = 's'.repeat(32);
    const verifier = new PlatformTokenVerifier({ ...base, secret }, noTeams, 1000);
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('cached').setExpirationTime('1m').sign(new TextEncoder().encode(secret));
    await expect(verifier.authenticate(token, 'h1')).resolves.toMatchObject({ kind: 'platform_token', id: 'jwt:cached', teamId: null, scopes: [] });
    // Same hash, different bytes: served from the cache without verifying again.
    await expect(verifier.authenticate('not.a.jwt', 'h1')).resolves.toMatchObject({ id: 'jwt:cached' });
    await expect(verifier.authenticate('not.a.jwt', 'h2')).rejects.toMatchObject({ status: 401, code: 'invalid_token' });
  });
});
