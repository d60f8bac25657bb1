import { readFileSync } from 'node:fs';
import { BoundedMap } from '@tokenhub/common';
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
  /** False for models that reject a temperature (OpenAI's reasoning models, Claude 5-generation models). */
  temperature?: boolean;
}

/** A catalog file's entry: a model, or (`base`) another entry's fields with these on top. */
export interface CatalogFileEntry extends ModelEntry {
  /** `provider/model` whose fields this entry inherits (e.g. an Azure deployment priced as `openai/gpt-4o`). */
  base?: string;
}

interface CatalogFile {
  version: string;
  models: Record<string, CatalogFileEntry>;
}

/** Snapshot suffixes that price as their base model: `-2024-08-06` (OpenAI), `-20250929` (Anthropic), `@20250929` (Vertex). */
const DATED_SUFFIX = /(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$/;
/** Bedrock cross-region inference profiles (`us.anthropic.claude-...`) price as the model they route to. */
const GEO_PREFIX = /^(us|eu|apac|global|jp|au|ca|us-gov)\./;
/** How many names `lookup` remembers beyond the catalog's own ids. */
const MAX_RESOLVED_NAMES = 10_000;
const NUMERIC_FIELDS = ['contextWindow', 'maxOutputTokens', 'input', 'cachedInput', 'cacheWriteInput', 'output'] as const;

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
  /** `lookup`'s answers for names that are not catalog ids themselves (dated, geo-prefixed, unknown). */
  private readonly resolvedNames = new BoundedMap<string, ModelEntry | null>(MAX_RESOLVED_NAMES);

  constructor(overridePath?: string) {
    const bundled = bundledCatalog as CatalogFile;
    const override = overridePath ? readOverride(overridePath) : undefined;
    this.version = override?.version ? `${bundled.version}+${override.version}` : bundled.version;
    const declared = new Map<string, CatalogFileEntry>();
    for (const file of [bundled, override]) {
      for (const [id, entry] of Object.entries(file?.models ?? {})) {
        declared.set(id, { ...declared.get(id), ...entry });
        const slash = id.indexOf('/');
        const bare = id.slice(slash + 1);
        if (!this.providerByBareName.has(bare)) this.providerByBareName.set(bare, id.slice(0, slash));
      }
    }
    // Bases resolve after the overlay, so overriding `anthropic/x` also reprices entries based on it.
    const resolve = (id: string, seen: string[]): ModelEntry => {
      const entry = declared.get(id);
      if (!entry) throw new Error(`model catalog: '${seen[seen.length - 1]}' has base '${id}', which is not in the catalog`);
      if (seen.includes(id)) throw new Error(`model catalog: base cycle ${[...seen, id].join(' -> ')}`);
      const { base, ...own } = entry;
      return base ? { ...resolve(base, [...seen, id]), ...own } : own;
    };
    for (const id of declared.keys()) this.models.set(id, resolve(id, []));
  }

  /**
   * Exact id first, then without a snapshot suffix (`gpt-4o-2024-08-06` prices as `gpt-4o`,
   * `claude-sonnet-4-5@20250929` as `claude-sonnet-4-5`) or a Bedrock geo prefix (`us.`, `global.`).
   */
  lookup(provider: string, model: string): ModelEntry | undefined {
    const id = `${provider}/${model}`;
    const exact = this.models.get(id);
    if (exact) return exact;
    // Asked on every request: the answer for a name is kept (null: not in the catalog), the
    // memo bounded since the names come from clients.
    const known = this.resolvedNames.get(id);
    if (known !== undefined) return known ?? undefined;
    const bare = model.replace(GEO_PREFIX, '');
    let found: ModelEntry | null = null;
    for (const candidate of [model.replace(DATED_SUFFIX, ''), bare, bare.replace(DATED_SUFFIX, '')]) {
      found = this.models.get(`${provider}/${candidate}`) ?? null;
      if (found) break;
    }
    this.resolvedNames.set(id, found);
    return found ?? undefined;
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

/** The operator's overlay file, checked so a typo fails the boot with its path rather than pricing calls wrong. */
function readOverride(path: string): Partial<CatalogFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`MODEL_CATALOG_PATH ${path}: ${(err as Error).message}`);
  }
  const file = parsed as Partial<CatalogFile> | null;
  if (!file || typeof file !== 'object' || (file.models !== undefined && (typeof file.models !== 'object' || file.models === null))) {
    throw new Error(`MODEL_CATALOG_PATH ${path}: expected {"version"?: string, "models": {"provider/model": {...}}}`);
  }
  for (const [id, entry] of Object.entries(file.models ?? {})) {
    if (!/^[^/\s]+\/\S+$/.test(id)) throw new Error(`MODEL_CATALOG_PATH ${path}: '${id}' is not 'provider/model'`);
    if (!entry || typeof entry !== 'object') throw new Error(`MODEL_CATALOG_PATH ${path}: '${id}' must be an object`);
    for (const field of NUMERIC_FIELDS) {
      const value = entry[field];
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
        throw new Error(`MODEL_CATALOG_PATH ${path}: '${id}'.${field} must be a non-negative number`);
      }
    }
    if (entry.temperature !== undefined && typeof entry.temperature !== 'boolean') throw new Error(`MODEL_CATALOG_PATH ${path}: '${id}'.temperature must be a boolean`);
    if (entry.base !== undefined && typeof entry.base !== 'string') throw new Error(`MODEL_CATALOG_PATH ${path}: '${id}'.base must be 'provider/model'`);
  }
  return file;
}
