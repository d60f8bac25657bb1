import { Global, Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { BudgetLedgerRepository, LimitCounterRepository } from '@tokenhub/store';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { LOGGER } from '../logging.tokens';
import { GovernanceService, LIMIT_STORE } from './governance.service';
import type { LimitStore } from './limit-store';
import { LocalFallbackLimitStore } from './local-fallback-limit-store';
import { PostgresLimitStore } from './postgres-limit-store';
import { RedisLimitStore } from './redis-limit-store';

/**
 * Budgets, rate limits, concurrency caps and allowed models on the chat path. The limit
 * store is Redis when `REDIS_URL` is set (unreachable Redis: 503 for keys with policies),
 * Postgres otherwise, where a database outage has limits decided in the process
 * (`LocalFallbackLimitStore`).
 */
@Global()
@Module({
  providers: [
    { provide: BudgetLedgerRepository, useFactory: (dataSource: DataSource) => new BudgetLedgerRepository(dataSource), inject: [DataSource] },
    { provide: LimitCounterRepository, useFactory: (dataSource: DataSource) => new LimitCounterRepository(dataSource), inject: [DataSource] },
    {
      provide: LIMIT_STORE,
      useFactory: (config: GatewayConfig, logger: Logger, ledger: BudgetLedgerRepository, counters: LimitCounterRepository): LimitStore =>
        config.redisUrl
          ? new RedisLimitStore(config.redisUrl, config.redisKeyPrefix, ledger, logger)
          : new LocalFallbackLimitStore(new PostgresLimitStore(counters, ledger, logger), ledger, logger),
      inject: [GATEWAY_CONFIG, LOGGER, BudgetLedgerRepository, LimitCounterRepository],
    },
    GovernanceService,
  ],
  exports: [GovernanceService],
})
export class GovernanceModule {}
