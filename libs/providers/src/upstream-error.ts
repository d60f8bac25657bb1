import { errorTypeForStatus, GatewayError } from '@tokenhub/common';

/** How an upstream attempt failed. */
export type UpstreamFailureKind = 'http' | 'network' | 'timeout' | 'protocol';

const CONTEXT_LENGTH = /context[ _-]?length|context window|maximum context|too many tokens|prompt is too long/i;

/**
 * An attempt at a provider failed. Carries what the fallback and retry rules need:
 * whether another model could succeed (`fallbackable`) and whether trying the same
 * one again could (`retryable`).
 */
export class UpstreamError extends GatewayError {
  constructor(
    readonly kind: UpstreamFailureKind,
    status: number,
    message: string,
    options: { type?: string; code?: string | null; param?: string | null; retryAfterMs?: number; retryable?: boolean } = {},
  ) {
    super(status, message, options.type ?? errorTypeForStatus(status), options.code ?? null, options.param ?? null);
    this.retryAfterMs = options.retryAfterMs;
    this.retryableOverride = options.retryable;
  }

  readonly retryAfterMs?: number;
  /**
   * Set when the provider layer knows better than the status: a refused credential (401)
   * is worth retrying when the provider has another one; a provider whose every credential
   * is disabled is not.
   */
  private readonly retryableOverride?: boolean;

  /** The same error with a different retry decision; `dropRetryAfter` when the retry need not wait for it. */
  withRetry(retryable: boolean, options: { dropRetryAfter?: boolean } = {}): UpstreamError {
    const retryAfterMs = options.dropRetryAfter ? undefined : this.retryAfterMs;
    return new UpstreamError(this.kind, this.status, this.message, { type: this.type, code: this.code, param: this.param, retryAfterMs, retryable });
  }

  get isContextLength(): boolean {
    return this.code === 'context_length_exceeded' || (this.status === 400 && CONTEXT_LENGTH.test(this.message));
  }

  /** Another model could fix it: network, timeouts, auth/not-found at this provider, 408/409/429, 5xx, context length. */
  get fallbackable(): boolean {
    if (this.kind !== 'http') return true;
    return [401, 403, 404, 408, 409, 429].includes(this.status) || this.status >= 500 || this.isContextLength;
  }

  /** The same provider could succeed on a later try. */
  get retryable(): boolean {
    if (this.retryableOverride !== undefined) return this.retryableOverride;
    if (this.kind !== 'http') return this.kind !== 'protocol';
    return [408, 409, 429].includes(this.status) || this.status >= 500;
  }
}

/** The caller hung up; nothing more is tried. */
export class ClientCancelledError extends GatewayError {
  constructor() {
    super(499, 'The client closed the request.', 'invalid_request_error', 'client_closed_request');
  }
}

/** Parses `retry-after-ms` or `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.max(0, Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Builds the error for a non-2xx upstream answer from its body, whatever shape it has. */
export function upstreamHttpError(status: number, bodyText: string, retryAfterMs?: number): UpstreamError {
  let message = bodyText.slice(0, 500) || `HTTP ${status}`;
  let type: string | undefined;
  let code: string | null = null;
  let param: string | null = null;
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown; message?: unknown };
    const err = (Array.isArray(parsed) ? parsed[0]?.error : parsed.error) ?? parsed;
    if (typeof err === 'string') message = err;
    else if (err && typeof err === 'object') {
      const e = err as { message?: unknown; type?: unknown; code?: unknown; param?: unknown };
      if (typeof e.message === 'string') message = e.message;
      if (typeof e.type === 'string') type = e.type;
      if (e.code !== undefined && e.code !== null) code = String(e.code);
      if (typeof e.param === 'string') param = e.param;
    }
  } catch {
    // Not JSON: the text, or for a proxy's HTML error page a short summary of it.
    if (/^\s*</.test(bodyText)) message = summarizeHtml(status, bodyText);
  }
  return new UpstreamError('http', status, message, { type, code, param, retryAfterMs });
}

/** `HTTP 502: Bad Gateway` from an HTML page: its title, else its text without tags. */
function summarizeHtml(status: number, html: string): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1];
  const text = (title ?? html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' '))
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}
