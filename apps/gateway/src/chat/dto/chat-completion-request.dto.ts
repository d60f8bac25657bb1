import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ChatMessageDto } from './chat-message.dto';
import { IsSmallJsonObject, IsStop } from './message-content.validator';

/** The contract's default temperature, sent when the caller gives none (unless the model rejects one). */
export const DEFAULT_TEMPERATURE = 0.7;
export const METADATA_MAX_CHARS = 16_384;
export const PROVIDER_MODEL = /^[a-z0-9][a-z0-9_-]*\/\S+$/i;
/** A model name goes into URLs and headers: no control characters, no unpaired surrogates. */
export const PRINTABLE = /^(?:[^\u0000-\u001f\u007f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;

/**
 * The body of `POST /v1/chat/completions`: every field of TokenHub's contract, validated.
 * OpenAI fields the contract does not list (`tools`, `tool_choice`, `response_format`,
 * `seed`, `top_p`, `n`, `reasoning_effort`, …) are not declared here and reach the
 * provider untouched.
 */
export class ChatCompletionRequestDto {
  @ApiProperty({
    description: 'Model identifier in the form `provider/model`, e.g. `openai/gpt-4o`. A bare catalog name such as `gpt-4o` resolves too.',
    example: 'openai/gpt-4o',
  })
  @IsString() @IsNotEmpty() @MaxLength(300) @Matches(PRINTABLE, { message: 'model must not contain control characters' })
  model: string;

  @ApiProperty({
    description: 'The conversation so far.',
    type: [ChatMessageDto],
    example: [
      { role: 'system', content: 'You are a professional assistant' },
      { role: 'user', content: 'Please introduce yourself' },
    ],
  })
  @IsArray() @ArrayMinSize(1, { message: 'messages must contain at least one message' }) @ArrayMaxSize(10_000)
  @ValidateNested({ each: true }) @Type(() => ChatMessageDto)
  messages: ChatMessageDto[];

  @ApiPropertyOptional({
    description: 'Failover models, each `provider/model`, tried in order when an attempt fails for a reason another model could fix.',
    type: [String],
    example: ['anthropic/claude-sonnet-4-5', 'groq/llama-3.3-70b-versatile'],
  })
  @IsOptional() @IsArray() @ArrayMaxSize(10)
  @IsString({ each: true })
  @Matches(PROVIDER_MODEL, { each: true, message: 'each fallbacks entry must be of the form provider/model, e.g. openai/gpt-4o-mini' })
  @Matches(PRINTABLE, { each: true, message: 'fallbacks entries must not contain control characters' })
  fallbacks?: string[];

  @ApiPropertyOptional({ description: 'Stream the response as server-sent events, ending with `data: [DONE]`.', default: false })
  @IsOptional() @IsBoolean()
  stream?: boolean;

  @ApiPropertyOptional({ description: 'Sampling temperature. Omitted, TokenHub sends 0.7 (not to models that reject a temperature).', minimum: -2, maximum: 2, default: DEFAULT_TEMPERATURE })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(-2) @Max(2)
  temperature?: number;

  @ApiPropertyOptional({ description: 'Penalises tokens by how often they already appeared.', minimum: -2, maximum: 2, default: 0 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(-2) @Max(2)
  frequency_penalty?: number;

  @ApiPropertyOptional({ description: 'Penalises tokens that already appeared at all.', minimum: -2, maximum: 2, default: 0 })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(-2) @Max(2)
  presence_penalty?: number;

  @ApiPropertyOptional({ description: 'Maximum number of tokens to generate.', minimum: 1, type: 'integer', example: 100 })
  @IsOptional() @IsInt() @Min(1)
  max_tokens?: number;

  @ApiPropertyOptional({ description: 'Maximum number of completion tokens, reasoning tokens included.', minimum: 1, type: 'integer' })
  @IsOptional() @IsInt() @Min(1)
  max_completion_tokens?: number;

  @ApiPropertyOptional({ description: 'Token id to bias (-100..100).', type: 'object', additionalProperties: { type: 'number' }, example: { '50256': -100 } })
  @IsOptional() @IsObject()
  logit_bias?: Record<string, number>;

  @ApiPropertyOptional({ description: 'Return the log-probabilities of the output tokens.', default: false })
  @IsOptional() @IsBoolean()
  logprobs?: boolean;

  @ApiPropertyOptional({
    description: 'Your own metadata (a JSON object up to 16 KiB), stored with the usage record and searchable in the audit log. Not sent to the provider.',
    type: 'object',
    additionalProperties: true,
    example: { team: 'search', feature: 'autocomplete' },
  })
  @IsOptional() @IsSmallJsonObject(METADATA_MAX_CHARS)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Output modalities.', type: [String], enum: ['text', 'audio'], default: ['text'] })
  @IsOptional() @IsArray() @IsIn(['text', 'audio'], { each: true })
  modalities?: string[];

  @ApiPropertyOptional({ description: 'Allow the model to call several tools at once.', default: true })
  @IsOptional() @IsBoolean()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({ description: "Custom key for TokenHub's semantic cache; also forwarded to providers that use it for prompt caching.", maxLength: 1024 })
  @IsOptional() @IsString() @MaxLength(1024)
  prompt_cache_key?: string;

  @ApiPropertyOptional({ description: 'Up to 4 sequences where the model stops generating.', oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }], example: ['\n\n'] })
  @IsOptional() @IsStop(4)
  stop?: string | string[] | null;

  @ApiPropertyOptional({ description: 'Your end user\'s identifier, stored with the usage record.', maxLength: 512, example: 'user-1234' })
  @IsOptional() @IsString() @MaxLength(512)
  user?: string;

  @ApiPropertyOptional({ description: 'Streaming options; `{"include_usage": true}` adds a final chunk with usage.', type: 'object', additionalProperties: true, example: { include_usage: true } })
  @IsOptional() @IsObject()
  stream_options?: { include_usage?: boolean };
}
