import { DataSource, Repository } from 'typeorm';
import { ProviderCredentialEntity } from '../entities/provider-credential.entity';

export type NewProviderCredential = Pick<ProviderCredentialEntity, 'provider' | 'name' | 'secretCiphertext' | 'secretHint' | 'weight' | 'allowedModels'>;
export type ProviderCredentialChanges = Partial<Pick<ProviderCredentialEntity, 'name' | 'weight' | 'allowedModels' | 'enabled' | 'disabledReason'>>;

/** Provider API keys managed through the admin API; the secret column holds only ciphertext. */
export class ProviderCredentialRepository {
  private readonly repo: Repository<ProviderCredentialEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(ProviderCredentialEntity);
  }

  async create(fields: NewProviderCredential): Promise<ProviderCredentialEntity> {
    const result = await this.repo.createQueryBuilder().insert().values(fields).returning('*').execute();
    return this.repo.create(result.generatedMaps[0] as ProviderCredentialEntity);
  }

  findById(id: string): Promise<ProviderCredentialEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** Every credential, oldest first (a stable order for listing and weighted choice). */
  list(provider?: string): Promise<ProviderCredentialEntity[]> {
    return this.repo.find({ where: provider ? { provider } : {}, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Applies the changes; returns the credential as it now is, or null when unknown. */
  async update(id: string, changes: ProviderCredentialChanges): Promise<ProviderCredentialEntity | null> {
    if (Object.keys(changes).length > 0) {
      await this.repo.createQueryBuilder().update().set(changes).where('id = :id', { id }).execute();
    }
    return this.findById(id);
  }

  /**
   * Takes an enabled credential out of rotation (the provider refused it). Returns the row's
   * new `updated_at`, or null when it was already disabled or is gone.
   */
  async disable(id: string, reason: string): Promise<Date | null> {
    const result = await this.repo
      .createQueryBuilder()
      .update()
      .set({ enabled: false, disabledReason: reason })
      .where('id = :id AND enabled', { id })
      .returning('updated_at')
      .execute();
    // Postgres drivers answer an UPDATE … RETURNING with [rows, count].
    const raw = result.raw as unknown[];
    const rows = (Array.isArray(raw[0]) ? raw[0] : raw) as Array<{ updated_at: Date | string }>;
    return rows[0] ? new Date(rows[0].updated_at) : null;
  }

  /** Deletes the credential; returns it as it was, or null when unknown. */
  async delete(id: string): Promise<ProviderCredentialEntity | null> {
    const found = await this.findById(id);
    if (!found) return null;
    await this.repo.delete({ id });
    return found;
  }
}
