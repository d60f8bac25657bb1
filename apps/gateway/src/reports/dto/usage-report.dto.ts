import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { REPORT_GROUPS, type ReportGroup } from '@tokenhub/store';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsUUID, Max, Min } from 'class-validator';

export class UsageReportQuery {
  @ApiProperty({ description: 'What each row totals: a key, team, customer, model, provider, `user`, or UTC day.', enum: REPORT_GROUPS, example: 'key' })
  @IsIn(REPORT_GROUPS)
  group_by: ReportGroup;

  @ApiPropertyOptional({ description: 'Start (ISO 8601), rounded down to the hour: reports are built from hourly totals.', example: '2026-11-01T00:00:00Z' })
  @IsOptional() @IsISO8601()
  from?: string;

  @ApiPropertyOptional({ description: 'End, exclusive (ISO 8601), rounded up to the hour.', example: '2026-12-01T00:00:00Z' })
  @IsOptional() @IsISO8601()
  to?: string;

  @ApiPropertyOptional({ description: 'Only usage of this virtual key.', format: 'uuid' })
  @IsOptional() @IsUUID()
  key_id?: string;

  @ApiPropertyOptional({ description: 'Only usage of this team.', format: 'uuid' })
  @IsOptional() @IsUUID()
  team_id?: string;

  @ApiPropertyOptional({ description: 'Only usage of this customer.', format: 'uuid' })
  @IsOptional() @IsUUID()
  customer_id?: string;

  @ApiPropertyOptional({ description: 'At most this many rows (most requests first; by day, oldest first).', minimum: 1, maximum: 10000, default: 1000 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10000)
  limit?: number;
}

export class BudgetReportQuery {
  @ApiProperty({ description: 'The key whose budgets (its own, its team\'s, its customer\'s) to show.', format: 'uuid' })
  @IsUUID()
  key_id: string;
}

export class LatencyView {
  @ApiProperty({ nullable: true, type: Number, example: 412.5, description: 'Mean, exact.' }) avg: number | null;
  @ApiProperty({ nullable: true, type: Number, example: 380, description: 'Estimated from the latency histogram.' }) p50: number | null;
  @ApiProperty({ nullable: true, type: Number, example: 1200 }) p95: number | null;
  @ApiProperty({ nullable: true, type: Number, example: 2400 }) p99: number | null;
}

export class UsageTotalsView {
  @ApiProperty({ example: 1200 }) requests: number;
  @ApiProperty({ example: 3, description: 'Requests answered with a status of 400 or more.' }) errors: number;
  @ApiProperty({ example: 250000 }) prompt_tokens: number;
  @ApiProperty({ example: 90000 }) completion_tokens: number;
  @ApiProperty({ example: 40000, description: 'Prompt tokens served from the provider\'s cache (part of prompt_tokens).' }) cached_tokens: number;
  @ApiProperty({ example: 340000 }) total_tokens: number;
  @ApiProperty({ example: 1.525, description: 'USD, for requests whose price is known.' }) cost_usd: number;
  @ApiProperty({ example: 0, description: 'Served requests whose cost is unknown (no price in the catalog): not in cost_usd.' }) unpriced_requests: number;
  @ApiProperty({ example: 340, description: 'Requests answered from the response cache (`prompt_cache_key`), exact or semantic: their provider cost is 0.' }) cache_hits: number;
  @ApiProperty({ example: 0.412, description: 'USD: what the answers served from the response cache cost when they were made.' }) cache_saved_usd: number;
  @ApiProperty({ type: LatencyView, description: 'Milliseconds, request start to last byte.' }) latency_ms: LatencyView;
}

export class UsageReportRowView extends UsageTotalsView {
  @ApiProperty({ nullable: true, type: String, example: '6f1c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f', description: 'The key, team or customer id, model, provider, user, or day (YYYY-MM-DD); null: none (e.g. requests of no team).' })
  group: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'search-team-prod', description: 'The key\'s, team\'s or customer\'s name.' }) name: string | null;
}

export class UsageReportView {
  @ApiProperty({ example: 'usage_report' }) object: 'usage_report';
  @ApiProperty({ enum: REPORT_GROUPS, example: 'key' }) group_by: ReportGroup;
  @ApiProperty({ nullable: true, type: String, description: 'The start used (an hour boundary), null: from the beginning.' }) from: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The end used (an hour boundary), null: up to now.' }) to: string | null;
  @ApiProperty({ type: [UsageReportRowView] }) data: UsageReportRowView[];
  @ApiProperty({ description: 'More groups than `limit`; totals cover them all.' }) has_more: boolean;
  @ApiProperty({ type: UsageTotalsView, description: 'Over every group.' }) totals: UsageTotalsView;
}
