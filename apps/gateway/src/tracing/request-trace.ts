import { Context, Span, SpanKind, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import type { AttemptRecord } from '@tokenhub/store';
import type { ObservedRequest } from '../metrics/metrics.service';

/** The parts of a finished request a trace carries: never a key, a prompt or an answer. */
export interface TracedRequest extends ObservedRequest {
  requestId: string;
  requestedModel: string | null;
  errorType: string | null;
}

/**
 * One chat request's span (kind server, child of the caller's `traceparent` when sent) and
 * a child span per upstream attempt (kind client; a stream's attempt ends at its first chunk).
 */
export class RequestTrace {
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    parent: Context,
  ) {
    this.context = trace.setSpan(parent, span);
  }

  /**
   * An attempt that has just ended; `startedHr` and `endedHr` are its `performance.now()` at
   * the start and the end (the record's `latencyMs` is rounded: ending the span by it could
   * overlap the next attempt).
   */
  attempt(a: AttemptRecord, startedHr: number, endedHr: number): void {
    const start = performance.timeOrigin + startedHr;
    const span = this.tracer.startSpan(
      `chat ${a.model}`,
      {
        kind: SpanKind.CLIENT,
        startTime: start,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.system': a.provider,
          'gen_ai.request.model': a.model,
          'tokenhub.attempt.outcome': a.outcome,
          ...(a.status !== undefined ? { 'http.response.status_code': a.status } : {}),
        },
      },
      this.context,
    );
    if (a.outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: a.status ? `HTTP ${a.status}` : 'no response' });
    span.end(performance.timeOrigin + endedHr);
  }

  end(r: TracedRequest): void {
    const s = this.span;
    s.setAttribute('tokenhub.request_id', r.requestId);
    s.setAttribute('http.response.status_code', r.statusCode);
    s.setAttribute('tokenhub.stream', r.stream);
    s.setAttribute('tokenhub.attempts', r.attempts.length);
    if (r.requestedModel) s.setAttribute('gen_ai.request.model', r.requestedModel);
    if (r.servedProvider) s.setAttribute('gen_ai.system', r.servedProvider);
    if (r.servedModel) s.setAttribute('gen_ai.response.model', r.servedModel);
    if (r.promptTokens !== null) s.setAttribute('gen_ai.usage.input_tokens', r.promptTokens);
    if (r.completionTokens !== null) s.setAttribute('gen_ai.usage.output_tokens', r.completionTokens);
    if (r.cachedTokens) s.setAttribute('tokenhub.usage.cached_tokens', r.cachedTokens);
    if (r.costUsd !== null) s.setAttribute('tokenhub.cost_usd', r.costUsd);
    if (r.ttftMs !== null) s.setAttribute('tokenhub.ttft_ms', r.ttftMs);
    if (r.cacheResult) s.setAttribute('tokenhub.cache', r.cacheResult);
    if (r.errorCode || r.errorType) s.setAttribute('error.type', r.errorCode ?? r.errorType!);
    if (r.statusCode >= 500) s.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${r.statusCode}` });
    s.end();
  }
}
