import { Agent, Dispatcher, errors } from 'undici';
import { BoundedMap } from '@tokenhub/common';
import type { UpstreamTimeouts } from '@tokenhub/config';
import type { UpstreamOutcomeListener } from '../credentials/credential-pool';
import { ClientCancelledError, UpstreamError } from '../upstream-error';

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /**
   * Told how the call went, for the credential's circuit breaker: `true` when the upstream
   * answered (below 500, its body read or closed by the adapter), `false` on a 5xx, a
   * deadline, a connection error, or a body that breaks off. A call the client cancels
   * reports nothing.
   */
  onOutcome?: UpstreamOutcomeListener;
}

/** How much of a whole (non-streamed) body `readBody` waits for and accepts. */
export interface BodyLimits {
  /** Epoch ms by which the whole body must have arrived (`UPSTREAM_RESPONSE_TIMEOUT_MS` after the request). */
  deadlineAt: number;
  maxBytes: number;
}

/** A whole answer past the size cap (`UPSTREAM_MAX_RESPONSE_BYTES`): 502. */
export const responseTooLarge = (maxBytes: number) =>
  new UpstreamError('protocol', 502, `upstream response is larger than ${maxBytes} bytes`, { code: 'upstream_response_too_large' });

/** A whole answer still arriving at the response deadline (`UPSTREAM_RESPONSE_TIMEOUT_MS`): 504. */
export const responseDeadlinePassed = () => new UpstreamError('timeout', 504, 'upstream response took longer than the response deadline', { code: 'upstream_timeout' });

/** How many URLs `target` remembers. */
const MAX_TARGETS = 1_000;

export type UpstreamResponse = Dispatcher.ResponseData & { readonly bodyLimits?: BodyLimits };

/** A whole (non-streamed) answer, read by `postForBody`. */
export interface UpstreamBody {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * TokenHub's one HTTP client for upstream calls: undici keep-alive pools per origin,
 * connect / first-byte / between-chunks deadlines (and a whole-response deadline and size
 * cap that `readBody` applies to non-streamed bodies), and the caller's AbortSignal passed
 * through so a client hanging up closes the upstream connection.
 */
export class UpstreamHttpClient {
  private readonly agent: Agent;
  private readonly targets = new BoundedMap<string, { origin: string; path: string }>(MAX_TARGETS);

