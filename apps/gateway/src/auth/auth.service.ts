import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AuthenticationError, GatewayError, PermissionDeniedError } from '@tokenhub/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { CustomerEntity, SettingRepository, TeamEntity, TeamRepository, VirtualKeyEntity, VirtualKeyRepository } from '@tokenhub/store';
import { looksLikeJwt, PlatformTokenVerifier } from './platform-tokens';
import { PolicyScope, Principal } from './principal';
import { hashSecret, newAdminKey, sameHash } from './secrets';

const ADMIN_KEY_SETTING = 'admin_key_sha256';

/** A key with the team and customer whose policies apply to it. */
interface KeyPath {
  key: VirtualKeyEntity;
  team: TeamEntity | null;
  customer: CustomerEntity | null;
}

interface CachedKey {
  path: KeyPath | null;
  expiresAt: number;
  /** While the database errors, a known key is served until then (its TTL plus `authStaleMaxMs`). */
  staleUntil: number;
}

/** 503: the key is not in this process's cache and the database cannot be asked (fail closed). */
export class StoreUnavailableError extends GatewayError {
  constructor() {
    super(503, 'API keys cannot be checked right now: the database does not answer. Try again shortly.', 'server_error', 'store_unavailable', null, { 'retry-after': '1' });
  }
}

/** While the database errors, a stale entry is served without asking it again for this long. */
const STALE_RETRY_MS = 1_000;

/**
 * Turns a bearer token into a principal. Known keys are served from memory for
 * `authCacheTtlMs`, so the hot path does not touch the database; revocation through this
 * process drops the entry at once. When the database errors, a key already in the cache
 * keeps working for up to `authStaleMaxMs` past its TTL (a change made meanwhile through
 * another replica is seen when the database answers again); a key not in the cache gets
 * 503 `store_unavailable`.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private adminKeyHash: string;
  private readonly cache = new Map<string, CachedKey>();
  /** The principal of each cached key's path, built once per load rather than per request. */
  private readonly principals = new WeakMap<KeyPath, Principal>();
  /** Unknown tokens are remembered briefly too, so a flood of bad keys does not reach Postgres. */
  private static readonly NEGATIVE_TTL_MS = 2_000;
  private static readonly MAX_CACHED = 100_000;
  /** Platform auth tokens (JWTs), when TOKENHUB_JWT_SECRET or TOKENHUB_JWT_JWKS_URL is set. */
  private readonly platformTokens: PlatformTokenVerifier | null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly keys: VirtualKeyRepository,
    private readonly settings: SettingRepository,
    private readonly teams: TeamRepository,
  ) {
    this.platformTokens = config.jwt ? new PlatformTokenVerifier(config.jwt, teams, config.authCacheTtlMs) : null;
  }

  async onModuleInit(): Promise<void> {
    if (this.config.adminKey) {
      this.adminKeyHash = hashSecret(this.config.adminKey);
      return;
    }
    const stored = await this.settings.get(ADMIN_KEY_SETTING);
    if (stored) {
      this.adminKeyHash = stored;
      return;
    }
    const generated = newAdminKey();
    this.adminKeyHash = await this.settings.setIfAbsent(ADMIN_KEY_SETTING, hashSecret(generated));
    if (this.adminKeyHash === hashSecret(generated)) {
      // Shown once, on the console of the first start; only its hash is kept.
      process.stdout.write(
        `\n  TokenHub generated an admin key. It is shown only this once; store it now:\n\n    ${generated}\n\n` +
          `  Set TOKENHUB_ADMIN_KEY to choose your own instead.\n\n`,
      );
    }
  }

  /** Reads `Authorization: Bearer <token>`; throws a 401 when it is missing, unknown or revoked. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    const hash = hashSecret(token);
    if (sameHash(hash, this.adminKeyHash)) return { kind: 'admin', id: 'admin' };
    // A JWT (three dot-separated parts; keys have no dots) is a platform token.
    if (this.platformTokens && looksLikeJwt(token)) {
      try {
        return await this.platformTokens.authenticate(token, hash);
      } catch (err) {
        // Its team could not be read (the database does not answer): refused cleanly, not a 500.
        if (err instanceof GatewayError) throw err;
        throw new StoreUnavailableError();
      }
    }
    const path = await this.findKey(hash);
    if (!path) throw new AuthenticationError('Invalid API key: no such key.', 'invalid_api_key');
    const { key, team, customer } = path;
    if (key.revokedAt) throw new PermissionDeniedError('This API key has been revoked.', 'key_revoked');
    if (!key.active) throw new PermissionDeniedError('This API key is inactive.', 'key_inactive');
    if (key.expiresAt && key.expiresAt.getTime() <= Date.now()) throw new PermissionDeniedError('This API key has expired.', 'key_expired');
    let principal = this.principals.get(path);
    if (!principal) {
      const scopes: PolicyScope[] = [{ scope: 'key', id: key.id, limits: key.limits }];
      if (team) scopes.push({ scope: 'team', id: team.id, limits: team.limits });
      if (customer) scopes.push({ scope: 'customer', id: customer.id, limits: customer.limits });
      principal = { kind: 'virtual_key', id: `key:${key.id}`, keyId: key.id, name: key.name, teamId: team?.id ?? null, customerId: customer?.id ?? null, scopes };
      this.principals.set(path, principal);
    }
    return principal;
  }

  /** Called when a key changes so this process sees the change at once. */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }

  /** Called when a team or customer changes: every cached key may be under it. */
  forgetAll(): void {
    this.cache.clear();
    this.platformTokens?.forgetTeams();
  }

  private async findKey(hash: string): Promise<KeyPath | null> {
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expiresAt > now) return cached.path;
    let path: KeyPath | null;
    try {
      const key = await this.keys.findByHash(hash);
      const team = key?.teamId ? await this.teams.findTeam(key.teamId) : null;
      const customer = team?.customerId ? await this.teams.findCustomer(team.customerId) : null;
      path = key ? { key, team, customer } : null;
    } catch {
      if (cached?.path && cached.staleUntil > now) {
        // Served stale; the database is asked again in a moment, not on every request.
        cached.expiresAt = Math.min(now + STALE_RETRY_MS, cached.staleUntil);
        return cached.path;
      }
      throw new StoreUnavailableError();
    }
    if (this.cache.size >= AuthService.MAX_CACHED) this.cache.clear();
    const expiresAt = now + (path ? this.config.authCacheTtlMs : Math.min(AuthService.NEGATIVE_TTL_MS, this.config.authCacheTtlMs));
    this.cache.set(hash, { path, expiresAt, staleUntil: path ? expiresAt + this.config.authStaleMaxMs : 0 });
    return path;
  }
}

function bearerToken(authorization: string | undefined): string {
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (match) return match[1];
  throw new AuthenticationError(
    authorization ? 'The Authorization header must be "Bearer <key>".' : 'Missing API key: send "Authorization: Bearer <key>".',
    'missing_api_key',
  );
}
