import { DataSource, Repository } from 'typeorm';
import { SettingEntity } from '../entities/setting.entity';

export class SettingRepository {
  private readonly repo: Repository<SettingEntity>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(SettingEntity);
  }

  async get(name: string): Promise<string | null> {
    return (await this.repo.findOneBy({ name }))?.value ?? null;
  }

  /** Stores the value unless one is there already; returns the value that won. */
  async setIfAbsent(name: string, value: string): Promise<string> {
    await this.repo.createQueryBuilder().insert().values({ name, value }).orIgnore().execute();
    return (await this.get(name)) as string;
  }
}
