import { DataSource, IsNull, Repository } from 'typeorm';
import type { LimitsColumns } from '../entities/limits.embedded';
import { VirtualKeyEntity } from '../entities/virtual-key.entity';

/** The policy fields of a key the admin API sets; absent ones are left as they are. */
export interface VirtualKeyPolicyFields {
  name?: string;
  teamId?: string | null;
  active?: boolean;
  expiresAt?: Date | null;
  limits?: Partial<LimitsColumns>;
}

export class VirtualKeyRepository {
  private readonly repo: Repository<VirtualKeyEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(VirtualKeyEntity);
  }

  async create(fields: Pick<VirtualKeyEntity, 'name' | 'keyHash' | 'keyHint'> & Omit<VirtualKeyPolicyFields, 'name'>): Promise<VirtualKeyEntity> {
    const values = { ...fields, limits: fields.limits ?? {} };
    const result = await this.repo.createQueryBuilder().insert().values(values).returning('*').execute();
    return this.repo.create(result.generatedMaps[0] as VirtualKeyEntity);
  }

  findByHash(keyHash: string): Promise<VirtualKeyEntity | null> {
    return this.repo.findOneBy({ keyHash });
  }

  findById(id: string): Promise<VirtualKeyEntity | null> {
    return this.repo.findOneBy({ id });
  }

  list(includeRevoked: boolean): Promise<VirtualKeyEntity[]> {
    return this.repo.find({ where: includeRevoked ? {} : { revokedAt: IsNull() }, order: { createdAt: 'DESC' } });
  }

  /** Marks the key revoked (once); returns the key as it now is, or null when unknown. */
  async revoke(id: string): Promise<VirtualKeyEntity | null> {
    await this.repo.createQueryBuilder().update().set({ revokedAt: () => 'now()' }).where('id = :id AND revoked_at IS NULL', { id }).execute();
    return this.findById(id);
  }

  /** Sets the given policy fields; returns the key as it now is, or null when unknown. */
  async update(id: string, fields: VirtualKeyPolicyFields): Promise<VirtualKeyEntity | null> {
    const set: Record<string, unknown> = {};
    for (const name of ['name', 'teamId', 'active', 'expiresAt'] as const) if (fields[name] !== undefined) set[name] = fields[name];
    const limits = Object.fromEntries(Object.entries(fields.limits ?? {}).filter(([, v]) => v !== undefined));
    if (Object.keys(limits).length > 0) set.limits = limits;
    if (Object.keys(set).length > 0) await this.repo.update({ id }, set);
    return this.findById(id);
  }

  /**
   * Replaces the secret of a key that is not revoked (same id, same history); returns the
   * key as it now is, or null when it is unknown or revoked.
   */
  async rotate(id: string, keyHash: string, keyHint: string): Promise<VirtualKeyEntity | null> {
    await this.repo.createQueryBuilder().update().set({ keyHash, keyHint, rotatedAt: () => 'now()' }).where('id = :id AND revoked_at IS NULL', { id }).execute();
    const key = await this.findById(id);
    return key?.keyHash === keyHash ? key : null;
  }
}
