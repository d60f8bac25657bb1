import { DataSource, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { UsageRecordEntity } from '../entities/usage-record.entity';

export interface UsageQuery {
  keyId?: string;
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

export class UsageRecordRepository {
  private readonly repo: Repository<UsageRecordEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(UsageRecordEntity);
  }

  /** One multi-row INSERT; a record already stored (same request id) is skipped. */
  async insertMany(records: UsageRecordEntity[]): Promise<void> {
    if (records.length === 0) return;
    await this.repo.createQueryBuilder().insert().values(records as QueryDeepPartialEntity<UsageRecordEntity>[]).orIgnore().updateEntity(false).execute();
  }

  async findByRequestId(requestId: string): Promise<UsageRecordEntity | null> {
    return this.repo.findOneBy({ requestId });
  }

  /** Newest first, keyset-paginated on (created_at, request_id). */
  query(q: UsageQuery): Promise<UsageRecordEntity[]> {
    const qb = this.repo.createQueryBuilder('u');
    if (q.keyId) qb.andWhere('u.key_id = :keyId', { keyId: q.keyId });
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
}
