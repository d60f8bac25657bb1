import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';

/** The filters of the usage list and of the export. */
export class UsageFilterDto {
  @ApiPropertyOptional({ description: 'Only records of this virtual key (its id).', format: 'uuid' })
  @IsOptional() @IsUUID()
  key_id?: string;

  @ApiPropertyOptional({ description: 'Only records of keys (or platform tokens) of this team, as it was when the request ran.', format: 'uuid' })
  @IsOptional() @IsUUID()
  team_id?: string;

  @ApiPropertyOptional({ description: 'Only records of this customer\'s teams, as it was when the request ran.', format: 'uuid' })
  @IsOptional() @IsUUID()
  customer_id?: string;

  @ApiPropertyOptional({ description: 'Only records whose request carried this `user`.' })
  @IsOptional() @IsString() @MaxLength(512)
  user?: string;

  @ApiPropertyOptional({ description: 'Requested or served model, e.g. `openai/gpt-4o` or `gpt-4o`.' })
  @IsOptional() @IsString() @MaxLength(300)
  model?: string;

  @ApiPropertyOptional({ description: 'Provider that served the request.' })
  @IsOptional() @IsString() @MaxLength(100)
  provider?: string;

  @ApiPropertyOptional({ description: 'HTTP status the client got.', example: 200 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(599)
  status?: number;

  @ApiPropertyOptional({ description: 'A JSON object the record metadata must contain (jsonb containment).', example: '{"team":"search"}' })
  @IsOptional() @IsString() @MaxLength(4096)
  metadata?: string;

  @ApiPropertyOptional({ description: 'Records created at or after this instant (ISO 8601).', example: '2026-11-01T00:00:00Z' })
  @IsOptional() @IsISO8601()
  from?: string;

  @ApiPropertyOptional({ description: 'Records created before this instant (ISO 8601).' })
  @IsOptional() @IsISO8601()
  to?: string;
}

export class UsageQueryDto extends UsageFilterDto {
  @ApiPropertyOptional({ description: 'Page size.', minimum: 1, maximum: 1000, default: 100 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page.' })
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}
