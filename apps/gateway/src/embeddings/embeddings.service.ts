import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '@tokenhub/common';
import { EmbeddingsResult, ModelCatalog, ProviderRegistry, ResolvedModel } from '@tokenhub/providers';

/** What one embeddings call produced, with who served it and what it cost. */
export interface EmbeddingOutcome {
  /** One float vector per input, in input order. */
  vectors: number[][];
  /** The provider that served, e.g. `openai`. */
  provider: string;
  /** The model that served, e.g. `text-embedding-3-small`. */
  model: string;
  usage: { promptTokens: number; totalTokens: number } | null;
  /** From the price catalog; null when the model is unpriced or no usage was reported. */
  costUsd: number | null;
}

/** Options of one embeddings call beyond the texts. */
export interface EmbedOptions {
  tokens?: number[][];
  dimensions?: number;
  user?: string;
}

/**
 * Embeddings across providers: resolves the model as the chat endpoint does, refuses
 * providers without an embeddings API, calls the adapter and prices the result.
 */
@Injectable()
export class EmbeddingsService {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly catalog: ModelCatalog,
  ) {}

  /**
   * For TokenHub's own use (the response cache): no auth or governance, nothing recorded.
   * Throws `UpstreamError` or `GatewayError` on failure.
   */
  async embedForGateway(modelRef: string, input: string[], signal?: AbortSignal): Promise<EmbeddingOutcome> {
    const target = this.resolve(modelRef);
    return this.embed(target, input, {}, signal ?? new AbortController().signal);
  }

  /** Resolves `provider/model` (or a bare catalog name); a 400 for a provider without embeddings. */
  resolve(modelRef: string, param = 'model'): ResolvedModel {
    const target = this.registry.resolve(modelRef, param);
    if (!target.provider.embed) {
      throw new InvalidRequestError(`Provider '${target.providerName}' has no embeddings API; use a provider that does (e.g. openai, gemini, cohere).`, param, 'embeddings_not_supported');
    }
    return target;
  }

  /** Calls the resolved target's embeddings API and prices what it reports. */
  async embed(target: ResolvedModel, input: string[], options: EmbedOptions, signal: AbortSignal): Promise<EmbeddingOutcome> {
    const result: EmbeddingsResult = await target.provider.embed!({ model: target.model, input, ...options, signal });
    const usage = result.usage;
    return {
      vectors: result.vectors,
      provider: target.providerName,
      model: target.model,
      usage: usage ? { promptTokens: usage.promptTokens, totalTokens: usage.totalTokens } : null,
      costUsd: usage ? this.catalog.cost(target.providerName, target.model, usage) : null,
    };
  }
}