  constructor(private readonly timeouts: UpstreamTimeouts) {
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
    const started = Date.now();
    let res: Dispatcher.ResponseData;
    try {
      const { origin, path } = this.target(req.url);
      res = await this.agent.request({
        origin,
        path,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      const mapped = toUpstreamError(err, req.signal);
      if (mapped instanceof UpstreamError) req.onOutcome?.(false);
      throw mapped;
    }
    if (req.onOutcome) reportOutcome(res, req.onOutcome, req.signal);
    const bodyLimits: BodyLimits = { deadlineAt: started + this.timeouts.responseMs, maxBytes: this.timeouts.maxResponseBytes };
    return Object.assign(res, { bodyLimits });
  }

  /**
   * POSTs and reads the whole answer, for calls that are not streamed: the same deadlines,
   * size cap, circuit-breaker outcome and cancellation as `post` and `readBody`, without a
   * body stream (undici's dispatcher hands the chunks over directly, which costs a fraction
   * of a stream per call). A non-2xx answer resolves too, with whatever of its body could be
   * read; the caller turns it into an error.
   */
  postForBody(req: UpstreamRequest): Promise<UpstreamBody> {
    const { origin, path } = this.target(req.url);
    return new Promise<UpstreamBody>((resolve, reject) => {
      const handler = new WholeBodyHandler(req, this.timeouts.maxResponseBytes, resolve, reject);
      if (req.signal.aborted) return handler.onError(new ClientCancelledError());
      handler.deadline = setTimeout(() => handler.cutOff(), this.timeouts.responseMs);
      this.agent.dispatch({ origin, path, method: 'POST', headers: req.headers, body: req.body }, handler);
    });
  }

  /** The origin and path of a URL, parsed once per URL (the set is small: base URLs by model and operation). */
  private target(url: string): { origin: string; path: string } {
    let target = this.targets.get(url);
    if (!target) {
      target = { origin: new URL(url).origin, path: url.slice(url.indexOf('/', url.indexOf('//') + 2)) };
      this.targets.set(url, target);
    }
    return target;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * A 5xx is a failure at once. Otherwise the call's outcome is its body's: read to the end, or
 * closed early by the adapter (it had what it needed, or found it malformed: the upstream
 * did answer), a success; broken off (a reset, the idle deadline, `readBody`'s deadline), a
 * failure. A body the client's cancellation ends reports nothing.
 *
 * Closed early by the adapter means destroyed without an error of its own (a stream's reader
 * stopping at `[DONE]` or its final event): the body then emits undici's
 * `RequestAbortedError` or Node's `AbortError`, which are no fault of the upstream's.
 */
function reportOutcome(res: Dispatcher.ResponseData, onOutcome: UpstreamOutcomeListener, signal: AbortSignal): void {
  if (res.statusCode >= 500) return onOutcome(false);
  let settled = false;
  const settle = (ok: boolean) => {
    if (settled) return;
    settled = true;
    if (ok || !signal.aborted) onOutcome(ok);
  };
  res.body.once('error', (err) => settle(closedByReader(err) && !signal.aborted));
  res.body.once('end', () => settle(true));
  res.body.once('close', () => settle(!signal.aborted));
}

/** The error a body gets when its reader destroys it (undici's own, or Node's when a `for await` stops early). */
function closedByReader(err: unknown): boolean {
  return err instanceof errors.RequestAbortedError || (err as { name?: string })?.name === 'AbortError';
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

/**
 * Collects one answer for `postForBody` from undici's dispatcher callbacks. Settles once:
 * with the answer when it is complete (or, for a non-2xx answer whose body breaks off, with
 * what arrived), or with the failure mapped as `toUpstreamError` does.
 */
class WholeBodyHandler implements Dispatcher.DispatchHandler {
  deadline?: NodeJS.Timeout;
  private abort?: (err: Error) => void;
  private statusCode = 0;
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  private readonly onAbort = () => this.abortWith(new ClientCancelledError());

  constructor(
    private readonly req: UpstreamRequest,
    private readonly maxBytes: number,
    private readonly resolve: (answer: UpstreamBody) => void,
    private readonly reject: (err: Error) => void,
  ) {
    req.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The response deadline passed: the call is cut off. */
  cutOff(): void {
    this.abortWith(responseDeadlinePassed());
  }

  onConnect(abort: (err?: Error) => void): void {
    // Settled while it waited for a connection (cancelled, or past its deadline): not sent.
    if (this.settled) return abort(new ClientCancelledError());
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (this.settled) return false;
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return false;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.abortWith(responseTooLarge(this.maxBytes));
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.finish();
    this.req.onOutcome?.(this.statusCode < 500);
    this.resolve({ statusCode: this.statusCode, headers: headersOf(this.rawHeaders), body: this.body() });
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.finish();
    const mapped = toUpstreamError(err, this.req.signal);
    // As with `post`: a 5xx counts as a failure however its body ends; a cancelled call counts as nothing.
    if (mapped instanceof UpstreamError || this.statusCode >= 500) this.req.onOutcome?.(false);
    // A refusal whose body breaks off is still the refusal (its body, as far as it came), unless the client left.
    if (this.statusCode >= 300 && !(mapped instanceof ClientCancelledError)) {
      this.resolve({ statusCode: this.statusCode, headers: headersOf(this.rawHeaders), body: this.body() });
    } else this.reject(mapped);
  }

  private abortWith(err: Error): void {
    if (this.settled) return;
    if (this.abort) this.abort(err);
    else this.onError(err);
  }

  private finish(): void {
    this.settled = true;
    clearTimeout(this.deadline);
    this.req.signal.removeEventListener('abort', this.onAbort);
  }

  private body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
  }
}

/** Raw response headers (`[name, value, …]`) as an object of lower-case names, repeated ones as arrays. */
function headersOf(raw: Buffer[]): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    const value = raw[i + 1].toString('latin1');
    const seen = headers[name];
    headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return headers;
}
