import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { DataSourceOptions } from 'typeorm';
import { PGliteDriver } from 'typeorm-pglite';
import { AdminAuditEntity } from './entities/admin-audit.entity';
import { BudgetEntity, BudgetWindowEntity } from './entities/budget.entity';
import { CustomerEntity } from './entities/customer.entity';
import { LimitCounterEntity } from './entities/limit-counter.entity';
import { ProviderCredentialEntity } from './entities/provider-credential.entity';
import { ResponseCacheEntryEntity } from './entities/response-cache-entry.entity';
import { SettingEntity } from './entities/setting.entity';
import { TeamEntity } from './entities/team.entity';
import { UsageRecordEntity } from './entities/usage-record.entity';
import { UsageRollupEntity } from './entities/usage-rollup.entity';
import { VirtualKeyEntity } from './entities/virtual-key.entity';

export const ENTITIES = [
  VirtualKeyEntity,
  SettingEntity,
  UsageRecordEntity,
  CustomerEntity,
  TeamEntity,
  BudgetEntity,
  BudgetWindowEntity,
  LimitCounterEntity,
  ProviderCredentialEntity,
  AdminAuditEntity,
  UsageRollupEntity,
  ResponseCacheEntryEntity,
];

/** Compiled or not, the migrations folder sits at the top of the tree, three levels up. */
const MIGRATIONS_GLOB = join(__dirname, '..', '..', '..', 'migrations', '*.{ts,js}');

export interface StoreOptions {
  databaseUrl?: string;
  dataDir: string;
  migrationsRun: boolean;
}

/**
 * The one place TypeORM is configured, shared by the app and the migration CLI.
 * With a `databaseUrl` it talks to that Postgres server; without one it runs an
 * embedded Postgres (PGlite) under `dataDir` with the very same migrations.
 */
export function buildDataSourceOptions(options: StoreOptions): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: [MIGRATIONS_GLOB],
    migrationsTableName: 'migrations',
    migrationsRun: options.migrationsRun,
    synchronize: false,
    logging: false,
  };
  if (options.databaseUrl) {
    return { ...common, url: options.databaseUrl, extra: { max: 10 } };
  }
  const dataDir = join(options.dataDir, 'pg');
  mkdirSync(dataDir, { recursive: true });
  // PGlite is a single connection; its driver queues queries, so no pool settings apply.
  return { ...common, driver: new PGliteDriver({ dataDir }).driver, migrationsTransactionMode: 'each' };
}
