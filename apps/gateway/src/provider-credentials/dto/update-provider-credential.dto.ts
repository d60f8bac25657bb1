import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsEmpty, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class UpdateProviderCredentialDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000 })
  @IsOptional() @IsInt() @Min(1) @Max(1000)
  weight?: number;

  @ApiPropertyOptional({ description: 'Names or `*` patterns; null allows every model.', nullable: true, type: [String] })
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(300, { each: true })
  allowed_models?: string[] | null;

  @ApiPropertyOptional({ description: 'false takes the credential out of rotation; true puts it back (also after the provider refused it).' })
  @IsOptional() @IsBoolean()
  enabled?: boolean;

  /** Secrets are not edited in place: a new credential is created and the old one deleted. */
  @IsEmpty({ message: 'api_key cannot be changed: create a new credential with the new key, then delete this one' })
  api_key?: never;
}
