import { InvalidRequestError } from '@tokenhub/common';
import { GatewayConfig, KNOWN_PROVIDERS } from '@tokenhub/config';
import type { ChatProvider } from './chat-provider.interface';
import { ModelCatalog, ModelEntry } from './catalog/model-catalog';
import { UpstreamHttpClient } from './http/upstream-http-client';
import { OpenAICompatibleProvider } from './openai-compatible/openai-compatible.provider';

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

/** Holds one adapter per configured provider and resolves `provider/model` names to them. */
export class ProviderRegistry {
  private readonly providers = new Map<string, { provider: ChatProvider; maxRetries: number; acceptsPromptCacheKey: boolean }>();

  constructor(
    private readonly config: GatewayConfig,
    readonly catalog: ModelCatalog,
    readonly http: UpstreamHttpClient,
  ) {
    for (const p of config.providers) {
      this.providers.set(p.name, {
        provider: new OpenAICompatibleProvider(p, http),
        maxRetries: p.maxRetries,
        acceptsPromptCacheKey: p.acceptsPromptCacheKey,
      });
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
