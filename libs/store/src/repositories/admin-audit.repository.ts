import { DataSource, Repository } from 'typeorm';
import { AdminAuditEntity } from '../entities/admin-audit.entity';

export interface AdminAuditQuery {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
  /** Entries with an id below this one (newest first). */
  beforeId?: string;
  limit: number;
}

/** The append-only admin audit log: insert and read, nothing else. */
export class AdminAuditRepository {
  private readonly repo: Repository<AdminAuditEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(AdminAuditEntity);
  }

  async append(entry: Omit<AdminAuditEntity, 'id' | 'at'>): Promise<void> {
    await this.repo.createQueryBuilder().insert().values(entry as never).updateEntity(false).execute();
  }

  query(q: AdminAuditQuery): Promise<AdminAuditEntity[]> {
    const qb = this.repo.createQueryBuilder('a');
    if (q.actor) qb.andWhere('a.actor = :actor', { actor: q.actor });
    if (q.action) qb.andWhere('a.action = :action', { action: q.action });
    if (q.targetType) qb.andWhere('a.target_type = :targetType', { targetType: q.targetType });
    if (q.targetId) qb.andWhere('a.target_id = :targetId', { targetId: q.targetId });
    if (q.from) qb.andWhere('a.at >= :from', { from: q.from });
    if (q.to) qb.andWhere('a.at < :to', { to: q.to });
    if (q.beforeId) qb.andWhere('a.id < :beforeId', { beforeId: q.beforeId });
    return qb.orderBy('a.id', 'DESC').limit(q.limit).getMany();
  }
}
