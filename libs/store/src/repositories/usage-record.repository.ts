import { DataSource, Repository } from 'typeorm';
import { UsageRecordEntity } from '../entities/usage-record.entity';
import { LATENCY_BUCKETS_MS } from '../entities/usage-rollup.entity';

export interface UsageQuery {
  keyId?: string;
  teamId?: string;
  customerId?: string;
  user?: string;
  /** Matches the requested or the served model. */
  model?: string;
  provider?: string;
  statusCode?: number;
  /** Only records whose metadata contains this object (jsonb `@>`). */
  metadata?: Record<string, unknown>;
  from?: Date;
  to?: Date;
  /** Continue after this (created_at, request_id) position, newest first. */
  after?: { createdAt: Date; requestId: string };
  limit: number;
}

/** Per latency bucket, a count of the inserted rows that fall in it (upper bounds inclusive; the last is open-ended). */
const HISTOGRAM = `ARRAY[${[...LATENCY_BUCKETS_MS, null]
  .map((upper, i) => {
    const lower = i === 0 ? null : LATENCY_BUCKETS_MS[i - 1];
    const conditions = [lower === null ? null : `latency_ms > ${lower}`, upper === null ? null : `latency_ms <= ${upper}`].filter(Boolean);
    return `count(*) FILTER (WHERE ${conditions.join(' AND ')})`;
  })
  .join(', ')}]::integer[]`;

const ROLLUP_DIMS = `bucket_start, key_id, team_id, customer_id, provider, model, "user"`;

/**
 * Folds the rows an insert actually wrote (`ins`, the RETURNING of the records insert) into
 * the hourly rollups: one row per hour and dimensions, counts added to what is there.
 * Ordered by the dimensions so concurrent writers lock rollup rows in the same order.
 *
 * A request is unpriced when its cost is unknown although it was served or reported
 * tokens; a refused request (4xx/5xx without usage) cost nothing and is not unpriced.
 */
const ROLLUP_UPSERT = `
INSERT INTO usage_rollups AS r (${ROLLUP_DIMS}, requests, errors, prompt_tokens, completion_tokens, cached_tokens, cost_usd, unpriced_requests, cache_hits, cache_saved_usd, latency_ms_sum, latency_histogram)
SELECT date_trunc('hour', created_at, 'UTC'), key_id, team_id, customer_id, served_provider, coalesce(served_model, requested_model), "user",
       count(*),
       count(*) FILTER (WHERE status_code >= 400),
       coalesce(sum(prompt_tokens), 0),
       coalesce(sum(completion_tokens), 0),
       coalesce(sum(cached_tokens), 0),
       coalesce(sum(cost_usd), 0),
       count(*) FILTER (WHERE cost_usd IS NULL AND (status_code < 400 OR total_tokens IS NOT NULL)),
       count(*) FILTER (WHERE cache_result IN ('hit', 'semantic-hit')),
       coalesce(sum(cache_saved_usd), 0),
       coalesce(sum(latency_ms), 0),
       ${HISTOGRAM}
  FROM ins
 GROUP BY 1, 2, 3, 4, 5, 6, 7
 ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (${ROLLUP_DIMS}) DO UPDATE SET
  requests = r.requests + EXCLUDED.requests,
  errors = r.errors + EXCLUDED.errors,
  prompt_tokens = r.prompt_tokens + EXCLUDED.prompt_tokens,
  completion_tokens = r.completion_tokens + EXCLUDED.completion_tokens,
  cached_tokens = r.cached_tokens + EXCLUDED.cached_tokens,
  cost_usd = r.cost_usd + EXCLUDED.cost_usd,
  unpriced_requests = r.unpriced_requests + EXCLUDED.unpriced_requests,
  cache_hits = r.cache_hits + EXCLUDED.cache_hits,
  cache_saved_usd = r.cache_saved_usd + EXCLUDED.cache_saved_usd,
  latency_ms_sum = r.latency_ms_sum + EXCLUDED.latency_ms_sum,
  latency_histogram = ARRAY(
    SELECT coalesce(a, 0) + coalesce(b, 0)
      FROM unnest(r.latency_histogram, EXCLUDED.latency_histogram) WITH ORDINALITY AS h(a, b, i)
     ORDER BY i)`;

export class UsageRecordRepository {
  private readonly repo: Repository<UsageRecordEntity>;
  /** The records insert and rollup upsert: one statement text whatever the batch size. */
  private readonly insertSql: string;

