import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { CreateCustomerDto, CustomerView, UpdateCustomerDto } from './dto/customer.dto';
import { TeamsService } from './teams.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/customers')
export class CustomersController {
  constructor(private readonly teams: TeamsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a customer, with its limits and budgets',
    description: 'A customer\'s limits and budgets cover every team (and every key of those teams) that belongs to it.',
  })
  @ApiCreatedResponse({ type: CustomerView })
  @ApiErrorResponses(400, 401, 403)
  create(@Body() dto: CreateCustomerDto, @Res({ passthrough: true }) res: Response) {
    return this.teams.createCustomer(dto, adminActor(res));
  }

  @Get()
  @ApiOperation({ summary: 'List customers, newest first' })
  @ApiOkResponse({ schema: { properties: { object: { example: 'list' }, data: { type: 'array', items: { $ref: getSchemaPath(CustomerView) } } } } })
  @ApiErrorResponses(401, 403)
  async list() {
    return { object: 'list', data: await this.teams.listCustomers() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one customer' })
  @ApiOkResponse({ type: CustomerView })
  @ApiErrorResponses(400, 401, 403, 404)
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.teams.getCustomer(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a customer: name, limits (null removes one), budgets (the whole set)' })
  @ApiOkResponse({ type: CustomerView })
  @ApiErrorResponses(400, 401, 403, 404)
  update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateCustomerDto, @Res({ passthrough: true }) res: Response) {
    return this.teams.updateCustomer(id, dto, adminActor(res));
  }
}
