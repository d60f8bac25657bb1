import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export class CreateProviderCredentialDto {
  @ApiProperty({ description: 'The provider the key is for: a configured one, or a known one with a public base URL.', example: 'openai', maxLength: 100 })
  @IsString() @Matches(/^[a-z0-9][a-z0-9_-]*$/, { message: 'provider must be a provider name such as openai' }) @MaxLength(100)
  provider: string;

  @ApiProperty({ description: 'A name people recognise the credential by.', example: 'openai-prod-a', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  name: string;

  @ApiProperty({ description: 'The provider API key. Stored encrypted; never shown again (only its last 4 characters).', example: 'sk-proj-…', writeOnly: true })
  @IsString() @Matches(/^[\x21-\x7e]+$/, { message: 'api_key must be a non-empty key of printable ASCII characters without spaces' }) @MaxLength(4096)
  api_key: string;

  @ApiPropertyOptional({ description: 'Relative share of the provider\'s requests.', default: 1, minimum: 1, maximum: 1000 })
  @IsOptional() @IsInt() @Min(1) @Max(1000)
  weight?: number;

  @ApiPropertyOptional({
    description: 'Models this key may serve: names or `*` patterns, matched against the model id and `provider/model`. Absent or null: every model.',
    example: ['gpt-4o', 'gpt-4o-mini*'],
    nullable: true,
    type: [String],
  })
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(300, { each: true })
  allowed_models?: string[] | null;
}
