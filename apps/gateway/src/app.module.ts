import { DynamicModule, Global, Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '@tokenhub/config';
import { ProvidersModule } from '@tokenhub/providers';
import { StoreModule } from '@tokenhub/store';
import type { Logger } from 'pino';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CacheModule } from './cache/cache.module';
import { ChatModule } from './chat/chat.module';
import { EmbeddingsModule } from './embeddings/embeddings.module';
import { GovernanceModule } from './governance/governance.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { LOGGER } from './logging.tokens';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { ReportsModule } from './reports/reports.module';
import { TeamsModule } from './teams/teams.module';
import { TracingModule } from './tracing/tracing.module';
import { ProviderCredentialsModule } from './provider-credentials/provider-credentials.module';
import { UsageModule } from './usage/usage.module';

/** The parsed configuration and the logger, available everywhere. */
@Global()
@Module({})
class CoreModule {
  static forRoot(config: GatewayConfig, logger: Logger): DynamicModule {
    const providers = [
      { provide: GATEWAY_CONFIG, useValue: config },
      { provide: LOGGER, useValue: logger },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        StoreModule.forRoot(config),
        ProvidersModule.forRoot(config),
        AuthModule,
        AuditModule,
        UsageModule,
        MetricsModule,
        TracingModule,
        KeysModule,
        TeamsModule,
        ReportsModule,
        ProviderCredentialsModule,
        GovernanceModule,
        CacheModule,
        ChatModule,
        EmbeddingsModule,
        ModelsModule,
        HealthModule,
      ],
    };
  }
}
