import { Injectable } from '@nestjs/common';
import { InvalidRequestError } from '@tokenhub/common';
import { UsageRecordEntity, UsageRecordRepository } from '@tokenhub/store';
import { isUUID } from 'class-validator';
import { UsageQueryDto } from './dto/usage-query.dto';

/** A usage record as the admin API shows it. */
export function toUsageView(r: UsageRecordEntity) {
  return {
    request_id: r.requestId,
    created_at: r.createdAt.toISOString(),
    finished_at: r.finishedAt.toISOString(),
    endpoint: r.endpoint,
    key_id: r.keyId,
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

@Injectable()
export class UsageService {
  constructor(private readonly records: UsageRecordRepository) {}

  async list(q: UsageQueryDto) {
    const limit = q.limit ?? 100;
    const rows = await this.records.query({
      keyId: q.key_id,
      user: q.user,
      model: q.model,
      provider: q.provider,
      statusCode: q.status,
      metadata: q.metadata ? parseMetadata(q.metadata) : undefined,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      after: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    return { object: 'list', data: page.map(toUsageView), has_more: hasMore, next_cursor: hasMore ? encodeCursor(page[page.length - 1]) : null };
  }
}