  constructor(private readonly dataSource: DataSource) {
    this.repo = dataSource.getRepository(UsageRecordEntity);
    const columns = dataSource.getMetadata(UsageRecordEntity).columns;
    // The batch arrives as one JSON parameter, the records as the entity holds them, and
    // `json_to_recordset` turns it into rows: a fixed statement, cheap for Postgres to parse
    // and plan, and for this process to build (JSON.stringify). A value left out takes the
    // column's default. Values go as they are: a column whose transformer changed them on the
    // way in would be written wrong, so there is none (they convert on the way out only).
    for (const c of columns) {
      const transformer = Array.isArray(c.transformer) ? undefined : c.transformer;
      if (transformer && (transformer.to(1.5) !== 1.5 || transformer.to(null) !== null)) {
        throw new Error(`usage_records.${c.databaseName}: the usage insert writes values as they are, but this column's transformer changes them`);
      }
    }
    const names = columns.map((c) => `"${c.databaseName}"`).join(', ');
    const fields = columns.map((c) => `"${c.propertyName}" ${dataSource.driver.normalizeType(c)}`).join(', ');
    const values = columns.map((c) => (typeof c.default === 'function' ? `coalesce("${c.propertyName}", ${(c.default as () => string)()})` : `"${c.propertyName}"`)).join(', ');
    this.insertSql =
      `WITH ins AS (INSERT INTO "usage_records" (${names}) SELECT ${values} FROM json_to_recordset($1::json) AS u(${fields}) ON CONFLICT DO NOTHING RETURNING *) ` +
      ROLLUP_UPSERT;
  }

  /**
   * One statement: the records inserted, where a record already stored (same request id) is
   * skipped, and the rows it did insert (and only those) added to the hourly rollups. A
   * replayed batch therefore changes nothing, neither records nor rollups.
   */
  async insertMany(records: UsageRecordEntity[]): Promise<void> {
    if (records.length === 0) return;
    await this.dataSource.query(this.insertSql, [JSON.stringify(records)]);
  }

  async findByRequestId(requestId: string): Promise<UsageRecordEntity | null> {
    return this.repo.findOneBy({ requestId });
  }

  /** Newest first, keyset-paginated on (created_at, request_id). */
  query(q: UsageQuery): Promise<UsageRecordEntity[]> {
    const qb = this.repo.createQueryBuilder('u');
    if (q.keyId) qb.andWhere('u.key_id = :keyId', { keyId: q.keyId });
    if (q.teamId) qb.andWhere('u.team_id = :teamId', { teamId: q.teamId });
    if (q.customerId) qb.andWhere('u.customer_id = :customerId', { customerId: q.customerId });
    if (q.user) qb.andWhere('u.user = :user', { user: q.user });
    if (q.model) qb.andWhere('(u.served_model = :model OR u.requested_model = :model)', { model: q.model });
    if (q.provider) qb.andWhere('u.served_provider = :provider', { provider: q.provider });
    if (q.statusCode !== undefined) qb.andWhere('u.status_code = :status', { status: q.statusCode });
    if (q.metadata) qb.andWhere('u.metadata @> :metadata::jsonb', { metadata: JSON.stringify(q.metadata) });
    if (q.from) qb.andWhere('u.created_at >= :from', { from: q.from });
    if (q.to) qb.andWhere('u.created_at < :to', { to: q.to });
    if (q.after) {
      qb.andWhere('(u.created_at, u.request_id) < (:afterAt, :afterId)', { afterAt: q.after.createdAt, afterId: q.after.requestId });
    }
    return qb.orderBy('u.created_at', 'DESC').addOrderBy('u.request_id', 'DESC').limit(q.limit).getMany();
  }

  /**
   * Deletes records created before `cutoff`, `batchSize` at a time so no statement holds
   * locks on a large range for long; the rollups are kept. Returns how many were deleted.
   */
  async deleteCreatedBefore(cutoff: Date, batchSize = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const [{ deleted }] = await this.dataSource.query<Array<{ deleted: number }>>(
        `WITH d AS (
           DELETE FROM usage_records WHERE request_id IN (SELECT request_id FROM usage_records WHERE created_at < $1 LIMIT $2) RETURNING 1
         ) SELECT count(*)::int AS deleted FROM d`,
        [cutoff.toISOString(), batchSize],
      );
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }
}
