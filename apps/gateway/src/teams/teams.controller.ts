import { Body, Controller, Get, Param, ParseUUIDPipe, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { CreateTeamDto, ListTeamsQuery, TeamView, UpdateTeamDto } from './dto/team.dto';
import { TeamsService } from './teams.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/teams')
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a team, with its customer, limits and budgets',
    description: 'A team\'s limits and budgets cover every key in it; its customer\'s apply on top.',
  })
  @ApiCreatedResponse({ type: TeamView })
  @ApiErrorResponses(400, 401, 403)
  create(@Body() dto: CreateTeamDto, @Res({ passthrough: true }) res: Response) {
    return this.teams.createTeam(dto, adminActor(res));
  }

  @Get()
  @ApiOperation({ summary: 'List teams, newest first' })
  @ApiOkResponse({ schema: { properties: { object: { example: 'list' }, data: { type: 'array', items: { $ref: getSchemaPath(TeamView) } } } } })
  @ApiErrorResponses(400, 401, 403)
  async list(@Query() query: ListTeamsQuery) {
    return { object: 'list', data: await this.teams.listTeams(query.customer_id) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one team' })
  @ApiOkResponse({ type: TeamView })
  @ApiErrorResponses(400, 401, 403, 404)
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.teams.getTeam(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a team: name, customer, limits (null removes one), budgets (the whole set)' })
  @ApiOkResponse({ type: TeamView })
  @ApiErrorResponses(400, 401, 403, 404)
  update(@Param('id', ParseUUIDPipe) id: string, @Body() dto: UpdateTeamDto, @Res({ passthrough: true }) res: Response) {
    return this.teams.updateTeam(id, dto, adminActor(res));
  }
}
