import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, StoreOptions } from './data-source-options';
import { AdminAuditRepository } from './repositories/admin-audit.repository';
import { BudgetAdminRepository } from './repositories/budget-admin.repository';
import { UsageRollupRepository } from './repositories/usage-rollup.repository';
import { ProviderCredentialRepository } from './repositories/provider-credential.repository';
import { ResponseCacheRepository } from './repositories/response-cache.repository';
import { SettingRepository } from './repositories/setting.repository';
import { TeamRepository } from './repositories/team.repository';
import { UsageRecordRepository } from './repositories/usage-record.repository';
import { VirtualKeyRepository } from './repositories/virtual-key.repository';

const REPOSITORIES = [VirtualKeyRepository, SettingRepository, UsageRecordRepository, TeamRepository, AdminAuditRepository, ProviderCredentialRepository, BudgetAdminRepository, UsageRollupRepository, ResponseCacheRepository];

/** Closes the connection last, after every other module has flushed what it holds. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

@Global()
@Module({})
export class StoreModule {
  static forRoot(options: StoreOptions): DynamicModule {
    return {
      module: StoreModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async () => new DataSource(buildDataSourceOptions(options)).initialize(),
        },
        ...REPOSITORIES.map((repository) => ({
          provide: repository,
          useFactory: (dataSource: DataSource) => new repository(dataSource),
          inject: [DataSource],
        })),
        DataSourceCloser,
      ],
      exports: [DataSource, ...REPOSITORIES],
    };
  }
}
