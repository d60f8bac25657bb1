import { Global, Module } from '@nestjs/common';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';
import { UsageWriter } from './usage-writer.service';

@Global()
@Module({ controllers: [UsageController], providers: [UsageService, UsageWriter], exports: [UsageWriter] })
export class UsageModule {}
