import { BoundedMap, InvalidRequestError } from '@tokenhub/common';
import { GatewayConfig, KNOWN_PROVIDERS, ProviderConfig } from '@tokenhub/config';
import type { ChatProvider } from './chat-provider.interface';
import { ModelCatalog, ModelEntry } from './catalog/model-catalog';
import {
  CredentialDisabledEvent,
  CredentialDisabledListener,
  CredentialPool,
  CredentialState,
  PooledCredential,
  StoredCredential,
} from './credentials/credential-pool';
import { UpstreamHttpClient } from './http/upstream-http-client';
import { PROVIDER_FACTORIES } from './provider-factories';

/** Where a requested model goes: the provider, its own model id, and what the catalog knows. */
export interface ResolvedModel {
  provider: ChatProvider;
  providerName: string;
  model: string;
  entry?: ModelEntry;
  /** Retries for this provider before the next fallback. */
  maxRetries: number;
  acceptsPromptCacheKey: boolean;
}

/**
 * Holds one adapter per configured provider and resolves `provider/model` names to them.
 * Also holds each provider's credential pool: the environment's keys from the start, the
 * stored ones (admin API) whenever `setStoredCredentials` is given the database's view.
 */
/** How many requested names `resolve` remembers. */
const MAX_RESOLVED_NAMES = 10_000;

export class ProviderRegistry {
  private readonly providers = new Map<string, { provider: ChatProvider; maxRetries: number; acceptsPromptCacheKey: boolean }>();
  /** `resolve`'s answers by requested name (bounded: names come from clients). */
  private readonly resolvedNames = new BoundedMap<string, ResolvedModel>(MAX_RESOLVED_NAMES);
  private readonly pools = new Map<string, CredentialPool>();
  /** Known providers enabled only by stored credentials (no key or base URL in the environment). */
  private readonly storedOnly = new Set<string>();
  private readonly disabledListeners: CredentialDisabledListener[] = [];

  constructor(
    private readonly config: GatewayConfig,
    readonly catalog: ModelCatalog,
    readonly http: UpstreamHttpClient,
  ) {
    for (const p of config.providers) this.addProvider(p);
  }

  private addProvider(p: ProviderConfig): void {
    this.resolvedNames.clear();
    const pool = new CredentialPool(p.name, p.credentials, (event, credential) => this.credentialDisabled(event, credential), this.config.circuitBreaker);
    this.pools.set(p.name, pool);
    this.providers.set(p.name, {
      provider: PROVIDER_FACTORIES[p.family](p, this.http, pool),
      maxRetries: p.maxRetries,
      acceptsPromptCacheKey: p.acceptsPromptCacheKey,
    });
  }

  /**
   * Whether stored credentials for `provider` can be used: it is configured (by a key or a
   * base URL, custom providers included), or it is a known provider with a public base URL.
   */
  acceptsCredentialsFor(provider: string): boolean {
    return this.providers.has(provider) || !!KNOWN_PROVIDERS[provider]?.defaultBaseUrl;
  }

  /**
   * Hands the registry the database's credentials (decrypted), replacing those it had.
   * Run-time health (cooldowns, a refusal not yet persisted) is kept. Returns the providers
   * whose credentials cannot be used here.
   */
  setStoredCredentials(rows: StoredCredential[]): { unusable: string[] } {
    const byProvider = new Map<string, StoredCredential[]>();
    for (const row of rows) byProvider.set(row.provider, [...(byProvider.get(row.provider) ?? []), row]);
    const unusable: string[] = [];
    for (const name of byProvider.keys()) {
      if (this.providers.has(name)) continue;
      const known = KNOWN_PROVIDERS[name];
      if (!known?.defaultBaseUrl) {
        unusable.push(name);
        continue;
      }
      this.addProvider({
        name,
        family: known.family,
        baseUrl: known.defaultBaseUrl,
        credentials: [],
        maxRetries: this.config.retry.maxRetries,
        acceptsPromptCacheKey: !!known.acceptsPromptCacheKey,
        headers: {},
      });
      this.storedOnly.add(name);
    }
    for (const [name, pool] of this.pools) {
      pool.setStored(byProvider.get(name) ?? []);
      if (this.storedOnly.has(name) && pool.storedCount === 0) {
        this.pools.delete(name);
        this.providers.delete(name);
        this.resolvedNames.clear();
        this.storedOnly.delete(name);
      }
    }
    return { unusable };
  }

