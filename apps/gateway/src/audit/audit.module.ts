import { Global, Module } from '@nestjs/common';
import { AdminAuditService } from './admin-audit.service';
import { AuditLogController } from './audit-log.controller';

@Global()
@Module({ controllers: [AuditLogController], providers: [AdminAuditService], exports: [AdminAuditService] })
export class AuditModule {}
