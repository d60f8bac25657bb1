/** The body of every error a client sees, as OpenAI sends it. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * A domain error that knows its HTTP status and OpenAI error fields. Thrown anywhere,
 * turned into an OpenAI-shaped response by `OpenAIExceptionFilter`.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class InvalidRequestError extends GatewayError {
  constructor(message: string, param: string | null = null, code: string | null = null, status = 400) {
    super(status, message, 'invalid_request_error', code, param);
  }
}

export class AuthenticationError extends GatewayError {
  constructor(message: string, code = 'invalid_api_key') {
    super(401, message, 'authentication_error', code);
  }
}

export class PermissionDeniedError extends GatewayError {
  constructor(message: string, code: string) {
    super(403, message, 'permission_error', code);
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, code = 'not_found') {
    super(404, message, 'invalid_request_error', code);
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(message: string, code = 'service_unavailable') {
    super(503, message, 'server_error', code);
  }
}

/** Maps a status to the OpenAI `type` used when nothing more specific is known. */
export function errorTypeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}
