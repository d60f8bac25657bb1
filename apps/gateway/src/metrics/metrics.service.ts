import cluster from 'node:cluster';
import { Inject, Injectable } from '@nestjs/common';
import { ServiceUnavailableError } from '@tokenhub/common';
import { ModelCatalog } from '@tokenhub/providers';
import type { AttemptRecord } from '@tokenhub/store';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { UsageWriter } from '../usage/usage-writer.service';
import { offerWorkerMetrics, requestClusterMetrics } from './metrics-cluster';

/** What a finished chat request tells the metrics: the fields of its usage record they read. */
export interface ObservedRequest {
  servedProvider: string | null;
  servedModel: string | null;
  attempts: AttemptRecord[];
  statusCode: number;
  errorCode: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  costUsd: number | null;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  /** The response cache's verdict, when the request used it. */
  cacheResult?: string | null;
}

/** Why governance (or the ledger) refused a request before any upstream call. */
export type RefusalReason = 'requests' | 'tokens' | 'concurrency' | 'budget' | 'model_not_allowed' | 'ledger_full';

/** Distinct provider/model label pairs; past it, new models are counted as `other`. */
const MAX_MODEL_LABELS = 500;
const NONE = 'none';
const OTHER = 'other';
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/**
 * The Prometheus metrics of this process (prefix `tokenhub_`). A chat request is observed
 * once, from its usage record, when it ends (`observe`); gauges are read at scrape time.
 * Labels stay bounded: providers come from the configuration, models from the catalog or
 * the model an upstream served (see `modelLabel`), statuses are HTTP codes.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests: Counter<'provider' | 'model' | 'status' | 'stream'>;
  private readonly duration: Histogram<'provider' | 'model' | 'stream'>;
  private readonly upstream: Histogram<'provider' | 'model' | 'outcome'>;
  private readonly ttft: Histogram<'provider' | 'model'>;
  private readonly tokens: Counter<'provider' | 'model' | 'type'>;
  private readonly cost: Counter<'provider' | 'model'>;
  private readonly fallbacks: Counter<'provider' | 'model'>;
  private readonly retries: Counter<'provider' | 'model'>;
  private readonly cacheResults: Counter<'result'>;
  private readonly refused: Counter<'reason'>;
  private readonly labels = new Map<string, string>();
  private inFlightSource: () => number = () => 0;

  constructor(
    private readonly catalog: ModelCatalog,
    @Inject(UsageWriter) writer: UsageWriter,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'tokenhub_requests_total', help: 'Chat requests by served provider and model, HTTP status and streaming.', labelNames: ['provider', 'model', 'status', 'stream'], registers });
    this.duration = new Histogram({ name: 'tokenhub_request_duration_seconds', help: 'Chat request duration, from arrival to the last byte.', labelNames: ['provider', 'model', 'stream'], buckets: SECONDS, registers });
    this.upstream = new Histogram({ name: 'tokenhub_upstream_duration_seconds', help: 'Upstream attempt duration (to the first chunk for streams).', labelNames: ['provider', 'model', 'outcome'], buckets: SECONDS, registers });
    this.ttft = new Histogram({ name: 'tokenhub_time_to_first_token_seconds', help: 'Streamed requests: time to the first chunk.', labelNames: ['provider', 'model'], buckets: SECONDS, registers });
    this.tokens = new Counter({ name: 'tokenhub_tokens_total', help: 'Tokens by type: prompt, completion and cached prompt tokens.', labelNames: ['provider', 'model', 'type'], registers });
    this.cost = new Counter({ name: 'tokenhub_cost_usd_total', help: 'Cost in USD at catalog prices.', labelNames: ['provider', 'model'], registers });
    this.fallbacks = new Counter({ name: 'tokenhub_fallbacks_total', help: 'Targets given up on for the next fallback, by the target left.', labelNames: ['provider', 'model'], registers });
    this.retries = new Counter({ name: 'tokenhub_retries_total', help: 'Attempts that retried the same target.', labelNames: ['provider', 'model'], registers });
    this.cacheResults = new Counter({ name: 'tokenhub_cache_results_total', help: 'Response cache verdicts (x-tokenhub-cache).', labelNames: ['result'], registers });
    this.refused = new Counter({ name: 'tokenhub_limits_refused_total', help: 'Requests refused by limits, budgets, allowed models or a full usage ledger.', labelNames: ['reason'], registers });
    const source = this;
    new Gauge({ name: 'tokenhub_in_flight_requests', help: 'Chat requests being handled.', registers, collect() { this.set(source.inFlightSource()); } });
    new Gauge({ name: 'tokenhub_usage_ledger_backlog', help: 'Usage records in memory, not yet in the database or the spool.', registers, collect() { this.set(writer.state.buffered); } });
    new Gauge({ name: 'tokenhub_usage_spool_bytes', help: 'Bytes in the on-disk usage spool, waiting for the database.', registers, collect() { this.set(writer.state.spoolBytes); } });
    // In a cluster worker, the primary collects this registry for the aggregate (see metrics-cluster.ts).
    if (cluster.isWorker) offerWorkerMetrics(this.registry);
  }

  /** The chat service reports how many requests it holds; read at scrape time. */
  trackInFlight(source: () => number): void {
    this.inFlightSource = source;
  }

  /** The text a scrape gets: this process's metrics, or every worker's summed in a cluster. */
  async scrape(): Promise<string> {
    if (!cluster.isWorker) return this.registry.metrics();
    try {
      return await requestClusterMetrics();
    } catch (err) {
      throw new ServiceUnavailableError((err as Error).message, 'metrics_unavailable');
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  refusedBy(reason: RefusalReason): void {
    this.refused.inc({ reason });
  }

  /** One finished chat request. */
  observe(r: ObservedRequest): void {
    const provider = r.servedProvider ?? r.attempts[r.attempts.length - 1]?.provider ?? NONE;
    const model = this.modelLabel(provider, r.servedModel ?? r.attempts[r.attempts.length - 1]?.model, r.servedModel !== null);
    const stream = r.stream ? 'true' : 'false';
    this.requests.inc({ provider, model, status: r.statusCode, stream });
    this.duration.observe({ provider, model, stream }, r.latencyMs / 1000);
    if (r.ttftMs !== null) this.ttft.observe({ provider, model }, r.ttftMs / 1000);
    if (r.promptTokens) this.tokens.inc({ provider, model, type: 'prompt' }, r.promptTokens);
    if (r.completionTokens) this.tokens.inc({ provider, model, type: 'completion' }, r.completionTokens);
    if (r.cachedTokens) this.tokens.inc({ provider, model, type: 'cached' }, r.cachedTokens);
    if (r.costUsd) this.cost.inc({ provider, model }, r.costUsd);
    if (r.cacheResult) this.cacheResults.inc({ result: r.cacheResult });
    // Refused before governance counts (`refusedBy`): by the allowed models, or by a full usage ledger.
    if (r.errorCode === 'model_not_allowed' || r.errorCode === 'ledger_full') this.refusedBy(r.errorCode);
    for (let i = 0; i < r.attempts.length; i++) {
      const a = r.attempts[i];
      const label = this.modelLabel(a.provider, a.model, a.outcome === 'success');
      this.upstream.observe({ provider: a.provider, model: label, outcome: a.outcome }, a.latencyMs / 1000);
      if (i === 0) continue;
      const before = r.attempts[i - 1];
      const left = { provider: before.provider, model: this.modelLabel(before.provider, before.model, false) };
      if (before.provider === a.provider && before.model === a.model) this.retries.inc(left);
      else this.fallbacks.inc(left);
    }
  }

  /**
   * The catalog's models by name, and models outside it once an upstream served them; at
   * most MAX_MODEL_LABELS (so names a caller varies, like snapshot suffixes, stay bounded),
   * then `other`. Decisions are remembered, so a request costs one map lookup per model.
   */
  private modelLabel(provider: string, model: string | undefined, served: boolean): string {
    if (model === undefined) return NONE;
    const key = `${provider}/${model}`;
    const known = this.labels.get(key);
    if (known !== undefined) return known;
    if (this.labels.size >= MAX_MODEL_LABELS || !(served || this.catalog.lookup(provider, model))) return OTHER;
    this.labels.set(key, model);
    return model;
  }
}
