import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { TeamEntity } from '@tokenhub/store';
import { IsNotEmpty, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { BudgetView } from './budget.dto';
import { IfPresent, LimitsView, PolicyDto } from './policy.dto';

export class CreateTeamDto extends PolicyDto {
  @ApiProperty({ description: 'A name people recognise the team by.', example: 'search', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ description: 'The customer the team belongs to (its budgets and limits apply too).', format: 'uuid', nullable: true })
  @IsOptional() @IsUUID()
  customer_id?: string | null;
}

export class UpdateTeamDto extends PolicyDto {
  @ApiPropertyOptional({ description: 'A new name.', example: 'search-ranking', maxLength: 200 })
  @IfPresent() @IsString() @IsNotEmpty() @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ description: 'Move the team to another customer; null: to none.', format: 'uuid', nullable: true })
  @IsOptional() @IsUUID()
  customer_id?: string | null;
}

export class ListTeamsQuery {
  @ApiPropertyOptional({ description: 'Only the teams of this customer.', format: 'uuid' })
  @IsOptional() @IsUUID()
  customer_id?: string;
}

export class TeamView extends LimitsView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'team' }) object: 'team';
  @ApiProperty({ example: 'search' }) name: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) customer_id: string | null;
  @ApiProperty({ type: [BudgetView] }) budgets: BudgetView[];
  @ApiProperty({ example: '2026-11-01T09:30:00.000Z' }) created_at: string;

  static of(t: TeamEntity, budgets: BudgetView[]): TeamView {
    return { id: t.id, object: 'team', name: t.name, customer_id: t.customerId, ...LimitsView.fromColumns(t.limits), budgets, created_at: t.createdAt.toISOString() };
  }
}
