import { Controller, Delete, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard, adminActor } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { CacheAdminService } from './cache-admin.service';
import { PurgeCacheQuery, PurgeCacheView } from './dto/purge-cache.dto';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/cache')
export class CacheAdminController {
  constructor(private readonly cache: CacheAdminService) {}

  @Delete()
  @ApiOperation({
    summary: 'Purge response cache entries',
    description: 'Deletes the entries of a namespace (`prompt_cache_key`), of a virtual key, of a team, or of their intersection; at least one is required. Audited as `cache.purge`.',
  })
  @ApiOkResponse({ type: PurgeCacheView })
  @ApiErrorResponses(400, 401, 403)
  purge(@Query() query: PurgeCacheQuery, @Res({ passthrough: true }) res: Response) {
    return this.cache.purge(query, adminActor(res));
  }
}
