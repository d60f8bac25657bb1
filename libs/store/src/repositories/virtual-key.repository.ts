import { DataSource, IsNull, Repository } from 'typeorm';
import { VirtualKeyEntity } from '../entities/virtual-key.entity';

export class VirtualKeyRepository {
  private readonly repo: Repository<VirtualKeyEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(VirtualKeyEntity);
  }

  async create(fields: Pick<VirtualKeyEntity, 'name' | 'keyHash' | 'keyHint'>): Promise<VirtualKeyEntity> {
    const result = await this.repo.createQueryBuilder().insert().values(fields).returning('*').execute();
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
}
