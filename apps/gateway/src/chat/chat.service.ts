import type { ServerResponse } from 'node:http';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { errorTypeForStatus, GatewayError, InvalidRequestError } from '@tokenhub/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { ChatCall, ClientCancelledError, ModelCatalog, ProviderRegistry, ResolvedModel, unsupportedParameterError, UpstreamError } from '@tokenhub/providers';
import type { Logger } from 'pino';
import { AuthService } from '../auth/auth.service';
import { ResponseCacheService } from '../cache/response-cache.service';
import { GovernanceService } from '../governance/governance.service';
import { LOGGER } from '../logging.tokens';
import { MetricsService } from '../metrics/metrics.service';
import { TracingService } from '../tracing/tracing.service';
import { UsageWriter } from '../usage/usage-writer.service';
import { ChatExchange } from './chat-exchange';
import type { ChatRequest } from './chat-request';
import { DEFAULT_TEMPERATURE } from './dto/chat-completion-request.dto';
import { validateChatRequest } from './dto/validate-chat-request';
import { SseWriter } from './sse-writer';

/** Fields TokenHub consumes itself and never forwards. */
const GATEWAY_FIELDS = ['fallbacks', 'metadata'];
const NULL_USAGE = /,\s*"usage"\s*:\s*null/;
const DROP_PARAMS_HEADER = 'x-tokenhub-drop-params';

/**
 * The chat completions path: authenticate, validate, resolve the model and its
 * fallbacks, try each with retries, answer (JSON or SSE), and record usage, for every
 * request, whatever happens.
 */
