import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BUDGET_PERIODS, type BudgetPeriod, type LimitsColumns } from '@tokenhub/store';
import { Type } from 'class-transformer';
import { applyDecorators } from '@nestjs/common';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsNotEmpty, IsNumber, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateBy, ValidateIf, ValidateNested } from 'class-validator';

const MAX_INT = 2_147_483_647;
export const MAX_LIMIT_USD = 1_000_000_000_000;

/** Absent means "leave as it is"; present must be valid, and null is not (e.g. `name` in a PATCH). */
export const IfPresent = () => ValidateIf((_object, value) => value !== undefined);

/**
 * An amount in USD: a finite number with at most 6 decimal places. (class-validator's own
 * `maxDecimalPlaces` throws on numbers it prints in exponent form, such as 5e-324.)
 */
export const IsUsdAmount = () =>
  // Listed last-checked first, as stacked decorators apply: the type check stays the message for a mistyped value.
  applyDecorators(
    ValidateBy({
      name: 'isUsdAmount',
      validator: {
        validate: (value: unknown) => typeof value !== 'number' || (Number.isFinite(value) && Number(value.toFixed(6)) === value),
        defaultMessage: (args) => `${args?.property} must have at most 6 decimal places`,
      },
    }),
    Max(MAX_LIMIT_USD),
    Min(0),
    IsNumber({ allowNaN: false, allowInfinity: false }),
  );

/** A budget given with a key, team or customer: one per period. */
export class InlineBudgetDto {
  @ApiProperty({ description: 'The calendar window, in UTC (weeks start on Monday).', enum: BUDGET_PERIODS, example: 'daily' })
  @IsIn(BUDGET_PERIODS)
  period: BudgetPeriod;

  @ApiProperty({ description: 'Spending cap for the window, in USD.', example: 5, minimum: 0 })
  @IsUsdAmount()
  limit_usd: number;
}

/**
 * Rate limits, a concurrency cap and allowed models, the same on a customer, a team and a
 * key. On create, absent or null means no limit; on PATCH, absent leaves the value as it
 * is and null removes the limit.
 */
export class LimitsDto {
  @ApiPropertyOptional({ description: 'Requests per minute; null: no limit.', example: 600, type: 'integer', minimum: 1, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_INT)
  requests_per_minute?: number | null;

  @ApiPropertyOptional({ description: 'Requests per UTC day; null: no limit.', example: 100000, type: 'integer', minimum: 1, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_INT)
  requests_per_day?: number | null;

  @ApiPropertyOptional({ description: 'Tokens (prompt + completion) per minute; null: no limit.', example: 200000, type: 'integer', minimum: 1, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_INT)
  tokens_per_minute?: number | null;

  @ApiPropertyOptional({ description: 'Tokens per UTC day; null: no limit.', example: 20000000, type: 'integer', minimum: 1, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_INT)
  tokens_per_day?: number | null;

  @ApiPropertyOptional({ description: 'Requests in flight at once; null: no cap.', example: 20, type: 'integer', minimum: 1, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_INT)
  max_concurrency?: number | null;

  @ApiPropertyOptional({
    description: '`provider/model` names or patterns (`openai/*`, `*/gpt-4o*`) this may use; null: every model.',
    example: ['openai/gpt-4o-mini', 'groq/*'],
    type: [String],
    nullable: true,
  })
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(300, { each: true })
  allowed_models?: string[] | null;

  @ApiPropertyOptional({
    description: 'Response cache: the namespace of requests that send no `prompt_cache_key` (the key\'s first, then its team\'s, then its customer\'s); null: such requests are not cached.',
    example: 'support-bot',
    maxLength: 1024,
    nullable: true,
  })
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(1024)
  cache_namespace?: string | null;

  @ApiPropertyOptional({ description: 'Response cache: seconds an answer stays cached (a request\'s `x-tokenhub-cache-ttl` wins); null: the namespace\'s or the default TTL.', example: 3600, type: 'integer', minimum: 1, maximum: 2592000, nullable: true })
  @IsOptional() @IsInt() @Min(1) @Max(2_592_000)
  cache_ttl_seconds?: number | null;
}

/** Limits plus budgets, as a customer, team or key takes them. */
export class PolicyDto extends LimitsDto {
  @ApiPropertyOptional({
    description:
      'Budgets, at most one per period. On PATCH the list is the whole set: a period listed keeps its budget (and what it has spent) with the new limit, a new period is added, a period not listed is removed; null or [] removes all.',
    type: [InlineBudgetDto],
    example: [{ period: 'daily', limit_usd: 5 }, { period: 'monthly', limit_usd: 100 }],
    nullable: true,
  })
  // IsObject each: ValidateNested alone lets a nested array (`[[]]`) through, unvalidated.
  @IsOptional() @IsArray() @ArrayMaxSize(BUDGET_PERIODS.length) @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => InlineBudgetDto)
  budgets?: InlineBudgetDto[] | null;
}

export const LIMIT_FIELDS = {
  requests_per_minute: 'requestsPerMinute',
  requests_per_day: 'requestsPerDay',
  tokens_per_minute: 'tokensPerMinute',
  tokens_per_day: 'tokensPerDay',
  max_concurrency: 'maxConcurrency',
  allowed_models: 'allowedModels',
  cache_namespace: 'cacheNamespace',
  cache_ttl_seconds: 'cacheTtlSeconds',
} as const satisfies Record<keyof LimitsDto, keyof LimitsColumns>;

/** The limits a DTO sets: only the fields it has (null included), as entity columns. */
export function limitsOf(dto: LimitsDto): Partial<LimitsColumns> {
  const limits: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(LIMIT_FIELDS)) {
    const value = dto[field as keyof LimitsDto];
    if (value !== undefined) limits[column] = value;
  }
  return limits as Partial<LimitsColumns>;
}

/** The limits as the API shows them. */
export class LimitsView {
  @ApiProperty({ type: 'integer', nullable: true, example: 600 }) requests_per_minute: number | null;
  @ApiProperty({ type: 'integer', nullable: true, example: null }) requests_per_day: number | null;
  @ApiProperty({ type: 'integer', nullable: true, example: 200000 }) tokens_per_minute: number | null;
  @ApiProperty({ type: 'integer', nullable: true, example: null }) tokens_per_day: number | null;
  @ApiProperty({ type: 'integer', nullable: true, example: 20 }) max_concurrency: number | null;
  @ApiProperty({ type: [String], nullable: true, example: ['openai/gpt-4o-mini'] }) allowed_models: string[] | null;
  @ApiPropertyOptional({ type: String, example: 'support-bot', description: 'Present when set (see the create request).' }) cache_namespace?: string;
  @ApiPropertyOptional({ type: 'integer', example: 3600, description: 'Present when set.' }) cache_ttl_seconds?: number;

  static fromColumns(l: LimitsColumns): LimitsView {
    return {
      requests_per_minute: l.requestsPerMinute,
      requests_per_day: l.requestsPerDay,
      tokens_per_minute: l.tokensPerMinute,
      tokens_per_day: l.tokensPerDay,
      max_concurrency: l.maxConcurrency,
      allowed_models: l.allowedModels,
      // The response cache settings only when set: most policies have none.
      ...(l.cacheNamespace != null ? { cache_namespace: l.cacheNamespace } : {}),
      ...(l.cacheTtlSeconds != null ? { cache_ttl_seconds: l.cacheTtlSeconds } : {}),
    };
  }
}
