import { readFileSync } from 'node:fs';
import { importPKCS8, SignJWT } from 'jose';
import { ClientCancelledError, UpstreamError } from '../upstream-error';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** A cached token is replaced this long before it expires. */
const REFRESH_MARGIN_MS = 60_000;

/** The fields TokenHub uses from a Google service-account key file. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

export interface VertexTokenSourceOptions {
  /** A service-account key: tokens come from the OAuth JWT-bearer grant. */
  key?: ServiceAccountKey;
  /** A static access token, used as is. */
  staticToken?: string;
  tokenUrl?: string;
  /** Deadline for one token exchange. */
  timeoutMs?: number;
  now?: () => number;
  fetch?: typeof fetch;
}

/**
 * Google OAuth access tokens for Vertex AI. With a service-account key it signs an RS256
 * assertion (iss = the account, aud = the token URL, scope cloud-platform, one hour), trades
 * it at the token endpoint, caches the token until a minute before it expires, and lets
 * concurrent callers share one refresh. Tokens and keys never appear in errors.
 */
export class VertexTokenSource {
  private cached?: { token: string; expiresAt: number };
  private inflight?: Promise<string>;
  private signingKey?: ReturnType<typeof importPKCS8>;
  private readonly now: () => number;
  private readonly tokenUrl: string;

  constructor(private readonly options: VertexTokenSourceOptions) {
    if (!options.key && !options.staticToken) throw new Error('VertexTokenSource needs a service-account key or a static token');
    this.now = options.now ?? Date.now;
    this.tokenUrl = options.tokenUrl ?? options.key?.token_uri ?? GOOGLE_TOKEN_URL;
  }

  static fromFile(path: string, options: Omit<VertexTokenSourceOptions, 'key'> = {}): VertexTokenSource {
    let key: ServiceAccountKey;
    try {
      key = JSON.parse(readFileSync(path, 'utf8')) as ServiceAccountKey;
    } catch (err) {
      throw new Error(`Vertex credentials file ${path} could not be read as JSON: ${(err as Error).message}`);
    }
    if (typeof key?.client_email !== 'string' || typeof key.private_key !== 'string') {
      throw new Error(`Vertex credentials file ${path} is not a service-account key (client_email and private_key are required)`);
    }
    return new VertexTokenSource({ ...options, key });
  }

  /** A valid access token: the cached one, or a fresh one (one exchange for all concurrent callers). */
  async token(signal?: AbortSignal): Promise<string> {
    if (this.options.staticToken) return this.options.staticToken;
    if (this.cached && this.now() < this.cached.expiresAt - REFRESH_MARGIN_MS) return this.cached.token;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    if (!signal) return this.inflight;
    if (signal.aborted) throw new ClientCancelledError();
    // The caller may give up; the shared refresh carries on for the others.
    return new Promise<string>((resolve, reject) => {
      const onAbort = () => reject(new ClientCancelledError());
      signal.addEventListener('abort', onAbort, { once: true });
      this.inflight!.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Forgets the cached token (after the platform refused it). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async refresh(): Promise<string> {
    const key = this.options.key!;
    this.signingKey ??= importPKCS8(key.private_key, 'RS256');
    let assertion: string;
    try {
      const iat = Math.floor(this.now() / 1000);
      assertion = await new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) })
        .setIssuer(key.client_email)
        .setAudience(this.tokenUrl)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 3600)
        .sign(await this.signingKey);
    } catch {
      this.signingKey = undefined;
      throw new UpstreamError('protocol', 500, 'Vertex service-account key could not sign a token request', { code: 'vertex_credentials_invalid', retryable: false });
    }
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const timedOut = (err as Error)?.name === 'TimeoutError';
      throw timedOut
        ? new UpstreamError('timeout', 504, 'Vertex token endpoint did not answer in time', { code: 'upstream_timeout' })
        : new UpstreamError('network', 502, 'Vertex token endpoint could not be reached', { code: 'upstream_connection_error' });
    }
    const text = await res.text().catch(() => '');
    let json: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      json = JSON.parse(text);
    } catch {
      /* handled below */
    }
    if (!res.ok || typeof json.access_token !== 'string') {
      // The OAuth error code and description name the problem without echoing secrets.
      const reason = [json.error, json.error_description].filter((v) => typeof v === 'string').join(': ');
      const status = res.status === 400 || res.status === 401 || res.status === 403 ? 401 : 502;
      throw new UpstreamError(status === 401 ? 'http' : 'protocol', status, `Vertex token exchange failed (HTTP ${res.status}${reason ? `, ${reason}` : ''})`, {
        code: 'vertex_token_error',
      });
    }
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    this.cached = { token: json.access_token, expiresAt: this.now() + expiresIn * 1000 };
    return json.access_token;
  }
}
