import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { createLogger } from '@tokenhub/common';
import { loadConfig } from '@tokenhub/config';
import { Client } from 'pg';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { createGatewayApp } from '../../apps/gateway/src/create-app';

/**
 * Starts TokenHub in-process on a random port, on a fresh database: a new database on
 * the Postgres server (127.0.0.1:5432 unless TEST_DATABASE_URL says otherwise), or with
 * TOKENHUB_TEST_STORE=embedded a fresh embedded Postgres directory.
 */
export const ADMIN_KEY = 'sk-th-admin-test-0123456789abcdef';
export const embedded = process.env.TOKENHUB_TEST_STORE === 'embedded';
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Gateway {
  url: string;
  app: INestApplication;
  databaseUrl?: string;
  dataDir: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  createKey(name?: string): Promise<{ id: string; key: string }>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Waits until the usage store holds `count` records matching `where` (SQL), or fails. */
  waitForUsage(count: number, where?: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function createTestDatabase(): Promise<string> {
  const name = `tokenhub_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}

/** The environment a test gateway runs with; `env` adds to or overrides it. */
export async function testEnv(env: Record<string, string> = {}): Promise<{ env: NodeJS.ProcessEnv; databaseUrl?: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tokenhub-e2e-'));
  const databaseUrl = embedded ? undefined : await createTestDatabase();
  return {
    databaseUrl,
    dataDir,
    env: {
      DATA_DIR: dataDir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      TOKENHUB_ADMIN_KEY: ADMIN_KEY,
      LOG_LEVEL: 'silent',
      USAGE_FLUSH_INTERVAL_MS: '50',
      TOKENHUB_RETRY_BASE_MS: '10',
      // Specs fail the same fake model on purpose again and again; the breaker has its own spec.
      CIRCUIT_BREAKER_FAILURES: '0',
      ...env,
    },
  };
}

/** `options.logger` replaces the silent logger (e.g. one writing to a stream the test reads). */
export async function startGateway(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<Gateway> {
  const setup = await testEnv(env);
  const config = loadConfig(setup.env);
  const app = await createGatewayApp(config, options.logger ?? createLogger('silent'));
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  const dataSource = app.get(DataSource);
  const gateway: Gateway = {
    url,
    app,
    databaseUrl: setup.databaseUrl,
    dataDir: setup.dataDir,
    query: (sql, params) => dataSource.query(sql, params),
    admin: (path, init = {}) =>
      fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
      }),
    async createKey(name = 'test') {
      const res = await gateway.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name }) });
      if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; key: string };
    },
    async waitForUsage(count, where = 'true', params = []) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const rows = await gateway.query(`SELECT * FROM usage_records WHERE ${where} ORDER BY created_at`, params);
        if (rows.length >= count || Date.now() > deadline) return rows;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await app.close();
      if (setup.databaseUrl) await dropTestDatabase(setup.databaseUrl);
      rmSync(setup.dataDir, { recursive: true, force: true });
    },
  };
  return gateway;
}

export function chatBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello, how are you?' }], ...overrides };
}

export async function postChat(gateway: Gateway, key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** One server-sent event as a client read it, with its arrival time (ms after `readSse` started). */
export interface SseEvent {
  event: string | null;
  data: string;
  at: number;
}

/**
 * Reads an SSE response body to its end as the bytes arrive, so tests can see both what
 * was sent and when. Stops early when `until` returns true for an event.
 */
export async function readSse(res: Response, until?: (event: SseEvent, all: SseEvent[]) => boolean): Promise<{ events: SseEvent[]; raw: string }> {
  const started = performance.now();
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let raw = '';
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    raw += text;
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event: string | null = null;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0 && event === null) continue;
      const parsed = { event, data: data.join('\n'), at: performance.now() - started };
      events.push(parsed);
      if (until?.(parsed, events)) {
        await reader.cancel().catch(() => undefined);
        return { events, raw };
      }
    }
  }
  return { events, raw };
}

/** Asserts an OpenAI-shaped error body: exactly `{error:{message,type,param,code}}`. */
export function expectOpenAIError(body: unknown): { message: string; type: string; param: string | null; code: string | null } {
  expect(body).toEqual({ error: expect.any(Object) });
  const error = (body as { error: Record<string, unknown> }).error;
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof error.message).toBe('string');
  expect((error.message as string).length).toBeGreaterThan(0);
  expect(typeof error.type).toBe('string');
  expect(error.param === null || typeof error.param === 'string').toBe(true);
  expect(error.code === null || typeof error.code === 'string').toBe(true);
  return error as ReturnType<typeof expectOpenAIError>;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released), for connection-refused tests. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
