import { Global, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { LedgerBackpressureMiddleware } from './ledger-backpressure.middleware';
import { UsageController } from './usage.controller';
import { UsageRetention } from './usage-retention.service';
import { UsageService } from './usage.service';
import { UsageWriter } from './usage-writer.service';

@Global()
@Module({ controllers: [UsageController], providers: [UsageService, UsageWriter, UsageRetention], exports: [UsageWriter] })
export class UsageModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(LedgerBackpressureMiddleware).forRoutes({ path: 'v1/chat/completions', method: RequestMethod.POST });
  }
}
