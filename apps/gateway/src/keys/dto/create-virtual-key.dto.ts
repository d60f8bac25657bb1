import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class CreateVirtualKeyDto {
  @ApiProperty({ description: 'A name people recognise the key by.', example: 'search-team-prod', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  name: string;
}
