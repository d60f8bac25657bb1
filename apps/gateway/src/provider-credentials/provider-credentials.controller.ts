import { Body, Controller, Delete, Get, Param, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { CreateProviderCredentialDto } from './dto/create-provider-credential.dto';
import { DeletedProviderCredentialView, ProviderCredentialListView, ProviderCredentialView } from './dto/provider-credential.view';
import { UpdateProviderCredentialDto } from './dto/update-provider-credential.dto';
import { ProviderCredentialsService } from './provider-credentials.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/provider-credentials')
export class ProviderCredentialsController {
  constructor(private readonly credentials: ProviderCredentialsService) {}

  @Post()
  @ApiOperation({ summary: 'Store a provider API key (encrypted); it joins the rotation at once. The key is never shown again.' })
  @ApiCreatedResponse({ type: ProviderCredentialView })
  @ApiErrorResponses(400, 401, 403, 503)
  create(@Body() dto: CreateProviderCredentialDto, @Res({ passthrough: true }) res: Response) {
    return this.credentials.create(dto, adminActor(res));
  }

  @Get()
  @ApiOperation({ summary: 'List provider credentials, from the environment and stored, with their health (never their secrets)' })
  @ApiQuery({ name: 'provider', required: false })
  @ApiOkResponse({ type: ProviderCredentialListView })
  @ApiErrorResponses(401, 403)
  async list(@Query('provider') provider?: string): Promise<ProviderCredentialListView> {
    return { object: 'list', data: await this.credentials.list(typeof provider === 'string' && provider ? provider : undefined) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one provider credential' })
  @ApiOkResponse({ type: ProviderCredentialView })
  @ApiErrorResponses(401, 403, 404)
  get(@Param('id') id: string) {
    return this.credentials.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change name, weight, allowed models, or enable/disable (re-enabling puts a refused credential back in rotation)' })
  @ApiOkResponse({ type: ProviderCredentialView })
  @ApiErrorResponses(400, 401, 403, 404, 503)
  update(@Param('id') id: string, @Body() dto: UpdateProviderCredentialDto, @Res({ passthrough: true }) res: Response) {
    return this.credentials.update(id, dto, adminActor(res));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a stored provider credential' })
  @ApiOkResponse({ type: DeletedProviderCredentialView })
  @ApiErrorResponses(400, 401, 403, 404, 503)
  delete(@Param('id') id: string, @Res({ passthrough: true }) res: Response) {
    return this.credentials.delete(id, adminActor(res));
  }
}
