import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InvalidRequestError } from '@tokenhub/common';
import { AdminAuditRepository } from '@tokenhub/store';
import { AdminGuard } from '../auth/admin.guard';
import { ApiErrorResponses } from '../common/api-error-responses';
import { AuditEntryView, AuditLogPage, AuditLogQuery } from './dto/audit-log.dto';

const encodeCursor = (id: string) => Buffer.from(`audit:${id}`).toString('base64url');

function decodeCursor(cursor: string): string {
  const match = /^audit:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new InvalidRequestError('The cursor is not one this API returned.', 'cursor');
  return match[1];
}

/** The admin audit log: read-only here, and append-only in the database (a trigger refuses UPDATE and DELETE). */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/audit-log')
export class AuditLogController {
  constructor(private readonly log: AdminAuditRepository) {}

  @Get()
  @ApiOperation({
    summary: 'Every change made through the admin API, newest first, with filters and cursor pagination',
    description: 'Who (actor), what (action), on what (target), the object before and after (secrets redacted), and the request id. Nothing can edit or delete it.',
  })
  @ApiOkResponse({ type: AuditLogPage })
  @ApiErrorResponses(400, 401, 403)
  async list(@Query() q: AuditLogQuery): Promise<AuditLogPage> {
    const limit = q.limit ?? 100;
    const rows = await this.log.query({
      actor: q.actor,
      action: q.action,
      targetType: q.target_type,
      targetId: q.target_id,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      beforeId: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return { object: 'list', data: page.map((e) => AuditEntryView.of(e)), has_more: hasMore, next_cursor: hasMore ? encodeCursor(page[page.length - 1].id) : null };
  }
}
