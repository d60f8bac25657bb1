import { DataSource } from 'typeorm';
import { LATENCY_BUCKETS_MS } from '../entities/usage-rollup.entity';

export const REPORT_GROUPS = ['key', 'team', 'customer', 'model', 'provider', 'user', 'day'] as const;
export type ReportGroup = (typeof REPORT_GROUPS)[number];

export interface UsageReportQuery {
  groupBy: ReportGroup;
  /** Buckets starting at or after this instant (an hour boundary). */
  from?: Date;
  /** Buckets starting before this instant (an hour boundary). */
  to?: Date;
  keyId?: string;
  teamId?: string;
  customerId?: string;
  limit: number;
}

/** Totals of one group (or of everything): sums over the hourly rollups. */
export interface UsageTotals {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  unpricedRequests: number;
  /** Requests answered from the response cache, and what their answers cost when they were made. */
  cacheHits: number;
  cacheSavedUsd: number;
  latencyMsSum: number;
  /** Counts per LATENCY_BUCKETS_MS bucket, the last open-ended. */
  latencyHistogram: number[];
}

export interface UsageReportRow extends UsageTotals {
  /** The group's value: an id, a model, a provider, a user, or a day (ISO date); null for "none". */
  group: string | null;
  /** The key's, team's or customer's name, when grouping by one. */
  name: string | null;
}

/** What each grouping groups on, and where a name comes from. */
const GROUPS: Record<ReportGroup, { expr: string; names?: string }> = {
  key: { expr: 'r.key_id', names: 'virtual_keys' },
  team: { expr: 'r.team_id', names: 'teams' },
  customer: { expr: 'r.customer_id', names: 'customers' },
  model: { expr: 'r.model' },
  provider: { expr: 'r.provider' },
  user: { expr: 'r."user"' },
  day: { expr: `to_char(date_trunc('day', r.bucket_start, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD')` },
};

const TOTALS = `sum(r.requests) AS requests, sum(r.errors) AS errors, sum(r.prompt_tokens) AS prompt_tokens,
  sum(r.completion_tokens) AS completion_tokens, sum(r.cached_tokens) AS cached_tokens, sum(r.cost_usd) AS cost_usd,
  sum(r.unpriced_requests) AS unpriced_requests, sum(r.cache_hits) AS cache_hits, sum(r.cache_saved_usd) AS cache_saved_usd, sum(r.latency_ms_sum) AS latency_ms_sum,
  ARRAY[${[...LATENCY_BUCKETS_MS, null].map((_, i) => `coalesce(sum(r.latency_histogram[${i + 1}]), 0)`).join(', ')}] AS latency_histogram`;

type Row = Record<string, unknown>;

/**
 * Usage reports, served from the hourly rollups only: a report never reads the raw usage
 * records, so it costs the same whatever the traffic was.
 */
export class UsageRollupRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One row per group, most requests first (by day: oldest first); at most `limit` rows. */
  async report(q: UsageReportQuery): Promise<UsageReportRow[]> {
    const { sql, params } = this.reportSql(q);
    return (await this.dataSource.query<Row[]>(sql, params)).map((row) => ({ group: (row.group as string | null) ?? null, name: (row.name as string | null) ?? null, ...totalsOf(row) }));
  }

  /** The sums over every group of the same filters. */
  async totals(q: Omit<UsageReportQuery, 'groupBy' | 'limit'>): Promise<UsageTotals> {
    const { sql, params } = this.totalsSql(q);
    return totalsOf((await this.dataSource.query<Row[]>(sql, params))[0]);
  }

  /** The plans Postgres makes for the two statements a report runs (EXPLAIN, not run), as text. */
  async explain(q: UsageReportQuery): Promise<string[]> {
    const plans: string[] = [];
    for (const { sql, params } of [this.reportSql(q), this.totalsSql(q)]) {
      const rows = await this.dataSource.query<Array<{ 'QUERY PLAN': string }>>(`EXPLAIN (VERBOSE) ${sql}`, params);
      plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
    }
    return plans;
  }

  reportSql(q: UsageReportQuery): { sql: string; params: unknown[] } {
    const { where, params } = filters(q);
    const group = GROUPS[q.groupBy];
    const order = q.groupBy === 'day' ? 's."group" ASC' : 's.requests DESC, s."group" ASC NULLS LAST';
    params.push(q.limit);
    const grouped = `SELECT ${group.expr} AS "group", ${TOTALS} FROM usage_rollups r ${where} GROUP BY 1`;
    const sql = group.names
      ? `SELECT s.*, n.name FROM (${grouped}) s LEFT JOIN ${group.names} n ON n.id = s."group" ORDER BY ${order} LIMIT $${params.length}`
      : `SELECT s.*, NULL AS name FROM (${grouped}) s ORDER BY ${order} LIMIT $${params.length}`;
    return { sql, params };
  }

  totalsSql(q: Omit<UsageReportQuery, 'groupBy' | 'limit'>): { sql: string; params: unknown[] } {
    const { where, params } = filters(q);
    return { sql: `SELECT ${TOTALS} FROM usage_rollups r ${where}`, params };
  }
}

function filters(q: Omit<UsageReportQuery, 'groupBy' | 'limit'>): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, value: unknown) => {
    params.push(value);
    conditions.push(condition.replace('?', `$${params.length}`));
  };
  if (q.from) add('r.bucket_start >= ?', q.from.toISOString());
  if (q.to) add('r.bucket_start < ?', q.to.toISOString());
  if (q.keyId) add('r.key_id = ?', q.keyId);
  if (q.teamId) add('r.team_id = ?', q.teamId);
  if (q.customerId) add('r.customer_id = ?', q.customerId);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

function totalsOf(row: Row): UsageTotals {
  return {
    requests: num(row.requests),
    errors: num(row.errors),
    promptTokens: num(row.prompt_tokens),
    completionTokens: num(row.completion_tokens),
    cachedTokens: num(row.cached_tokens),
    costUsd: num(row.cost_usd),
    unpricedRequests: num(row.unpriced_requests),
    cacheHits: num(row.cache_hits),
    cacheSavedUsd: num(row.cache_saved_usd),
    latencyMsSum: num(row.latency_ms_sum),
    latencyHistogram: parseArray(row.latency_histogram).map(num),
  };
}

/** node-postgres parses numeric[] as a string ("{1,2}"); PGlite as an array. */
function parseArray(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return value.replace(/^\{|\}$/g, '').split(',').filter((s) => s.length > 0);
  return [];
}
