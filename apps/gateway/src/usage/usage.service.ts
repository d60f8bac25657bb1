import { Injectable, Logger } from '@nestjs/common';
import { drained, InvalidRequestError } from '@tokenhub/common';
import { UsageQuery, UsageRecordEntity, UsageRecordRepository } from '@tokenhub/store';
import { isUUID } from 'class-validator';
import type { Response } from 'express';
import { UsageFilterDto, UsageQueryDto } from './dto/usage-query.dto';

/** A usage record as the admin API shows it. */
export function toUsageView(r: UsageRecordEntity) {
  return {
    request_id: r.requestId,
    created_at: r.createdAt.toISOString(),
    finished_at: r.finishedAt.toISOString(),
    endpoint: r.endpoint,
    key_id: r.keyId,
    team_id: r.teamId,
    customer_id: r.customerId,
    principal: r.principal,
    user: r.user,
    metadata: r.metadata,
    requested_model: r.requestedModel,
    provider: r.servedProvider,
    model: r.servedModel,
    attempts: r.attempts,
    status: r.statusCode,
    error: r.errorType ? { type: r.errorType, code: r.errorCode, message: r.errorMessage } : null,
    usage: {
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      cached_tokens: r.cachedTokens,
      total_tokens: r.totalTokens,
    },
    cost_usd: r.costUsd,
    cost_known: r.costUsd !== null,
    price_catalog_version: r.priceCatalogVersion,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    stream: r.stream,
  };
}

const encodeCursor = (r: UsageRecordEntity) => Buffer.from(`${r.createdAt.toISOString()}|${r.requestId}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: Date; requestId: string } {
  const [at, requestId] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  if (!requestId || !isUUID(requestId) || Number.isNaN(createdAt.getTime())) throw new InvalidRequestError('The cursor is not one this API returned.', 'cursor');
  return { createdAt, requestId };
}

function parseMetadata(raw: string): Record<string, unknown> {
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new InvalidRequestError('metadata must be a JSON object, e.g. {"team":"search"}.', 'metadata');
}

/** Rows read (and written) per page of an export: what is held in memory at a time. */
export const EXPORT_PAGE_SIZE = 1000;

@Injectable()
export class UsageService {
  private readonly logger = new Logger(UsageService.name);
  /** Rows per page of an export (tests make it small to see several pages). */
  exportPageSize = EXPORT_PAGE_SIZE;

  constructor(private readonly records: UsageRecordRepository) {}

  async list(q: UsageQueryDto) {
    const limit = q.limit ?? 100;
    const rows = await this.records.query({
      ...filtersOf(q),
      after: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return { object: 'list', data: page.map(toUsageView), has_more: hasMore, next_cursor: hasMore ? encodeCursor(page[page.length - 1]) : null };
  }

  /**
   * Streams every record matching the filters as NDJSON (one usage view per line), newest
   * first: one keyset page at a time, each written before the next is read, waiting for
   * the client to drain, so memory holds one page whatever the size of the export. A
   * client that goes away stops it; a failure after the first byte cuts the connection
   * (the response then lacks its terminating chunk, so the client knows it is incomplete).
   */
  async export(q: UsageFilterDto, res: Response): Promise<void> {
    const filters = filtersOf(q);
    const pageSize = this.exportPageSize;
    // Invalid filters, or a database that fails on the first page, are still an OpenAI-shaped error.
    let rows = await this.records.query({ ...filters, limit: pageSize });
    res.status(200);
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('content-disposition', 'attachment; filename="usage.ndjson"');
    res.setHeader('cache-control', 'no-store');
    res.flushHeaders();
    let exported = 0;
    try {
      for (;;) {
        if (rows.length > 0) {
          const page = rows.map((r) => `${JSON.stringify(toUsageView(r))}\n`).join('');
          if (!res.write(page)) await drained(res);
          exported += rows.length;
        }
        if (rows.length < pageSize || res.destroyed) break;
        const last = rows[rows.length - 1];
        rows = await this.records.query({ ...filters, after: { createdAt: last.createdAt, requestId: last.requestId }, limit: pageSize });
      }
      if (!res.destroyed) res.end();
    } catch (err) {
      this.logger.error(`usage export failed after ${exported} records: ${(err as Error).message}`);
      res.destroy();
    }
  }
}

function filtersOf(q: UsageFilterDto): Omit<UsageQuery, 'limit' | 'after'> {
  return {
    keyId: q.key_id,
    teamId: q.team_id,
    customerId: q.customer_id,
    user: q.user,
    model: q.model,
    provider: q.provider,
    statusCode: q.status,
    metadata: q.metadata ? parseMetadata(q.metadata) : undefined,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
  };
}
