import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { CustomerEntity } from '@tokenhub/store';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { BudgetView } from './budget.dto';
import { IfPresent, LimitsView, PolicyDto } from './policy.dto';

export class CreateCustomerDto extends PolicyDto {
  @ApiProperty({ description: 'A name people recognise the customer by.', example: 'Acme Corp', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  name: string;
}

export class UpdateCustomerDto extends PolicyDto {
  @ApiPropertyOptional({ description: 'A new name.', example: 'Acme Corporation', maxLength: 200 })
  @IfPresent() @IsString() @IsNotEmpty() @MaxLength(200)
  name?: string;
}

export class CustomerView extends LimitsView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'customer' }) object: 'customer';
  @ApiProperty({ example: 'Acme Corp' }) name: string;
  @ApiProperty({ type: [BudgetView] }) budgets: BudgetView[];
  @ApiProperty({ example: '2026-11-01T09:30:00.000Z' }) created_at: string;

  static of(c: CustomerEntity, budgets: BudgetView[]): CustomerView {
    return { id: c.id, object: 'customer', name: c.name, ...LimitsView.fromColumns(c.limits), budgets, created_at: c.createdAt.toISOString() };
  }
}
