import { randomUUID } from 'node:crypto';
import type { UsageRecordEntity } from '@tokenhub/store';
import { UsageWriter } from '../../apps/gateway/src/usage/usage-writer.service';
import type { Gateway } from './harness';

/** An admin API call: status, parsed JSON body, and the request id the gateway gave it. */
export interface AdminResult<T = any> {
  status: number;
  body: T;
  requestId: string | null;
}

export async function adminJson<T = any>(gw: Gateway, method: string, path: string, body?: unknown): Promise<AdminResult<T>> {
  const res = await gw.admin(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, requestId: res.headers.get('x-request-id') };
}

/** Asserts a 2xx and returns the body. */
export async function ok<T = any>(gw: Gateway, method: string, path: string, body?: unknown): Promise<T> {
  const result = await adminJson<T>(gw, method, path, body);
  if (result.status < 200 || result.status >= 300) throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

/** A usage record as the chat path makes them, with these fields changed. */
export function usageRecord(fields: Partial<UsageRecordEntity> = {}): UsageRecordEntity {
  const createdAt = fields.createdAt ?? new Date();
  return {
    requestId: randomUUID(),
    createdAt,
    finishedAt: new Date(createdAt.getTime() + (fields.latencyMs ?? 100)),
    endpoint: '/v1/chat/completions',
    keyId: null,
    teamId: null,
    customerId: null,
    principal: 'anonymous',
    user: null,
    metadata: null,
    requestedModel: 'openai/gpt-4o',
    servedProvider: 'openai',
    servedModel: 'gpt-4o',
    attempts: [],
    statusCode: 200,
    errorType: null,
    errorCode: null,
    errorMessage: null,
    promptTokens: 10,
    completionTokens: 5,
    cachedTokens: 0,
    totalTokens: 15,
    costUsd: 0.0000750000,
    priceCatalogVersion: 'test',
    latencyMs: 100,
    ttftMs: null,
    stream: false,
    ...fields,
  };
}

/** Hands records to the gateway's usage writer (the chat path's way in) and waits until they are written. */
export async function writeUsage(gw: Gateway, records: UsageRecordEntity[]): Promise<void> {
  const writer = gw.app.get(UsageWriter);
  for (const r of records) writer.record(r);
  for (let i = 0; i < 50 && (i === 0 || writer.pending > 0); i++) await writer.flush();
  if (writer.pending > 0) throw new Error('the usage writer could not write its records');
}

export const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
