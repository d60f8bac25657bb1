import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { BudgetsService } from './budgets.service';
import { BudgetView, CreateBudgetDto, DeletedBudgetView, ListBudgetsQuery, UpdateBudgetDto } from './dto/budget.dto';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/budgets')
export class BudgetsController {
  constructor(private readonly budgets: BudgetsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a budget on a key, a team or a customer',
    description: 'At most one budget per scope and period (409 `budget_exists` otherwise). Windows are calendar windows in UTC.',
  })
  @ApiCreatedResponse({ type: BudgetView })
  @ApiErrorResponses(400, 401, 403, 409)
  create(@Body() dto: CreateBudgetDto, @Res({ passthrough: true }) res: Response) {
    return this.budgets.create(dto, adminActor(res));
  }

  @Get()
  @ApiOperation({ summary: 'List budgets, optionally of one scope or one key, team or customer' })
  @ApiOkResponse({ schema: { properties: { object: { example: 'list' }, data: { type: 'array', items: { $ref: getSchemaPath(BudgetView) } } } } })
  @ApiErrorResponses(400, 401, 403)
  async list(@Query() query: ListBudgetsQuery) {
    return { object: 'list', data: await this.budgets.list(query) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one budget' })
  @ApiOkResponse({ type: BudgetView })
  @ApiErrorResponses(400, 401, 403, 404)
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.budgets.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a budget\'s limit; what its current window has spent is kept' })
  @ApiOkResponse({ type: BudgetView })
  @ApiErrorResponses(400, 401, 403, 404)
  update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateBudgetDto, @Res({ passthrough: true }) res: Response) {
    return this.budgets.update(id, dto, adminActor(res));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a budget (and its windows)' })
  @ApiOkResponse({ type: DeletedBudgetView })
  @ApiErrorResponses(400, 401, 403, 404)
  delete(@Param('id', ParseUUIDPipe) id: string, @Res({ passthrough: true }) res: Response) {
    return this.budgets.delete(id, adminActor(res));
  }
}