@Injectable()
export class ChatService implements OnModuleDestroy {
  /** Requests being handled; closing the app waits for them, so that each one's usage is recorded. */
  private readonly inFlight = new Set<AbortController>();
  private whenIdle?: () => void;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly auth: AuthService,
    private readonly registry: ProviderRegistry,
    private readonly catalog: ModelCatalog,
    private readonly usage: UsageWriter,
    private readonly governance: GovernanceService,
    private readonly cache: ResponseCacheService,
    private readonly metrics: MetricsService,
    private readonly tracing: TracingService,
  ) {
    metrics.trackInFlight(() => this.inFlight.size);
  }

  async handle(req: ChatRequest, res: ServerResponse): Promise<void> {
    const exchange = new ChatExchange(req.requestId, res);
    exchange.trace = this.tracing.startRequest(req);
    const abort = new AbortController();
    this.inFlight.add(abort);
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      exchange.captureAudit(req.body);
      exchange.dropParams = dropParamsWanted(req.headers[DROP_PARAMS_HEADER], this.config.dropParams);
      exchange.principal = await this.auth.authenticate(req.headers.authorization);
      if (!req.json) {
        throw new InvalidRequestError('Content-Type must be application/json.', null, 'unsupported_media_type', 415);
      }
      const dto = await validateChatRequest(req.body);
      const targets = [this.registry.resolve(dto.model), ...(dto.fallbacks ?? []).map((m, i) => this.registry.resolve(m, `fallbacks[${i}]`))];
      const wantsUsage = dto.stream_options?.include_usage === true;
      // Budgets, rate limits, concurrency and allowed models: refused here (403/402/429), or held until released.
      const admission = await this.governance.admit(exchange.principal, exchange.requestId, req.body as Record<string, unknown>, targets);
      if (admission) {
        admission.applyHeaders(res);
        exchange.releaseLimits = () => admission.release(exchange);
      }
      // A `prompt_cache_key` hit is answered from the cache; a miss goes on, armed to store the answer.
      if (await this.cache.serve(exchange, req, req.body as Record<string, unknown>, targets, abort.signal)) return;
      await this.runAttempts(exchange, req.body as Record<string, unknown>, targets, wantsUsage, abort.signal);
    } catch (err) {
      // Given back before the client hears of the failure, so its next request finds the limits free.
      await exchange.releaseLimits?.();
      if (abort.signal.aborted && !(err instanceof GatewayError && err.status < 499)) exchange.fail(new ClientCancelledError());
      else exchange.fail(err, this.logger);
    } finally {
      const record = exchange.toRecord();
      this.usage.record(record);
      this.metrics.observe(record);
      exchange.trace?.end(record);
      await exchange.releaseLimits?.();
      this.untrack(abort);
    }
  }

  /** Answers a request whose body could not be read (bad JSON, too large), and records it. */
  async reject(req: Pick<ChatRequest, 'requestId' | 'headers'>, res: ServerResponse, err: unknown): Promise<void> {
    const exchange = new ChatExchange(req.requestId, res);
    exchange.trace = this.tracing.startRequest(req);
    const tracked = new AbortController();
    this.inFlight.add(tracked);
    try {
      exchange.principal = await this.auth.authenticate(req.headers.authorization);
      exchange.fail(err, this.logger);
    } catch (authError) {
      exchange.fail(authError, this.logger);
    } finally {
      const record = exchange.toRecord();
      this.usage.record(record);
      this.metrics.observe(record);
      exchange.trace?.end(record);
      this.untrack(tracked);
    }
  }

  /**
   * The app is closing (after the shutdown grace period, or a test's `app.close()`): cancels
   * what still runs and waits until each request has handed its record to the usage writer,
   * whose last flush comes after this (`beforeApplicationShutdown`).
   */
  async onModuleDestroy(): Promise<void> {
    if (this.inFlight.size === 0) return;
    const idle = new Promise<void>((resolve) => (this.whenIdle = resolve));
    for (const abort of this.inFlight) abort.abort();
    await idle;
  }

  private untrack(abort: AbortController): void {
    this.inFlight.delete(abort);
    if (this.inFlight.size === 0) this.whenIdle?.();
  }

  /** Tries each target in order; retries a target while its failure is retryable. */
  private async runAttempts(ex: ChatExchange, body: Record<string, unknown>, targets: ResolvedModel[], wantsUsage: boolean, signal: AbortSignal): Promise<void> {
    const failures: UpstreamError[] = [];
    for (const target of targets) {
      const call: ChatCall = { model: target.model, body: this.upstreamBody(ex, body, target), signal };
      for (let retry = 0; ; retry++) {
        const started = performance.now();
        try {
          if (ex.stream) await this.streamFrom(ex, target, call, wantsUsage, started);
          else await this.completeFrom(ex, target, call, started);
          return;
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          if (!ex.res.headersSent) this.recordAttempt(ex, target, started, err);
          if (ex.res.headersSent) throw err;
          failures.push(err);
          const delay = this.retryDelay(err, retry, target.maxRetries);
          if (delay !== null) {
            await sleep(delay, signal);
            continue;
          }
          if (!err.fallbackable) throw this.finalError(ex, failures);
          break;
        }
      }
    }
    throw this.finalError(ex, failures);
  }

  private async completeFrom(ex: ChatExchange, target: ResolvedModel, call: ChatCall, started: number): Promise<void> {
    const result = await target.provider.complete(call);
    this.recordAttempt(ex, target, started);
    this.account(ex, target, result.usage);
    await ex.releaseLimits?.();
    ex.setRoutingHeaders();
    ex.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(result.body.length) });
    ex.res.end(result.body);
    ex.cacheWrite?.complete(result.body);
  }

  /**
   * Waits for the first chunk before answering, so a failure up to then is still an
   * HTTP error or a fallback. After it, chunks go out as they come; a failure becomes
   * an SSE `error` event and the stream ends without `[DONE]`.
   */
  private async streamFrom(ex: ChatExchange, target: ResolvedModel, call: ChatCall, wantsUsage: boolean, started: number): Promise<void> {
    const iterator = (await target.provider.stream(call))[Symbol.asyncIterator]();
    let next = await iterator.next();
    this.recordAttempt(ex, target, started);
    ex.ttftMs = ex.elapsedMs();
    ex.setRoutingHeaders();
    const sse = new SseWriter(ex.res);
    try {
      while (!next.done) {
        const event = next.value;
        if (event.usage) this.account(ex, target, event.usage);
        if (!event.usageOnly) ex.streamedChunks++;
        ex.cacheWrite?.chunk(event.data);
        // Usage was asked for on the caller's behalf: its chunk, and the `"usage":null` OpenAI
        // then adds to every chunk, are not shown to a caller that did not ask.
        if (wantsUsage) await sse.data(event.data);
        else if (!event.usageOnly) await sse.data(event.data.replace(NULL_USAGE, ''));
        next = await iterator.next();
      }
      await ex.releaseLimits?.();
      sse.done();
      ex.cacheWrite?.finish();
    } catch (err) {
      if (call.signal.aborted) throw new ClientCancelledError();
      const attempt = ex.attempts[ex.attempts.length - 1];
      attempt.outcome = 'error';
      attempt.error = (err as Error).message;
      sse.error(err, ex.requestId);
      throw err;
    }
  }

  /**
   * The request as the provider gets it: TokenHub's own fields out, defaults in. Parameters
   * the provider cannot honour are a 400, or dropped (and named in a header) when the caller
   * opted in.
   */
  private upstreamBody(ex: ChatExchange, body: Record<string, unknown>, target: ResolvedModel): Record<string, unknown> {
    const out: Record<string, unknown> = { ...body, model: target.model };
    for (const field of GATEWAY_FIELDS) delete out[field];
    for (const param of target.provider.unsupportedParameters?.(target.model, out) ?? []) {
      if (!ex.dropParams) throw unsupportedParameterError(target.providerName, param);
      delete out[param];
      ex.droppedParams.add(param);
    }
    if (!target.acceptsPromptCacheKey) delete out.prompt_cache_key;
    if (out.temperature === undefined || out.temperature === null) {
      if (target.entry?.temperature === false) delete out.temperature;
      else out.temperature = DEFAULT_TEMPERATURE;
    }
    // Always ask for usage so streams are accounted; the extra chunk is hidden from callers that did not ask.
    if (ex.stream) out.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
    return out;
  }

  private recordAttempt(ex: ChatExchange, target: ResolvedModel, started: number, err?: UpstreamError): void {
    const ended = performance.now();
    ex.attempts.push({
      provider: target.providerName,
      model: target.model,
      ...(err ? { status: err.kind === 'http' ? err.status : undefined, outcome: 'error' as const, error: err.message.slice(0, 500) } : { status: 200, outcome: 'success' as const }),
      latencyMs: Math.round(ended - started),
    });
    ex.trace?.attempt(ex.attempts[ex.attempts.length - 1], started, ended);
    if (!err) {
      ex.servedProvider = target.providerName;
      ex.servedModel = target.model;
    }
  }

  private account(ex: ChatExchange, target: ResolvedModel, usage: ChatExchange['usage']): void {
    if (!usage) return;
    ex.usage = usage;
    ex.costUsd = this.catalog.cost(target.providerName, target.model, usage);
    ex.priceCatalogVersion = this.catalog.version;
  }

  /** Milliseconds to wait before trying the same target again, or null to move on. */
  private retryDelay(err: UpstreamError, retry: number, maxRetries: number): number | null {
    if (!err.retryable || retry >= maxRetries) return null;
    const { baseDelayMs, maxDelayMs, maxRetryAfterMs } = this.config.retry;
    if (err.retryAfterMs !== undefined) return err.retryAfterMs <= maxRetryAfterMs ? err.retryAfterMs : null;
    const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
    return Math.round(backoff / 2 + Math.random() * (backoff / 2));
  }

  /** One failure passes through as the provider said it; several are listed attempt by attempt. */
  private finalError(ex: ChatExchange, failures: UpstreamError[]): GatewayError {
    const last = failures[failures.length - 1];
    const headers: Record<string, string> = {};
    if (last.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(last.retryAfterMs / 1000));
    const describe = (a: ChatExchange['attempts'][number]) => `${a.provider}/${a.model}: ${a.status ? `${a.status} ` : ''}${a.error}`;
    const message =
      ex.attempts.length === 1
        ? describe(ex.attempts[0])
        : `All ${ex.attempts.length} attempts failed: ${ex.attempts.map((a, i) => `(${i + 1}) ${describe(a)}`).join('; ')}`;
    const type = last.kind === 'http' ? last.type : errorTypeForStatus(last.status);
    return new GatewayError(last.status, message, type, last.code, last.kind === 'http' && failures.length === 1 ? last.param : null, headers);
  }
}

/** `x-tokenhub-drop-params: true|false` overrides `TOKENHUB_DROP_PARAMS` for one request. */
function dropParamsWanted(header: string | string[] | undefined, byDefault: boolean): boolean {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return byDefault;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ClientCancelledError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ClientCancelledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
