import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BUDGET_PERIODS, BUDGET_SCOPES, type BudgetEntity, type BudgetPeriod, type BudgetScope } from '@tokenhub/store';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { InlineBudgetDto, IsUsdAmount } from './policy.dto';

export class CreateBudgetDto extends InlineBudgetDto {
  @ApiProperty({ description: 'What the budget caps: a virtual key, a team, or a customer.', enum: BUDGET_SCOPES, example: 'team' })
  @IsIn(BUDGET_SCOPES)
  scope: BudgetScope;

  @ApiProperty({ description: 'The id of that key, team or customer.', format: 'uuid', example: '6f1c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f' })
  @IsUUID()
  scope_id: string;
}

export class UpdateBudgetDto {
  @ApiProperty({ description: 'The new cap for the window, in USD; what the window has spent is kept.', example: 10, minimum: 0 })
  @IsUsdAmount()
  limit_usd: number;
}

export class ListBudgetsQuery {
  @ApiPropertyOptional({ enum: BUDGET_SCOPES, description: 'Only budgets of this scope.' })
  @IsOptional() @IsIn(BUDGET_SCOPES)
  scope?: BudgetScope;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only budgets of this key, team or customer.' })
  @IsOptional() @IsUUID()
  scope_id?: string;
}

export class BudgetView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'budget' }) object: 'budget';
  @ApiProperty({ enum: BUDGET_SCOPES, example: 'key' }) scope: BudgetScope;
  @ApiProperty({ format: 'uuid' }) scope_id: string;
  @ApiProperty({ enum: BUDGET_PERIODS, example: 'daily' }) period: BudgetPeriod;
  @ApiProperty({ example: 5 }) limit_usd: number;
  @ApiProperty({ example: '2026-11-01T09:30:00.000Z' }) created_at: string;

  static of(b: BudgetEntity): BudgetView {
    return { id: b.id, object: 'budget', scope: b.scope, scope_id: b.scopeId, period: b.period, limit_usd: b.limitUsd, created_at: b.createdAt.toISOString() };
  }
}

export class DeletedBudgetView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'budget' }) object: 'budget';
  @ApiProperty({ example: true }) deleted: true;
}

/** Where a budget stands in its current window. */
export class BudgetStatusView {
  @ApiProperty({ format: 'uuid' }) budget_id: string;
  @ApiProperty({ enum: BUDGET_SCOPES, example: 'team', description: 'Whose budget: the key\'s own, its team\'s or its customer\'s.' }) scope: BudgetScope;
  @ApiProperty({ format: 'uuid' }) scope_id: string;
  @ApiProperty({ enum: BUDGET_PERIODS, example: 'daily' }) period: BudgetPeriod;
  @ApiProperty({ example: 5 }) limit_usd: number;
  @ApiProperty({ nullable: true, type: String, example: '2026-11-01T00:00:00.000Z', description: 'Start of the current window (UTC); null for a lifetime budget.' })
  window_start: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2026-11-02T00:00:00.000Z', description: 'End of the current window (exclusive); null for a lifetime budget.' })
  window_end: string | null;
  @ApiProperty({ example: 1.25, description: 'USD spent in the window by finished requests.' }) spent_usd: number;
  @ApiProperty({ example: 0.04, description: 'USD held for requests still running.' }) reserved_usd: number;
  @ApiProperty({ example: 3.71, description: 'limit - spent - reserved, never below 0.' }) remaining_usd: number;
  @ApiProperty({ example: false, description: 'Nothing remains: requests under this budget are refused.' }) exhausted: boolean;
}
