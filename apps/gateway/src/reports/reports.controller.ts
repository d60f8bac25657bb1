import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { AdminGuard } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { BudgetsService } from '../teams/budgets.service';
import { BudgetStatusView } from '../teams/dto/budget.dto';
import { BudgetReportQuery, UsageReportQuery, UsageReportView } from './dto/usage-report.dto';
import { ReportsService } from './reports.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@ApiExtraModels(BudgetStatusView)
@Controller('admin/reports')
export class ReportsController {
  constructor(
    private readonly reports: ReportsService,
    private readonly budgets: BudgetsService,
  ) {}

  @Get('usage')
  @ApiOperation({
    summary: 'Usage totals grouped by key, team, customer, model, provider, user or day',
    description:
      'Requests, errors, tokens, cost (and requests of unknown cost), mean latency and p50/p95/p99 estimated from a histogram. ' +
      'Built from hourly rollups kept as records are written, so a report never scans the raw records; `from` and `to` are rounded to the hour. ' +
      'The rollups outlive the raw records\' retention.',
  })
  @ApiOkResponse({ type: UsageReportView })
  @ApiErrorResponses(400, 401, 403)
  usage(@Query() query: UsageReportQuery) {
    return this.reports.usage(query);
  }

  @Get('budgets')
  @ApiOperation({
    summary: 'Where each budget on a key\'s path stands: the key\'s, its team\'s, its customer\'s',
    description: 'Each with its current window (UTC), limit, spent, reserved (requests in flight) and remaining. Same as `GET /admin/virtual-keys/{id}/budgets`.',
  })
  @ApiOkResponse({ schema: { properties: { object: { example: 'list' }, key_id: { type: 'string', format: 'uuid' }, data: { type: 'array', items: { $ref: getSchemaPath(BudgetStatusView) } } } } })
  @ApiErrorResponses(400, 401, 403, 404)
  async budgetStatus(@Query() query: BudgetReportQuery) {
    return { object: 'list', key_id: query.key_id, data: await this.budgets.statusForKey(query.key_id) };
  }
}
