import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';

export class ListVirtualKeysQuery {
  @ApiPropertyOptional({ description: 'Include revoked keys.', enum: ['true', 'false'], default: 'false' })
  @IsOptional() @IsIn(['true', 'false'], { message: 'include_revoked must be true or false' })
  include_revoked?: 'true' | 'false';
}