  /** Every credential, environment and stored, with its health; never a secret. */
  credentialStates(): CredentialState[] {
    return [...this.pools.values()].flatMap((pool) => pool.states());
  }

  credentialState(id: string): CredentialState | undefined {
    return this.credentialStates().find((c) => c.id === id);
  }

  /** Puts a credential back in rotation at once (the admin API re-enabled it). */
  enableCredential(id: string): boolean {
    return [...this.pools.values()].some((pool) => pool.enable(id));
  }

  /** Takes a credential out of rotation at once (the admin API disabled it). */
  disableCredential(id: string, reason: string | null): boolean {
    return [...this.pools.values()].some((pool) => pool.disable(id, reason));
  }

  /**
   * Called when a provider refuses a credential (401/403). A listener may persist it and
   * return the stored row's new `updated_at`; until then a refresh does not revive it.
   */
  onCredentialDisabled(listener: CredentialDisabledListener): void {
    this.disabledListeners.push(listener);
  }

  private credentialDisabled(event: CredentialDisabledEvent, credential: PooledCredential): void {
    for (const listener of this.disabledListeners) {
      void Promise.resolve()
        .then(() => listener(event))
        .then(
          (persistedAt) => {
            if (credential.localDisable) credential.localDisable = { until: persistedAt instanceof Date ? persistedAt.getTime() : Date.now() };
          },
          () => {
            if (credential.localDisable) credential.localDisable = { until: Date.now() };
          },
        );
    }
  }

  get names(): string[] {
    return [...this.providers.keys()];
  }

  /**
   * `provider/model` picks the provider; a bare name (`gpt-4o`) resolves through the
   * catalog, then the default provider. Anything else is a 400 that lists what would work.
   */
  resolve(requested: string, param = 'model'): ResolvedModel {
    // Every request resolves its model: the answer for a name is kept until the providers change.
    const known = this.resolvedNames.get(requested);
    if (known) return known;
    const resolved = Object.freeze(this.resolveName(requested, param));
    this.resolvedNames.set(requested, resolved);
    return resolved;
  }

  private resolveName(requested: string, param: string): ResolvedModel {
    const slash = requested.indexOf('/');
    if (slash > 0) {
      const prefix = requested.slice(0, slash).toLowerCase();
      const found = this.providers.get(prefix);
      if (found) return this.resolved(prefix, requested.slice(slash + 1), found);
      if (prefix in KNOWN_PROVIDERS) {
        throw new InvalidRequestError(
          `Provider '${prefix}' is not configured on this gateway (set ${prefix.toUpperCase()}_API_KEY). ${this.suggestions()}`,
          param,
          'model_not_found',
        );
      }
    }
    const catalogProvider = this.catalog.providerOf(requested);
    const bareProvider = catalogProvider && this.providers.has(catalogProvider) ? catalogProvider : this.config.defaultProvider;
    if (bareProvider) return this.resolved(bareProvider, requested, this.providers.get(bareProvider)!);
    throw new InvalidRequestError(`Unknown model '${requested}'. ${this.suggestions()}`, param, 'model_not_found');
  }

  private resolved(name: string, model: string, found: { provider: ChatProvider; maxRetries: number; acceptsPromptCacheKey: boolean }): ResolvedModel {
    if (!model) throw new InvalidRequestError(`The model name after '${name}/' is empty.`, 'model', 'model_not_found');
    return { ...found, providerName: name, model, entry: this.catalog.lookup(name, model) };
  }

  private suggestions(): string {
    if (this.providers.size === 0) return 'No provider is configured: set e.g. OPENAI_API_KEY.';
    const bare = this.config.defaultProvider ? '' : ', or a catalog model name such as gpt-4o when its provider is configured';
    return `Use 'provider/model' with a configured provider (${this.names.join(', ')})${bare}.`;
  }
}
