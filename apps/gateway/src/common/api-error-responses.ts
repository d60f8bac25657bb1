import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';

class OpenAIErrorDetail {
  @ApiProperty({ description: 'What went wrong, for people.', example: 'temperature must not be greater than 2' })
  message: string;

  @ApiProperty({ description: 'Error class, as OpenAI names them.', example: 'invalid_request_error' })
  type: string;

  @ApiProperty({ description: 'The request field at fault, if any.', nullable: true, type: String, example: 'temperature' })
  param: string | null;

  @ApiProperty({ description: 'A machine-readable code.', nullable: true, type: String, example: 'invalid_value' })
  code: string | null;
}

export class OpenAIErrorResponse {
  @ApiProperty({ type: OpenAIErrorDetail })
  error: OpenAIErrorDetail;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: a field is missing, of the wrong type or out of range (`error.param` names it), or the model cannot be resolved.',
  401: 'Missing or unknown key, or an invalid platform token (`invalid_api_key`, `missing_api_key`, `invalid_token`).',
  403: 'The key is revoked, expired or inactive, may not use this model, or may not use this endpoint (`key_revoked`, `key_expired`, `key_inactive`, `model_not_allowed`, `admin_key_required`).',
  404: 'Not found.',
  409: 'Conflict with the current state, e.g. a budget for that period exists already, or the key is revoked (`budget_exists`, `key_revoked`).',
  413: 'The request body is larger than the server accepts.',
  429: 'A request, token or concurrency limit of the key, its team or customer is reached (`rate_limit_exceeded`), or the provider rate-limited every attempt; `Retry-After` says when to come back.',
  500: 'Unexpected error; the message carries the request id.',
  502: 'Every attempt failed on a network or protocol error; the message lists each attempt.',
  503: 'Every attempt failed with an unavailable provider, or the database is unreachable.',
  504: 'Every attempt timed out.',
};

/** Documents OpenAI-shaped error responses for the given statuses. */
export function ApiErrorResponses(...statuses: number[]) {
  return applyDecorators(
    ApiExtraModels(OpenAIErrorResponse),
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', schema: { $ref: getSchemaPath(OpenAIErrorResponse) } }),
    ),
  );
}
