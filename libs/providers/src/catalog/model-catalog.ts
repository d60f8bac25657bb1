import { readFileSync } from 'node:fs';
import type { TokenUsage } from '../chat-provider.interface';
import bundledCatalog from './models.json';

/** One model as the catalog knows it; prices in USD per million tokens. */
export interface ModelEntry {
  contextWindow?: number;
  maxOutputTokens?: number;
  input?: number;
  cachedInput?: number;
  /** Price of prompt tokens written to the prompt cache (Anthropic); `input` when absent. */
  cacheWriteInput?: number;
  output?: number;
  /** False for models that reject a temperature (OpenAI's reasoning models). */
  temperature?: boolean;
}

interface CatalogFile {
  version: string;
  models: Record<string, ModelEntry>;
}

const DATED_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;

/**
 * The bundled, versioned catalog of models and prices (`models.json`), optionally
 * overlaid by a file of the operator's (`MODEL_CATALOG_PATH`) that adds or overrides
 * entries without a release.
 */
export class ModelCatalog {
  readonly version: string;
  private readonly models = new Map<string, ModelEntry>();
  /** Bare model name to the provider that serves it, for names like `gpt-4o`. */
  private readonly providerByBareName = new Map<string, string>();

  constructor(overridePath?: string) {
    const bundled = bundledCatalog as CatalogFile;
    const override = overridePath ? (JSON.parse(readFileSync(overridePath, 'utf8')) as Partial<CatalogFile>) : undefined;
    this.version = override?.version ? `${bundled.version}+${override.version}` : bundled.version;
    for (const file of [bundled, override]) {
      for (const [id, entry] of Object.entries(file?.models ?? {})) {
        this.models.set(id, { ...this.models.get(id), ...entry });
        const slash = id.indexOf('/');
        const bare = id.slice(slash + 1);
        if (!this.providerByBareName.has(bare)) this.providerByBareName.set(bare, id.slice(0, slash));
      }
    }
  }

  /** Exact id first, then without a date suffix (`gpt-4o-2024-08-06` prices as `gpt-4o`). */
  lookup(provider: string, model: string): ModelEntry | undefined {
    return this.models.get(`${provider}/${model}`) ?? this.models.get(`${provider}/${model.replace(DATED_SUFFIX, '')}`);
  }

  /** Every catalog model id (`provider/model`), in catalog order. */
  ids(): string[] {
    return [...this.models.keys()];
  }

  providerOf(bareModel: string): string | undefined {
    return this.providerByBareName.get(bareModel) ?? this.providerByBareName.get(bareModel.replace(DATED_SUFFIX, ''));
  }

  /** USD cost of a call, or null when the model has no known price (never reported as $0). */
  cost(provider: string, model: string, usage: TokenUsage): number | null {
    const entry = this.lookup(provider, model);
    if (entry?.input === undefined || entry.output === undefined) return null;
    const cached = Math.min(usage.cachedTokens, usage.promptTokens);
    const written = Math.min(usage.cacheWriteTokens ?? 0, usage.promptTokens - cached);
    const uncached = usage.promptTokens - cached - written;
    const usd =
      (uncached * entry.input + cached * (entry.cachedInput ?? entry.input) + written * (entry.cacheWriteInput ?? entry.input) + usage.completionTokens * entry.output) / 1e6;
    return Math.round(usd * 1e10) / 1e10;
  }
}
