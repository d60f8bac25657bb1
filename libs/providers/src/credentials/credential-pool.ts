import { secretHint } from '@tokenhub/common';
import type { CircuitBreakerPolicy, ProviderCredential } from '@tokenhub/config';
import { UpstreamError } from '../upstream-error';
import { CircuitBreaker, DEFAULT_CIRCUIT_BREAKER, ModelBreakers } from './circuit-breaker';

/** Where a credential comes from: the environment (or config file), or the admin API (stored encrypted). */
export type CredentialSource = 'env' | 'database';

/** A stored credential as the gateway routes with it: decrypted, with its policy. */
export interface StoredCredential {
  id: string;
  provider: string;
  name: string;
  apiKey: string;
  hint: string;
  weight: number;
  /** Model names or `*` patterns (matched against `model` and `provider/model`); null allows every model. */
  allowedModels: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  updatedAt: Date;
}

/** What the admin API shows of a credential: never its secret. */
export interface CredentialState {
  id: string;
  source: CredentialSource;
  provider: string;
  name: string;
  hint: string;
  weight: number;
  allowedModels: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  /** Set while the credential sits out a 429's `Retry-After`. */
  coolingUntil: Date | null;
}

/** A credential the provider refused (401/403), taken out of rotation. */
export interface CredentialDisabledEvent {
  provider: string;
  id: string;
  source: CredentialSource;
  name: string;
  hint: string;
  status: number;
  reason: string;
}

export type CredentialDisabledListener = (event: CredentialDisabledEvent) => Promise<Date | null> | Date | null | void;

/** One credential in rotation, with its run-time health. */
export interface PooledCredential {
  readonly id: string;
  readonly source: CredentialSource;
  readonly name: string;
  readonly apiKey: string;
  readonly hint: string;
  weight: number;
  allowedModels: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  /** Epoch ms until which a 429 keeps it out. */
  coolingUntil: number;
  /** Skip it for a model after repeated 5xx, timeouts and connection errors with that model. */
  readonly breakers: ModelBreakers;
  /**
   * Disabled here before the database says so: kept disabled while the stored row is not newer
   * than `until` (the disable's own write), so a refresh racing that write does not revive it.
   */
  localDisable?: { until: number };
}

const patternCache = new Map<string, RegExp>();

function patternOf(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re;
}

/** Whether a credential's `allowed_models` admit `model` (the provider's model id) at `provider`. */
export function credentialAllows(allowedModels: string[] | null, provider: string, model: string): boolean {
  if (!allowedModels) return true;
  const qualified = `${provider}/${model}`;
  return allowedModels.some((p) => {
    const re = patternOf(p);
    return re.test(model) || re.test(qualified);
  });
}

/** Told how one upstream call went: `true` when the upstream answered (anything but a 5xx), `false` on a 5xx, timeout or connection error. */
export type UpstreamOutcomeListener = (ok: boolean) => void;

/**
 * The credentials of one provider (from the environment and from the database) and their
 * health. Requests spread over the usable ones by weight; a credential the provider refuses
 * (401/403) leaves the rotation until re-enabled, one it rate-limits (429) sits out its
 * `Retry-After`, one whose calls keep failing (5xx, timeouts, connection errors) is skipped
 * while its circuit breaker is open.
 */
export class CredentialPool {
  private readonly env: PooledCredential[];
  /** Keyless self-hosted servers (Ollama, vLLM) are called without a credential when none is configured. */
  private readonly keyless: boolean;
  private stored = new Map<string, PooledCredential>();
  /** The breakers of a keyless server, called without a credential. */
  private readonly keylessBreakers: ModelBreakers;

