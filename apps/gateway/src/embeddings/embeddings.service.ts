import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { GatewayError, InvalidRequestError } from '@tokenhub/common';
import { ClientCancelledError, ModelCatalog, ProviderRegistry, ResolvedModel, TokenUsage, UpstreamError } from '@tokenhub/providers';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { AuthService } from '../auth/auth.service';
import { ChatExchange } from '../chat/chat-exchange';
import { GovernanceService } from '../governance/governance.service';
import { LOGGER } from '../logging.tokens';
import { UsageWriter } from '../usage/usage-writer.service';
import { estimationBody, splitInput, toBase64, validateEmbeddingsRequest } from './dto/validate-embeddings-request';

export const EMBEDDINGS_ENDPOINT = '/v1/embeddings';

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
 * Embeddings across providers. `POST /v1/embeddings` goes through the same authentication,
 * governance (allowed models, rate limits, budgets) and usage log as chat, one attempt, no
 * fallbacks; `embedForGateway` is the same call for TokenHub's own features.
 */
@Injectable()
export class EmbeddingsService implements OnModuleDestroy {
  private readonly inFlight = new Set<AbortController>();
  private whenIdle?: () => void;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly registry: ProviderRegistry,
    private readonly catalog: ModelCatalog,
    private readonly auth: AuthService,
    private readonly governance: GovernanceService,
    private readonly usage: UsageWriter,
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
      throw new InvalidRequestError(
        `Provider '${target.providerName}' has no embeddings API; use one that has (e.g. openai, azure, gemini, vertex, cohere, bedrock).`,
        param,
        'embeddings_not_supported',
      );
    }
    return target;
  }

  /** Calls the resolved target's embeddings API and prices what it reports. */
  async embed(target: ResolvedModel, input: string[], options: EmbedOptions, signal: AbortSignal): Promise<EmbeddingOutcome> {
    const result = await target.provider.embed!({ model: target.model, input, ...options, signal });
    const usage = result.usage;
    return {
      vectors: result.vectors,
      provider: target.providerName,
      model: target.model,
      usage: usage ? { promptTokens: usage.promptTokens, totalTokens: usage.totalTokens } : null,
      costUsd: usage ? this.catalog.cost(target.providerName, target.model, usage) : null,
    };
  }

  /** `POST /v1/embeddings`: authenticate, validate, admit, embed, answer, and record usage whatever happens. */
  async handle(req: Request, res: Response): Promise<void> {
    const ex = new ChatExchange(res.locals.requestId as string, res);
    const abort = new AbortController();
    this.inFlight.add(abort);
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      ex.captureAudit(req.body);
      ex.principal = await this.auth.authenticate(req.headers.authorization);
      if (!req.is('application/json')) {
        throw new InvalidRequestError('Content-Type must be application/json.', null, 'unsupported_media_type', 415);
      }
      const dto = await validateEmbeddingsRequest(req.body);
      const target = this.resolve(dto.model);
      const { texts, tokens } = splitInput(dto.input);
      const admission = await this.governance.admit(ex.principal, ex.requestId, estimationBody(texts, tokens), [target]);
      if (admission) {
        admission.applyHeaders(res);
        ex.releaseLimits = () => admission.release(ex);
      }
      const started = performance.now();
      let outcome: EmbeddingOutcome;
      try {
        outcome = await this.embed(target, texts, { tokens, dimensions: dto.dimensions, user: dto.user }, abort.signal);
      } catch (err) {
        if (err instanceof UpstreamError) this.recordAttempt(ex, target, started, err);
        throw err;
      }
      this.recordAttempt(ex, target, started);
      if (outcome.usage) {
        ex.usage = { promptTokens: outcome.usage.promptTokens, completionTokens: 0, cachedTokens: 0, totalTokens: outcome.usage.totalTokens } satisfies TokenUsage;
        ex.costUsd = outcome.costUsd;
        ex.priceCatalogVersion = this.catalog.version;
      }
      await ex.releaseLimits?.();
      const base64 = dto.encoding_format === 'base64';
      const body = JSON.stringify({
        object: 'list',
        data: outcome.vectors.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? toBase64(vector) : vector })),
        model: outcome.model,
        usage: { prompt_tokens: outcome.usage?.promptTokens ?? 0, total_tokens: outcome.usage?.totalTokens ?? 0 },
      });
      ex.setRoutingHeaders();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    } catch (err) {
      await ex.releaseLimits?.();
      if (abort.signal.aborted && !(err instanceof GatewayError && err.status < 499)) ex.fail(new ClientCancelledError());
      else ex.fail(err, this.logger);
    } finally {
      this.usage.record({ ...ex.toRecord(), endpoint: EMBEDDINGS_ENDPOINT, stream: false });
      await ex.releaseLimits?.();
      this.inFlight.delete(abort);
      if (this.inFlight.size === 0) this.whenIdle?.();
    }
  }

  /** The app is closing: cancels what still runs and waits until each request is recorded. */
  async onModuleDestroy(): Promise<void> {
    if (this.inFlight.size === 0) return;
    const idle = new Promise<void>((resolve) => (this.whenIdle = resolve));
    for (const abort of this.inFlight) abort.abort();
    await idle;
  }

  private recordAttempt(ex: ChatExchange, target: ResolvedModel, started: number, err?: UpstreamError): void {
    const latencyMs = Math.round(performance.now() - started);
    if (err) {
      ex.attempts.push({ provider: target.providerName, model: target.model, status: err.kind === 'http' ? err.status : undefined, outcome: 'error', error: err.message.slice(0, 500), latencyMs });
      return;
    }
    ex.attempts.push({ provider: target.providerName, model: target.model, status: 200, outcome: 'success', latencyMs });
    ex.servedProvider = target.providerName;
    ex.servedModel = target.model;
  }
}
