import type { ServerResponse } from 'node:http';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Logger } from 'pino';
import { errorTypeForStatus, GatewayError, InvalidRequestError, OpenAIErrorBody } from '../errors/gateway-error';

/** What every error becomes on the wire: a status, OpenAI's error body, and headers. */
export interface ErrorResponse {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

const codeForStatus = (status: number): string | null =>
  ({ 404: 'not_found', 405: 'method_not_allowed', 413: 'request_too_large', 415: 'unsupported_media_type' })[status] ?? null;

/** What the body parser's failures (by their `type`) say to the client. */
const BODY_PARSER_MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'The request body is not valid JSON.',
  'entity.too.large': 'The request body is larger than this server accepts.',
  'encoding.unsupported': "The request body's Content-Encoding is not supported: send it as is (identity), or gzip, deflate or br.",
  'charset.unsupported': 'The request body must be UTF-8 encoded JSON.',
};

/**
 * A request body that could not be read, as the client hears of it. `type` names the failure
 * as the body parser does (`entity.too.large`, `entity.parse.failed`, `request.aborted`, …);
 * `limit` is the body limit in bytes, `message` what to say when the type has no message here.
 */
export function bodyReadError(type: string, status: number, detail: { limit?: number; message?: string } = {}): InvalidRequestError {
  const message =
    type === 'entity.too.large' && typeof detail.limit === 'number'
      ? `The request body is larger than this server accepts (${detail.limit} bytes).`
      : (BODY_PARSER_MESSAGES[type] ?? String(detail.message ?? 'Bad request'));
  return new InvalidRequestError(message, null, codeForStatus(status), status);
}

/** Turns anything thrown into the OpenAI error shape; unknown errors become a 500 with the request id. */
export function toErrorResponse(exception: unknown, requestId: string | undefined, logger?: Logger): ErrorResponse {
  if (exception instanceof GatewayError) {
    return { status: exception.status, body: exception.toBody(), headers: exception.headers };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
    return { status, body: { error: { message, type: errorTypeForStatus(status), param: null, code: codeForStatus(status) } }, headers: {} };
  }
  // Errors raised by Express middleware (body parser) carry a client status.
  const status = (exception as { status?: number; statusCode?: number })?.status ?? (exception as { statusCode?: number })?.statusCode;
  const type = (exception as { type?: string })?.type;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const error = bodyReadError(type ?? '', status, { limit: (exception as { limit?: number }).limit, message: (exception as Error).message });
    return { status, body: error.toBody(), headers: {} };
  }
  logger?.error({ err: exception, requestId }, 'unhandled error');
  return {
    status: 500,
    body: { error: { message: `Internal server error (request id ${requestId ?? 'unknown'}).`, type: 'server_error', param: null, code: 'internal_error' } },
    headers: {},
  };
}

export function sendError(res: ServerResponse, error: ErrorResponse): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(error.status, { ...error.headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(error.body));
}

@Catch()
export class OpenAIExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger?: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<ServerResponse>();
    sendError(res, toErrorResponse(exception, res.getHeader('x-request-id') as string | undefined, this.logger));
  }
}