  constructor(
    readonly provider: string,
    envCredentials: ProviderCredential[],
    private readonly onDisabled: (event: CredentialDisabledEvent, credential: PooledCredential) => void,
    private readonly breakerPolicy: CircuitBreakerPolicy = DEFAULT_CIRCUIT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {
    this.keylessBreakers = new ModelBreakers(breakerPolicy, now);
    const withKeys = envCredentials.filter((c): c is ProviderCredential & { apiKey: string } => !!c.apiKey);
    this.keyless = withKeys.length === 0 && envCredentials.length > 0;
    this.env = withKeys.map((c, i) => ({
      id: `env:${provider}:${i + 1}`,
      source: 'env',
      name: `${provider} key ${i + 1} (environment)`,
      apiKey: c.apiKey,
      hint: secretHint(c.apiKey),
      weight: c.weight,
      allowedModels: null,
      enabled: true,
      disabledReason: null,
      coolingUntil: 0,
      breakers: new ModelBreakers(breakerPolicy, now),
    }));
  }

  get size(): number {
    return this.env.length + this.stored.size;
  }

  get storedCount(): number {
    return this.stored.size;
  }

  /** Replaces the stored credentials with the database's view, keeping run-time health. */
  setStored(rows: StoredCredential[]): void {
    const next = new Map<string, PooledCredential>();
    for (const row of rows) {
      const prev = this.stored.get(row.id);
      const entry: PooledCredential = {
        id: row.id,
        source: 'database',
        name: row.name,
        apiKey: row.apiKey,
        hint: row.hint,
        weight: row.weight,
        allowedModels: row.allowedModels,
        enabled: row.enabled,
        disabledReason: row.disabledReason,
        coolingUntil: prev?.coolingUntil ?? 0,
        breakers: prev?.breakers ?? new ModelBreakers(this.breakerPolicy, this.now),
      };
      if (prev?.localDisable && row.enabled && row.updatedAt.getTime() <= prev.localDisable.until) {
        entry.enabled = false;
        entry.disabledReason = prev.disabledReason;
        entry.localDisable = prev.localDisable;
      }
      next.set(row.id, entry);
    }
    this.stored = next;
  }

  find(id: string): PooledCredential | undefined {
    return this.env.find((c) => c.id === id) ?? this.stored.get(id);
  }

  /** Back in rotation (the admin API re-enabled it), cooldown and local state cleared. */
  enable(id: string): boolean {
    const entry = this.find(id);
    if (!entry) return false;
    entry.enabled = true;
    entry.disabledReason = null;
    entry.coolingUntil = 0;
    delete entry.localDisable;
    return true;
  }

  /** Out of rotation by the admin's hand (no event: the admin API records it). */
  disable(id: string, reason: string | null): boolean {
    const entry = this.find(id);
    if (!entry) return false;
    entry.enabled = false;
    entry.disabledReason = reason;
    return true;
  }

  states(): CredentialState[] {
    const now = this.now();
    return [...this.env, ...this.stored.values()].map((c) => ({
      id: c.id,
      source: c.source,
      provider: this.provider,
      name: c.name,
      hint: c.hint,
      weight: c.weight,
      allowedModels: c.allowedModels,
      enabled: c.enabled,
      disabledReason: c.disabledReason,
      coolingUntil: c.enabled && c.coolingUntil > now ? new Date(c.coolingUntil) : null,
    }));
  }

  /**
   * Picks the credential for one attempt at `model`: a weighted choice among the enabled,
   * not cooling ones whose `allowed_models` admit it and whose circuit lets a call through
   * (a half-open one's call is its probe). `null` means call without a key (a keyless
   * server). Throws an `UpstreamError` another target can recover from when none is usable.
   */
  pick(model: string): PooledCredential | null {
    const all = this.stored.size > 0 ? [...this.env, ...this.stored.values()] : this.env;
    if (all.length === 0) {
      if (!this.keyless) throw new UpstreamError('http', 503, `${this.provider} has no credential configured`, { code: 'no_provider_credential', retryable: false });
      const breaker = this.keylessBreakers.of(model);
      if (!breaker.available()) throw this.circuitOpen([breaker], model);
      breaker.acquire();
      return null;
    }
    const now = this.now();
    const candidates = all.filter((c) => c.enabled && c.coolingUntil <= now && credentialAllows(c.allowedModels, this.provider, model));
    if (candidates.length === 0) return this.explainNone(all, model, now);
    const closed = candidates.filter((c) => c.breakers.of(model).available());
    if (closed.length === 0) throw this.circuitOpen(candidates.map((c) => c.breakers.of(model)), model);
    const chosen = weightedChoice(closed);
    chosen.breakers.of(model).acquire();
    return chosen;
  }

  /**
   * The listener the HTTP client tells how a call with `credential` (`null`: the keyless
   * server's) at `model` went, feeding that pair's circuit breaker.
   */
  outcomeListener(credential: PooledCredential | null, model: string): UpstreamOutcomeListener {
    const breaker = (credential ? credential.breakers : this.keylessBreakers).of(model);
    return (ok) => (ok ? breaker.succeeded() : breaker.failed());
  }

  /** Every usable credential's circuit is open: fail fast, so the next fallback is tried at once. */
  private circuitOpen(breakers: CircuitBreaker[], model: string): UpstreamError {
    const waitMs = Math.min(...breakers.map((b) => b.retryAfterMs()));
    return new UpstreamError('http', 503, `Every ${this.provider} credential is paused for ${model} after repeated upstream failures (circuit open, ${Math.ceil(waitMs / 1000)} s left).`, {
      code: 'circuit_open',
      retryAfterMs: waitMs,
      retryable: false,
    });
  }

  /**
   * Learns from a failed attempt with `credential`: 401/403 take it out of rotation, a 429
   * with `Retry-After` cools it down. Returns the error to report, marked retryable when
   * another credential of this provider can take the retry.
   */
  report(credential: PooledCredential | null, err: UpstreamError, model: string): UpstreamError {
    if (!credential || err.kind !== 'http') return err;
    if (err.status === 401 || err.status === 403) {
      if (credential.enabled) {
        credential.enabled = false;
        credential.disabledReason = `${this.provider} answered ${err.status}: ${err.message}`.slice(0, 500);
        if (credential.source === 'database') credential.localDisable = { until: Number.POSITIVE_INFINITY };
        this.onDisabled(
          { provider: this.provider, id: credential.id, source: credential.source, name: credential.name, hint: credential.hint, status: err.status, reason: credential.disabledReason },
          credential,
        );
      }
      return this.hasUsable(model) ? err.withRetry(true, { dropRetryAfter: true }) : err;
    }
    if (err.status === 429 && err.retryAfterMs !== undefined && err.retryAfterMs > 0) {
      credential.coolingUntil = Math.max(credential.coolingUntil, this.now() + err.retryAfterMs);
      // Another credential can take the retry now, without waiting out this one's Retry-After.
      if (this.hasUsable(model)) return err.withRetry(true, { dropRetryAfter: true });
    }
    return err;
  }

  private hasUsable(model: string): boolean {
    const now = this.now();
    const all = this.stored.size > 0 ? [...this.env, ...this.stored.values()] : this.env;
    return all.some((c) => c.enabled && c.coolingUntil <= now && c.breakers.of(model).available() && credentialAllows(c.allowedModels, this.provider, model));
  }

  private explainNone(all: PooledCredential[], model: string, now: number): never {
    const allowing = all.filter((c) => credentialAllows(c.allowedModels, this.provider, model));
    if (allowing.length === 0) {
      throw new UpstreamError('http', 403, `No ${this.provider} credential on this gateway may be used for model '${model}'.`, {
        code: 'no_credential_for_model',
        retryable: false,
      });
    }
    const cooling = allowing.filter((c) => c.enabled);
    if (cooling.length > 0) {
      const waitMs = Math.max(1, Math.min(...cooling.map((c) => c.coolingUntil)) - now);
      throw new UpstreamError('http', 503, `Every ${this.provider} credential is cooling down after a rate limit (${Math.ceil(waitMs / 1000)} s left).`, {
        code: 'provider_credentials_cooling_down',
        retryAfterMs: waitMs,
      });
    }
    throw new UpstreamError(
      'http',
      503,
      `Every ${this.provider} credential is out of rotation (the provider refused it); re-enable one through /admin/provider-credentials.`,
      { code: 'provider_credentials_disabled', retryable: false },
    );
  }
}

function weightedChoice(candidates: PooledCredential[]): PooledCredential {
  if (candidates.length === 1) return candidates[0];
  const total = candidates.reduce((sum, c) => sum + c.weight, 0);
  let point = Math.random() * total;
  for (const c of candidates) {
    point -= c.weight;
    if (point < 0) return c;
  }
  return candidates[candidates.length - 1];
}
