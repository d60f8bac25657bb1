import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '@tokenhub/common';
import { UsageRollupRepository, UsageTotals } from '@tokenhub/store';
import { UsageReportQuery, UsageReportView, UsageTotalsView } from './dto/usage-report.dto';
import { latencyPercentile } from './latency';

const HOUR_MS = 3_600_000;

/** Usage reports, from the hourly rollups only (never the raw records). */
@Injectable()
export class ReportsService {
  constructor(private readonly rollups: UsageRollupRepository) {}

  async usage(q: UsageReportQuery): Promise<UsageReportView> {
    const from = q.from ? new Date(Math.floor(Date.parse(q.from) / HOUR_MS) * HOUR_MS) : undefined;
    const to = q.to ? new Date(Math.ceil(Date.parse(q.to) / HOUR_MS) * HOUR_MS) : undefined;
    if (from && to && from >= to) throw new InvalidRequestError('to must be after from.', 'to', 'invalid_value');
    const limit = q.limit ?? 1000;
    const filters = { from, to, keyId: q.key_id, teamId: q.team_id, customerId: q.customer_id };
    const [rows, totals] = await Promise.all([this.rollups.report({ ...filters, groupBy: q.group_by, limit: limit + 1 }), this.rollups.totals(filters)]);
    return {
      object: 'usage_report',
      group_by: q.group_by,
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      data: rows.slice(0, limit).map((r) => ({ group: r.group, name: r.name, ...totalsView(r) })),
      has_more: rows.length > limit,
      totals: totalsView(totals),
    };
  }
}

function totalsView(t: UsageTotals): UsageTotalsView {
  return {
    requests: t.requests,
    errors: t.errors,
    prompt_tokens: t.promptTokens,
    completion_tokens: t.completionTokens,
    cached_tokens: t.cachedTokens,
    total_tokens: t.promptTokens + t.completionTokens,
    cost_usd: Math.round(t.costUsd * 1e10) / 1e10,
    unpriced_requests: t.unpricedRequests,
    cache_hits: t.cacheHits,
    cache_saved_usd: Math.round(t.cacheSavedUsd * 1e10) / 1e10,
    latency_ms: {
      avg: t.requests > 0 ? Math.round((t.latencyMsSum / t.requests) * 10) / 10 : null,
      p50: latencyPercentile(t.latencyHistogram, 0.5),
      p95: latencyPercentile(t.latencyHistogram, 0.95),
      p99: latencyPercentile(t.latencyHistogram, 0.99),
    },
  };
}
