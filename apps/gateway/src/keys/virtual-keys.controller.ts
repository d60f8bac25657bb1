import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { CreateVirtualKeyDto } from './dto/create-virtual-key.dto';
import { ListVirtualKeysQuery } from './dto/list-virtual-keys.query';
import { CreatedVirtualKeyView, VirtualKeyView } from './dto/virtual-key.view';
import { VirtualKeysService } from './virtual-keys.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/virtual-keys')
export class VirtualKeysController {
  constructor(private readonly keys: VirtualKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create a virtual key; the secret is in this response only' })
  @ApiCreatedResponse({ type: CreatedVirtualKeyView })
  @ApiErrorResponses(400, 401, 403)
  create(@Body() dto: CreateVirtualKeyDto) {
    return this.keys.create(dto);
  }

  @Get()
  @ApiOperation({ summary: 'List virtual keys (never their secrets)' })
  @ApiOkResponse({ type: [VirtualKeyView] })
  @ApiErrorResponses(400, 401, 403)
  async list(@Query() query: ListVirtualKeysQuery) {
    return { object: 'list', data: await this.keys.list(query.include_revoked === 'true') };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one virtual key' })
  @ApiOkResponse({ type: VirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404)
  get(@Param('id', ParseUUIDPipe) id: string) {
    return this.keys.get(id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a virtual key; it stops working at once' })
  @ApiOkResponse({ type: VirtualKeyView })
  @ApiErrorResponses(400, 401, 403, 404)
  revoke(@Param('id', ParseUUIDPipe) id: string) {
    return this.keys.revoke(id);
  }
}
