import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';

export class PurgeCacheQuery {
  @ApiPropertyOptional({ description: 'Only entries of this namespace (`prompt_cache_key`).', maxLength: 1024, example: 'faq-bot' })
  @IsOptional() @IsString() @MinLength(1) @MaxLength(1024)
  namespace?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only entries stored by requests of this virtual key.' })
  @IsOptional() @IsUUID()
  key_id?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only entries owned by this team.' })
  @IsOptional() @IsUUID()
  team_id?: string;
}

export class PurgeCacheView {
  @ApiProperty({ example: 'cache.purge' }) object: 'cache.purge';
  @ApiProperty({ description: 'Entries deleted.', example: 42 }) deleted: number;
  @ApiPropertyOptional({ nullable: true }) namespace: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) key_id: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) team_id: string | null;
}
