import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import type { ResolvedModel } from '@tokenhub/providers';
import { ResponseCacheEntryEntity, ResponseCacheRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import type { ChatExchange } from '../chat/chat-exchange';
import { SseWriter } from '../chat/sse-writer';
import { EmbeddingsService } from '../embeddings/embeddings.service';
import { LOGGER } from '../logging.tokens';
import { cacheDirectives } from './cache-directives';
import { CacheKey, cacheKey } from './cache-key';
import { CacheWriter } from './cache-writer.service';
import { CachedCompletion, completionBody, completionChunks, CompletionAssembler, fromCompletionBody, tokenUsage } from './cached-completion';
import { bandKeys, encodeVector, unitVector } from './lsh';
import { nearestInScope } from './semantic-search';

export type CacheResult = 'hit' | 'semantic-hit' | 'miss' | 'bypass';

/** The last user turn's embedding, computed by a lookup and kept for the write. */
interface LookupEmbedding {
  unit: Float32Array;
  lshKeys: number[];
  costUsd: number | null;
}

interface Lookup {
  entry: ResponseCacheEntryEntity | null;
  result: CacheResult;
  similarity: number | null;
  embedding: LookupEmbedding | null;
}

/**
 * The response cache keyed by `prompt_cache_key`. A request that names a key is looked up
 * in that namespace, scoped to its owner (the key's team) and to everything that changes the
 * answer (see `cacheKey`): first exactly, then, with `CACHE_EMBEDDINGS_MODEL` set, by the
 * similarity of its last user turn among entries of the same scope (same history). A hit is
 * answered here, as JSON or as a chunk stream; a miss arms the exchange to store the answer
 * once it has been served, off the hot path. A failure of the cache or of the embeddings
 * call is a miss, never an error.
 */
@Injectable()
export class ResponseCacheService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly repository: ResponseCacheRepository,
    private readonly writer: CacheWriter,
    private readonly embeddings: EmbeddingsService,
  ) {}

  /**
   * Called once the request is admitted. Returns true when a cached answer was sent (and
   * the exchange filled in as served); false when the request goes upstream.
   */
  async serve(ex: ChatExchange, req: { headers: IncomingHttpHeaders }, body: Record<string, unknown>, targets: ResolvedModel[], signal: AbortSignal): Promise<boolean> {
    if (!ex.principal) return false;
    // Key first, then team, then customer: the first level that sets it.
    const policy = <K extends 'cacheNamespace' | 'cacheTtlSeconds'>(field: K) =>
      ex.principal?.kind === 'admin' ? null : (ex.principal?.scopes.map((s) => s.limits?.[field]).find((v) => v !== null && v !== undefined) ?? null);
    const namespace = typeof body.prompt_cache_key === 'string' && body.prompt_cache_key.length > 0 ? body.prompt_cache_key : policy('cacheNamespace');
    if (!namespace) return false;
    const directives = cacheDirectives(req.headers);
    const owner = ex.principal.kind === 'admin' ? ex.principal.id : (ex.principal.teamId ?? ex.principal.id);
    const key = cacheKey({ namespace, owner, models: targets.map((t) => `${t.providerName}/${t.model}`), body });

    let lookup: Lookup = { entry: null, result: directives.noCache ? 'bypass' : 'miss', similarity: null, embedding: null };
    if (!directives.noCache) {
      try {
        lookup = await withDeadline(this.lookup(key, signal), this.config.cache.lookupTimeoutMs);
      } catch (err) {
        if (signal.aborted) throw err;
        this.logger.warn({ err, requestId: ex.requestId }, 'response cache lookup failed: served as a miss');
      }
    }
    ex.cacheResult = lookup.result;
    ex.res.setHeader('x-tokenhub-cache', lookup.result);
    if (lookup.entry) {
      await this.replay(ex, lookup.entry, lookup, body);
      return true;
    }
    ex.cacheLookupCostUsd = lookup.embedding?.costUsd ?? 0;
    if (!directives.noStore) {
      const ttlSeconds = directives.ttlSeconds ?? policy('cacheTtlSeconds') ?? this.config.cache.namespaceTtlSeconds[namespace] ?? this.config.cache.ttlSeconds;
      const keyId = ex.principal.kind === 'virtual_key' ? ex.principal.keyId : null;
      ex.cacheWrite = new CacheEntryCollector(ex, this.config.cache.maxEntryBytes, (completion) => this.store(ex, completion, { namespace, owner, keyId, key, ttlSeconds, embedding: lookup.embedding }));
    }
    return false;
  }

  private async lookup(key: CacheKey, signal: AbortSignal): Promise<Lookup> {
    const exact = await this.repository.findExact(key.requestHash);
    if (exact) return { entry: exact, result: 'hit', similarity: null, embedding: null };
    const embedding = await this.embed(key, signal);
    if (!embedding) return { entry: null, result: 'miss', similarity: null, embedding: null };
    const best = await nearestInScope(this.repository, key.scopeHash, embedding.unit, embedding.lshKeys);
    if (best && best.similarity >= this.config.cache.similarityThreshold) {
      const entry = await this.repository.findById(best.id);
      if (entry) return { entry, result: 'semantic-hit', similarity: Math.min(1, best.similarity), embedding };
    }
    return { entry: null, result: 'miss', similarity: null, embedding };
  }

  /** The last user turn's embedding; null without an embeddings model, a user turn, or when the call fails. */
  private async embed(key: CacheKey, signal: AbortSignal): Promise<LookupEmbedding | null> {
    const model = this.config.cache.embeddingsModel;
    if (!model || !key.lastUserText) return null;
    try {
      const outcome = await this.embeddings.embedForGateway(model, [key.lastUserText], AbortSignal.any([signal, AbortSignal.timeout(this.config.cache.embeddingTimeoutMs)]));
      const unit = outcome.vectors[0] ? unitVector(outcome.vectors[0]) : null;
      if (!unit) return null;
      // The model is part of the band keys: vectors of another model never meet.
      return { unit, lshKeys: bandKeys(unit, `${key.scopeHash}:${model}`), costUsd: outcome.costUsd };
    } catch (err) {
      if (signal.aborted) throw err;
      this.logger.warn({ err: (err as Error).message, model }, 'response cache embedding failed: exact lookup only');
      return null;
    }
  }

  /** Answers from the cache: zero provider cost (the lookup's embedding, if any), what the answer cost first recorded as saved. */
  private async replay(ex: ChatExchange, entry: ResponseCacheEntryEntity, lookup: Lookup, body: Record<string, unknown>): Promise<void> {
    const completion = entry.completion as unknown as CachedCompletion;
    ex.cacheSimilarity = lookup.similarity;
    ex.cacheSavedUsd = entry.costUsd;
    ex.servedProvider = entry.servedProvider;
    ex.servedModel = entry.servedModel;
    ex.usage = tokenUsage(completion.usage);
    ex.costUsd = lookup.embedding?.costUsd ?? 0;
    await ex.releaseLimits?.();
    ex.setRoutingHeaders();
    if (lookup.similarity !== null) ex.res.setHeader('x-tokenhub-cache-similarity', lookup.similarity.toFixed(4));
    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    if (!ex.stream) {
      const json = completionBody(completion, id, created);
      ex.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
      ex.res.end(json);
      return;
    }
    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const sse = new SseWriter(ex.res);
    ex.ttftMs = ex.elapsedMs();
    for (const data of completionChunks(completion, id, created, includeUsage)) {
      await sse.data(data);
      ex.streamedChunks++;
    }
    sse.done();
  }

  private store(ex: ChatExchange, completion: CachedCompletion, at: { namespace: string; owner: string; keyId: string | null; key: CacheKey; ttlSeconds: number; embedding: LookupEmbedding | null }): void {
    if (!ex.servedProvider || !ex.servedModel) return;
    if (Buffer.byteLength(JSON.stringify(completion)) > this.config.cache.maxEntryBytes) return;
    this.writer.enqueue({
      namespace: at.namespace,
      // The scope hash holds the whole owner; the column (for purges by team) its first 200 characters.
      owner: at.owner.slice(0, 200),
      keyId: at.keyId,
      scopeHash: at.key.scopeHash,
      requestHash: at.key.requestHash,
      embedding: at.embedding ? encodeVector(at.embedding.unit) : null,
      lshKeys: at.embedding?.lshKeys ?? null,
      completion: completion as unknown as Record<string, unknown>,
      servedProvider: ex.servedProvider,
      servedModel: ex.servedModel,
      costUsd: ex.costUsd,
      expiresAt: new Date(Date.now() + at.ttlSeconds * 1000),
    });
  }
}

/** The promise's value, or a rejection once `ms` have passed (the work itself goes on, unawaited). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`response cache lookup took over ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** What the chat path hands a served answer to (see `ChatExchange.cacheWrite`). */
export class CacheEntryCollector {
  private readonly assembler = new CompletionAssembler();
  /** Bytes of chunks collected; past the entry limit the stream is not stored. */
  private collected = 0;

  constructor(
    private readonly ex: ChatExchange,
    private readonly maxBytes: number,
    private readonly store: (completion: CachedCompletion) => void,
  ) {}

  /** A `chat.completion` body that was sent. */
  complete(body: Buffer | string): void {
    const completion = fromCompletionBody(body);
    if (completion) this.store(completion);
  }

  /** One chunk payload of a stream being sent. */
  chunk(data: string): void {
    this.collected += data.length;
    if (this.collected <= this.maxBytes * 4) this.assembler.add(data);
  }

  /** The stream ended well (`[DONE]` sent). */
  finish(): void {
    if (this.collected > this.maxBytes * 4 || (this.ex.res.destroyed && !this.ex.res.writableFinished)) return;
    const completion = this.assembler.result();
    if (completion) this.store(completion);
  }
}
