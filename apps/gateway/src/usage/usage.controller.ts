import { Controller, Get, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminGuard } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { UsageFilterDto, UsageQueryDto } from './dto/usage-query.dto';
import { UsageService } from './usage.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({ summary: 'List usage and audit records, newest first, with filters and cursor pagination' })
  @ApiErrorResponses(400, 401, 403)
  list(@Query() query: UsageQueryDto) {
    return this.usage.list(query);
  }

  @Get('export')
  @ApiOperation({
    summary: 'Export every usage record matching the filters as NDJSON, streamed',
    description:
      'The same filters as the list, no pagination: one JSON usage record per line, newest first, streamed page by page as the client reads it. ' +
      'A response cut short (no final chunk) means the export failed part way.',
  })
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({
    description: 'One usage record (as in the list) per line.',
    content: { 'application/x-ndjson': { schema: { type: 'string' }, example: '{"request_id":"…","created_at":"…","key_id":"…","status":200,…}\n' } },
  })
  @ApiErrorResponses(400, 401, 403)
  export(@Query() query: UsageFilterDto, @Res() res: Response): Promise<void> {
    return this.usage.export(query, res);
  }
}
