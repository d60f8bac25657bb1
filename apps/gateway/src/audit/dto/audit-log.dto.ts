import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { AdminAuditEntity } from '@tokenhub/store';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class AuditLogQuery {
  @ApiPropertyOptional({ description: 'Who made the change: `admin`, or a platform-token subject.', example: 'admin' })
  @IsOptional() @IsString() @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional({ description: 'What was done.', example: 'virtual_key.update' })
  @IsOptional() @IsString() @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ description: 'The kind of object changed.', example: 'virtual_key', enum: ['virtual_key', 'team', 'customer', 'budget', 'provider_credential'] })
  @IsOptional() @IsString() @MaxLength(50)
  target_type?: string;

  @ApiPropertyOptional({ description: 'The id of the object changed.', example: '6f1c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f' })
  @IsOptional() @IsString() @MaxLength(100)
  target_id?: string;

  @ApiPropertyOptional({ description: 'Entries at or after this instant (ISO 8601).', example: '2026-11-01T00:00:00Z' })
  @IsOptional() @IsISO8601()
  from?: string;

  @ApiPropertyOptional({ description: 'Entries before this instant (ISO 8601).' })
  @IsOptional() @IsISO8601()
  to?: string;

  @ApiPropertyOptional({ description: 'Page size.', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page.' })
  @IsOptional() @IsString() @MaxLength(100)
  cursor?: string;
}

export class AuditEntryView {
  @ApiProperty({ example: '42', description: 'Increasing with time.' }) id: string;
  @ApiProperty({ example: '2026-11-01T09:30:00.000Z' }) at: string;
  @ApiProperty({ example: 'admin' }) actor: string;
  @ApiProperty({ example: 'virtual_key.update' }) action: string;
  @ApiProperty({ example: 'virtual_key' }) target_type: string;
  @ApiProperty({ nullable: true, type: String, example: '6f1c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f' }) target_id: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true, description: 'The object before the change (null for a creation), secrets redacted.', example: { name: 'old', active: true } })
  before: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true, description: 'The object after the change (null for a deletion), secrets redacted.', example: { name: 'new', active: false } })
  after: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The admin request that made the change (its `x-request-id`).' }) request_id: string | null;

  static of(e: AdminAuditEntity): AuditEntryView {
    return {
      id: String(e.id),
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      target_type: e.targetType,
      target_id: e.targetId,
      before: e.before,
      after: e.after,
      request_id: e.requestId,
    };
  }
}

export class AuditLogPage {
  @ApiProperty({ example: 'list' }) object: 'list';
  @ApiProperty({ type: [AuditEntryView] }) data: AuditEntryView[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}
