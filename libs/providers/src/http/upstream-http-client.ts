import { Agent, Dispatcher, errors } from 'undici';
import type { UpstreamTimeouts } from '@tokenhub/config';
import { ClientCancelledError, UpstreamError } from '../upstream-error';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

export type UpstreamResponse = Dispatcher.ResponseData;

/**
 * TokenHub's one HTTP client for upstream calls: undici keep-alive pools per origin,
 * connect / first-byte / between-chunks deadlines, and the caller's AbortSignal passed
 * through so a client hanging up closes the upstream connection.
 */
export class UpstreamHttpClient {
  private readonly agent: Agent;

  constructor(timeouts: UpstreamTimeouts) {
    this.agent = new Agent({
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      pipelining: 1,
    });
  }

  async post(req: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.agent.request({
        origin: new URL(req.url).origin,
        path: req.url.slice(req.url.indexOf('/', req.url.indexOf('//') + 2)),
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      throw toUpstreamError(err, req.signal);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Maps undici and socket errors to the failure kinds the fallback rules understand. */
export function toUpstreamError(err: unknown, signal?: AbortSignal): Error {
  if (err instanceof UpstreamError || err instanceof ClientCancelledError) return err;
  if (signal?.aborted) return new ClientCancelledError();
  const code = (err as { code?: string })?.code;
  if (err instanceof errors.ConnectTimeoutError) return new UpstreamError('timeout', 504, 'connect timeout', { code: 'upstream_timeout' });
  if (err instanceof errors.HeadersTimeoutError) return new UpstreamError('timeout', 504, 'no response before the first-byte deadline', { code: 'upstream_timeout' });
  if (err instanceof errors.BodyTimeoutError) return new UpstreamError('timeout', 504, 'upstream went silent mid-response', { code: 'upstream_timeout' });
  // The socket error's code, not its message: the message names internal addresses.
  return new UpstreamError('network', 502, `connection failed (${code ?? 'network error'})`, { code: 'upstream_connection_error' });
}
