import { Global, Module } from '@nestjs/common';
import { UsageController } from './usage.controller';
import { UsageRetention } from './usage-retention.service';
import { UsageService } from './usage.service';
import { UsageWriter } from './usage-writer.service';

@Global()
@Module({ controllers: [UsageController], providers: [UsageService, UsageWriter, UsageRetention], exports: [UsageWriter] })
export class UsageModule {}
