import type { ServerResponse } from 'node:http';
import { headerValue, storable, toErrorResponse } from '@tokenhub/common';
import type { TokenUsage } from '@tokenhub/providers';
import type { AttemptRecord, UsageRecordEntity } from '@tokenhub/store';
import { Principal } from '../auth/principal';
import type { RequestTrace } from '../tracing/request-trace';
import { CHAT_PATH } from './chat-request';
import { METADATA_MAX_CHARS } from './dto/chat-completion-request.dto';
import { isSmallJsonObject } from './dto/message-content.validator';

/**
 * Everything known about one request to the chat endpoint while it runs, and the
 * usage record it becomes. One per request; nothing here touches the database.
 */
export class ChatExchange {
  readonly startedAt = Date.now();
  private readonly startedHr = performance.now();
  principal?: Principal;
  user: string | null = null;
  metadata: Record<string, unknown> | null = null;
  requestedModel: string | null = null;
  stream = false;
  servedProvider: string | null = null;
  servedModel: string | null = null;
  readonly attempts: AttemptRecord[] = [];
  usage: TokenUsage | null = null;
  costUsd: number | null = null;
  priceCatalogVersion: string | null = null;
  ttftMs: number | null = null;
  /** Chunks streamed to the client: the output estimate when a stream ends without reporting usage. */
  streamedChunks = 0;
  /** Parameters the provider cannot honour are dropped rather than refused (the caller opted in). */
  dropParams = false;
  /** What was dropped, named in `x-tokenhub-dropped-params`. */
  readonly droppedParams = new Set<string>();
  /** Gives back what governance holds for this request (budgets settled, limits freed); runs once. */
  releaseLimits: (() => Promise<void>) | null = null;
  /** This request's trace, when tracing is configured. */
  trace: RequestTrace | null = null;
  statusCode = 200;
  error: { type: string; code: string | null; message: string } | null = null;
  /** The response cache's verdict (`x-tokenhub-cache`); null when the request did not use the cache. */
  cacheResult: string | null = null;
  cacheSimilarity: number | null = null;
  /** On a hit: what the cached answer cost when it was made. */
  cacheSavedUsd: number | null = null;
  /** What a cache lookup that missed cost (its embedding call), added to the recorded cost. */
  cacheLookupCostUsd = 0;
  /** Set on a cache miss whose answer is to be stored: the chat path hands it what it sends. */
  cacheWrite: { complete(body: Buffer): void; chunk(data: string): void; finish(): void } | null = null;

  constructor(
    readonly requestId: string,
    readonly res: ServerResponse,
  ) {}

  elapsedMs(): number {
    return Math.round(performance.now() - this.startedHr);
  }

  /** Reads what the audit record keeps from the body, before (and whether or not) it validates. */
  captureAudit(body: unknown): void {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return;
    const b = body as Record<string, unknown>;
    if (typeof b.user === 'string') this.user = b.user.slice(0, 512);
    // Kept even when the request is refused, within the size the endpoint accepts.
    if (isSmallJsonObject(b.metadata, METADATA_MAX_CHARS)) this.metadata = b.metadata;
    if (typeof b.model === 'string') this.requestedModel = b.model.slice(0, 300);
    this.stream = b.stream === true;
  }

  /** Sets the headers that say how the request was served. */
  setRoutingHeaders(): void {
    this.res.setHeader('x-tokenhub-attempts', String(this.attempts.length));
    if (this.servedProvider) this.res.setHeader('x-tokenhub-provider', this.servedProvider);
    // Both can come from the client (a model name, unknown parameter names) in characters no header may hold.
    if (this.servedModel) this.res.setHeader('x-tokenhub-model', headerValue(this.servedModel));
    if (this.droppedParams.size) this.res.setHeader('x-tokenhub-dropped-params', headerValue([...this.droppedParams].join(', ')));
  }

  /** Records a failure and, unless the response has started, sends the OpenAI-shaped error. */
  fail(err: unknown, logger?: Parameters<typeof toErrorResponse>[2]): void {
    const response = toErrorResponse(err, this.requestId, logger);
    this.statusCode = response.status;
    this.error = { type: response.body.error.type, code: response.body.error.code, message: response.body.error.message };
    if (this.res.headersSent || this.res.destroyed) return;
    if (this.attempts.length > 0) this.setRoutingHeaders();
    this.res.writeHead(response.status, { ...response.headers, 'content-type': 'application/json' });
    this.res.end(JSON.stringify(response.body));
  }

  /** The usage record; the strings that come from clients or upstreams (`user`, models, metadata, error messages) made storable in Postgres. */
  toRecord(): UsageRecordEntity {
    const u = this.usage;
    return {
      requestId: this.requestId,
      createdAt: new Date(this.startedAt),
      finishedAt: new Date(),
      endpoint: CHAT_PATH,
      keyId: this.principal?.kind === 'virtual_key' ? this.principal.keyId : null,
      teamId: this.principal && this.principal.kind !== 'admin' ? this.principal.teamId : null,
      customerId: this.principal && this.principal.kind !== 'admin' ? this.principal.customerId : null,
      principal: storable(this.principal?.id ?? 'anonymous'),
      user: storable(this.user),
      metadata: storable(this.metadata),
      requestedModel: storable(this.requestedModel),
      servedProvider: this.servedProvider,
      servedModel: storable(this.servedModel),
      attempts: storable(this.attempts),
      statusCode: this.statusCode,
      errorType: storable(this.error?.type ?? null),
      errorCode: storable(this.error?.code ?? null),
      errorMessage: storable(this.error?.message.slice(0, 4000) ?? null),
      promptTokens: u?.promptTokens ?? null,
      completionTokens: u?.completionTokens ?? null,
      cachedTokens: u?.cachedTokens ?? null,
      totalTokens: u?.totalTokens ?? null,
      costUsd: this.costUsd !== null && this.cacheLookupCostUsd ? this.costUsd + this.cacheLookupCostUsd : this.costUsd,
      priceCatalogVersion: this.priceCatalogVersion,
      latencyMs: this.elapsedMs(),
      ttftMs: this.ttftMs,
      stream: this.stream,
      cacheResult: this.cacheResult,
      cacheSimilarity: this.cacheSimilarity,
      cacheSavedUsd: this.cacheSavedUsd,
    };
  }
}

