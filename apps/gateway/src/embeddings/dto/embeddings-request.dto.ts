import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min, ValidateBy, ValidationOptions } from 'class-validator';

/** The most inputs one request may carry (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;

/** A string, an array of strings, an array of token ids, or an array of token-id arrays; nothing empty. */
export function isEmbeddingInput(value: unknown): boolean {
  const isTokens = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  if (typeof value === 'string') return value.length > 0;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_EMBEDDING_INPUTS) return false;
  if (value.every((v) => typeof v === 'string' && v.length > 0)) return true;
  return isTokens(value) || value.every(isTokens);
}

function IsEmbeddingInput(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmbeddingInput',
      validator: {
        validate: isEmbeddingInput,
        defaultMessage: () =>
          `input must be a non-empty string, or an array of 1 to ${MAX_EMBEDDING_INPUTS} non-empty strings, token ids, or token-id arrays`,
      },
    },
    options,
  );
}

/** The body of `POST /v1/embeddings`, as OpenAI defines it. */
export class EmbeddingsRequestDto {
  @ApiProperty({
    description: 'Model identifier in the form `provider/model`, e.g. `openai/text-embedding-3-small`. A bare catalog name resolves too.',
    example: 'openai/text-embedding-3-small',
  })
  @IsString() @IsNotEmpty() @MaxLength(300)
  model: string;

  @ApiProperty({
    description:
      'Text to embed: a string or an array of up to 2048 strings (one vector each). Arrays of token ids are accepted by OpenAI-compatible providers only.',
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { type: 'string' } },
      { type: 'array', items: { type: 'integer' } },
      { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
    ],
    example: ['The food was delicious and the waiter was friendly.'],
  })
  @IsEmbeddingInput()
  input: string | string[] | number[] | number[][];

  @ApiPropertyOptional({
    description: '`float` (default): arrays of numbers; `base64`: each vector as the base64 of its little-endian float32 bytes.',
    enum: ['float', 'base64'],
    default: 'float',
  })
  @IsOptional() @IsIn(['float', 'base64'])
  encoding_format?: 'float' | 'base64';

  @ApiPropertyOptional({ description: 'Output dimensions, for models that can shorten their vectors (text-embedding-3, gemini-embedding-001, embed-v4.0, Titan v2).', example: 256 })
  @IsOptional() @IsInt() @Min(1) @Max(65_536)
  dimensions?: number;

  @ApiPropertyOptional({ description: 'An end-user id, recorded with the usage and passed to providers that take one.', example: 'user-1234' })
  @IsOptional() @IsString() @MaxLength(512)
  user?: string;
}
