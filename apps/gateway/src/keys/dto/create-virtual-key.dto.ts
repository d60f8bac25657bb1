import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsISO8601, IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { IfPresent, PolicyDto } from '../../teams/dto/policy.dto';

export class CreateVirtualKeyDto extends PolicyDto {
  @ApiProperty({ description: 'A name people recognise the key by.', example: 'search-team-prod', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ description: 'The team the key belongs to: its (and its customer\'s) limits and budgets apply too.', format: 'uuid', nullable: true })
  @IsOptional() @IsUUID()
  team_id?: string | null;

  @ApiPropertyOptional({ description: 'When the key stops working (ISO 8601, in the future); null: never.', example: '2027-01-01T00:00:00Z', nullable: true, type: String })
  @IsOptional() @IsISO8601({ strict: true })
  expires_at?: string | null;

  @ApiPropertyOptional({ description: 'An inactive key is refused (403 `key_inactive`) until activated again.', default: true })
  @IfPresent() @IsBoolean()
  active?: boolean;
}

export class UpdateVirtualKeyDto extends PolicyDto {
  @ApiPropertyOptional({ description: 'A new name.', example: 'search-team-staging', maxLength: 200 })
  @IfPresent() @IsString() @IsNotEmpty() @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ description: 'Move the key to another team; null: to none.', format: 'uuid', nullable: true })
  @IsOptional() @IsUUID()
  team_id?: string | null;

  @ApiPropertyOptional({ description: 'When the key stops working (ISO 8601); null: never.', example: '2027-01-01T00:00:00Z', nullable: true, type: String })
  @IsOptional() @IsISO8601({ strict: true })
  expires_at?: string | null;

  @ApiPropertyOptional({ description: 'false deactivates the key (403 `key_inactive`), true activates it again. Revocation is final.', example: false })
  @IfPresent() @IsBoolean()
  active?: boolean;
}
