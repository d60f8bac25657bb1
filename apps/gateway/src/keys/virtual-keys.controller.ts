import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { BudgetStatusView } from '../teams/dto/budget.dto';
import { CreateVirtualKeyDto, UpdateVirtualKeyDto } from './dto/create-virtual-key.dto';
import { ListVirtualKeysQuery } from './dto/list-virtual-keys.query';
import { CreatedVirtualKeyView, VirtualKeyView } from './dto/virtual-key.view';
import { VirtualKeysService } from './virtual-keys.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@ApiExtraModels(BudgetStatusView)
@Controller('admin/virtual-keys')
export class VirtualKeysController {
  constructor(private readonly keys: VirtualKeysService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a virtual key; the secret is in this response only',
    description: 'With optional policies: a team, an expiry, active or not, rate limits, a concurrency cap, allowed models and budgets.',
  })
  @ApiBody({
    type: CreateVirtualKeyDto,
    examples: {
      minimal: { summary: 'Just a name', value: { name: 'search-team-prod' } },
      withPolicies: {
        summary: 'In a team, expiring, rate-limited, two models, $5 a day',
        value: {
          name: 'search-team-prod',
          team_id: '6f1c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f',
          expires_at: '2027-01-01T00:00:00Z',
          requests_per_minute: 60,
          tokens_per_day: 2000000,
          max_concurrency: 4,
          allowed_models: ['openai/gpt-4o-mini', 'groq/*'],
          budgets: [{ period: 'daily', limit_usd: 5 }],
        },
      },
    },
  })
  @ApiCreatedResponse({ type: CreatedVirtualKeyView })
  @ApiErrorResponses(400, 401, 403)
  create(@Body() dto: CreateVirtualKeyDto, @Res({ passthrough: true }) res: Response) {
    return this.keys.create(dto, adminActor(res));
  }

  @Get()
  @ApiOperation({ summary: 'List virtual keys (never their secrets)' })
  @ApiOkResponse({ type: [VirtualKeyView] })
  @ApiErrorResponses(400, 401, 403)
  async list(@Query() query: ListVirtualKeysQuery) {
    return { object: 'list', data: await this.keys.list(query.include_revoked === 'true') };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one virtual key and its policies' })
  @ApiOkResponse({ type: VirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404)
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.keys.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a key\'s policies: name, team, expiry, active, limits (null removes one), budgets (the whole set)',
    description: 'Applies at once on this process. A revoked key cannot be changed (409 `key_revoked`).',
  })
  @ApiBody({
    type: UpdateVirtualKeyDto,
    examples: {
      deactivate: { summary: 'Deactivate (refused with 403 until activated again)', value: { active: false } },
      limits: { summary: 'Raise one limit, remove another, replace the budgets', value: { requests_per_minute: 120, tokens_per_day: null, budgets: [{ period: 'monthly', limit_usd: 100 }] } },
    },
  })
  @ApiOkResponse({ type: VirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404, 409)
  update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateVirtualKeyDto, @Res({ passthrough: true }) res: Response) {
    return this.keys.update(id, dto, adminActor(res));
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Issue a new secret for the key; the old one stops working at once',
    description: 'Same id, policies, budgets and usage history. The new secret is in this response only.',
  })
  @ApiOkResponse({ type: CreatedVirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404, 409)
  rotate(@Param('id', ParseUUIDPipe) id: string, @Res({ passthrough: true }) res: Response) {
    return this.keys.rotate(id, adminActor(res));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a virtual key; it stops working at once' })
  @ApiOkResponse({ type: VirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404)
  revoke(@Param('id', ParseUUIDPipe) id: string, @Res({ passthrough: true }) res: Response) {
    return this.keys.revoke(id, adminActor(res));
  }

  @Get(':id/budgets')
  @ApiOperation({
    summary: 'Where each budget on the key\'s path stands: the key\'s, its team\'s, its customer\'s',
    description: 'Each with its current window (UTC), limit, spent, reserved (requests in flight) and remaining.',
  })
  @ApiOkResponse({ schema: { properties: { object: { example: 'list' }, key_id: { type: 'string', format: 'uuid' }, data: { type: 'array', items: { $ref: getSchemaPath(BudgetStatusView) } } } } })
  @ApiErrorResponses(400, 401, 403, 404)
  async budgets(@Param('id', ParseUUIDPipe) id: string) {
    return { object: 'list', key_id: id, data: await this.keys.budgetStatus(id) };
  }
}
