import { AuthenticationError, ServiceUnavailableError } from '@tokenhub/common';
import type { JwtConfig } from '@tokenhub/config';
import type { CustomerEntity, TeamEntity, TeamRepository } from '@tokenhub/store';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { PolicyScope, Principal } from './principal';

/** Three base64url parts: a compact JWS. Virtual and admin keys never contain a dot. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HMAC_ALGORITHMS = ['HS256'];
const JWKS_ALGORITHMS = ['RS256', 'ES256'];
/** `jwt:` + subject must fit the usage record's principal column (200). */
const MAX_SUBJECT = 196;
/** Outbound JWKS fetch deadline, and how long fetched keys are trusted before a refetch. */
const JWKS_TIMEOUT_MS = 5_000;
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** Rejected tokens are remembered briefly, so a flood of bad tokens costs one verification each. */
const NEGATIVE_TTL_MS = 2_000;
const MAX_CACHED = 100_000;

export const looksLikeJwt = (token: string) => COMPACT_JWS.test(token);

type PlatformPrincipal = Extract<Principal, { kind: 'platform_token' }>;

interface VerifiedToken {
  subject: string;
  teamId: string | null;
}

interface TeamPath {
  team: TeamEntity;
  customer: CustomerEntity | null;
}

const invalid = (why: string) => new AuthenticationError(`Invalid platform token: ${why}.`, 'invalid_token');

/**
 * Platform auth tokens: JWTs signed by the platform (HS256 with TOKENHUB_JWT_SECRET, or
 * RS256/ES256 with the keys at TOKENHUB_JWT_JWKS_URL), carrying `sub` and the team claim.
 * Verified results are cached by token hash until the token expires; team lookups for
 * `authCacheTtlMs`, so the hot path stays in memory.
 */
export class PlatformTokenVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;
  private readonly verified = new Map<string, { token?: VerifiedToken; error?: AuthenticationError; until: number }>();
  private readonly teamCache = new Map<string, { path: TeamPath | null; until: number }>();

  constructor(
    private readonly config: JwtConfig,
    private readonly teams: TeamRepository,
    private readonly teamTtlMs: number,
  ) {
    if (config.secret) this.secret = new TextEncoder().encode(config.secret);
    if (config.jwksUrl) {
      this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: JWKS_TIMEOUT_MS,
        cooldownDuration: JWKS_COOLDOWN_MS,
        cacheMaxAge: JWKS_MAX_AGE_MS,
      });
    }
  }

  /** The principal of a valid token; a 401 (`invalid_token`) saying why otherwise. */
  async authenticate(token: string, hash: string): Promise<PlatformPrincipal> {
    const { subject, teamId } = await this.verify(token, hash);
    const path = teamId ? await this.team(teamId) : null;
    if (teamId && !path) throw invalid(`its team ${teamId} (claim ${this.config.teamClaim}) does not exist`);
    const scopes: PolicyScope[] = [];
    if (path) scopes.push({ scope: 'team', id: path.team.id, limits: path.team.limits });
    if (path?.customer) scopes.push({ scope: 'customer', id: path.customer.id, limits: path.customer.limits });
    return {
      kind: 'platform_token',
      id: `jwt:${subject}`,
      subject,
      teamId: path?.team.id ?? null,
      customerId: path?.customer?.id ?? null,
      scopes,
    };
  }

  /** Drops cached teams (a team or customer changed). */
  forgetTeams(): void {
    this.teamCache.clear();
  }

  private async verify(token: string, hash: string): Promise<VerifiedToken> {
    const now = Date.now();
    const cached = this.verified.get(hash);
    if (cached && cached.until > now) {
      if (cached.error) throw cached.error;
      return cached.token!;
    }
    try {
      const token_ = await this.check(token);
      this.remember(hash, { token: token_, until: token_.until });
      return token_;
    } catch (err) {
      if (err instanceof AuthenticationError) this.remember(hash, { error: err, until: now + NEGATIVE_TTL_MS });
      throw err;
    }
  }

  private remember(hash: string, entry: { token?: VerifiedToken; error?: AuthenticationError; until: number }): void {
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(hash, entry);
  }

  private async check(token: string): Promise<VerifiedToken & { until: number }> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw invalid('it is not a well-formed JWT');
    }
    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockSkewS,
        requiredClaims: ['sub', 'exp'],
      };
      if (alg?.startsWith('HS')) {
        if (!this.secret) throw invalid(`${alg} tokens are not accepted here (no shared secret is configured)`);
        ({ payload } = await jwtVerify(token, this.secret, { ...options, algorithms: HMAC_ALGORITHMS }));
      } else {
        if (!this.jwks) throw invalid(`${alg ?? 'unsigned'} tokens are not accepted here (only HS256 is configured)`);
        ({ payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: JWKS_ALGORITHMS }));
      }
    } catch (err) {
      throw describe(err, this.config);
    }
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.length === 0) throw invalid('the sub claim is missing');
    if (subject.length > MAX_SUBJECT) throw invalid(`the sub claim is longer than ${MAX_SUBJECT} characters`);
    const team = payload[this.config.teamClaim];
    if (team !== undefined && team !== null && (typeof team !== 'string' || !UUID.test(team))) {
      throw invalid(`the ${this.config.teamClaim} claim must be a team id`);
    }
    return { subject, teamId: (team as string | undefined) ?? null, until: (payload.exp as number) * 1000 };
  }

  private async team(id: string): Promise<TeamPath | null> {
    const now = Date.now();
    const cached = this.teamCache.get(id);
    if (cached && cached.until > now) return cached.path;
    const team = await this.teams.findTeam(id);
    const customer = team?.customerId ? await this.teams.findCustomer(team.customerId) : null;
    const path = team ? { team, customer } : null;
    if (this.teamCache.size >= MAX_CACHED) this.teamCache.clear();
    this.teamCache.set(id, { path, until: now + (path ? this.teamTtlMs : Math.min(NEGATIVE_TTL_MS, this.teamTtlMs)) });
    return path;
  }
}

/** jose's failure, as a 401 that says why (or a 503 when the key set cannot be fetched). */
function describe(err: unknown, config: JwtConfig): Error {
  if (err instanceof AuthenticationError) return err;
  if (err instanceof errors.JWTExpired) return invalid('it has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return invalid(`its issuer (iss) is not ${config.issuer}`);
    if (err.claim === 'aud') return invalid(`its audience (aud) does not include ${config.audience}`);
    if (err.claim === 'nbf') return invalid('it is not valid yet (nbf)');
    if (err.reason === 'missing') return invalid(`the ${err.claim} claim is missing`);
    return invalid(`the ${err.claim} claim is invalid (${err.message})`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('its signature does not verify');
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('its signing algorithm is not accepted');
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('no key in the key set matches it (kid)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return invalid('several keys in the key set match it; set a kid');
  // The key set could not be fetched or read (timeout, not 200, not JSON, not a key set).
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid || (err as Error)?.constructor === errors.JOSEError) {
    return new ServiceUnavailableError('Platform tokens cannot be verified right now: the key set could not be fetched.', 'jwks_unavailable');
  }
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid || err instanceof errors.JOSENotSupported) {
    return invalid(`it is not a valid JWT (${(err as Error).message})`);
  }
  if (err instanceof errors.JOSEError) return invalid((err as Error).message);
  // A network failure fetching the key set.
  return new ServiceUnavailableError('Platform tokens cannot be verified right now: the key set could not be fetched.', 'jwks_unavailable');
}
