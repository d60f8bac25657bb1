import { GatewayError } from '@tokenhub/common';

/** 402: a budget on the key's path cannot cover the request's worst-case cost. */
export class BudgetExceededError extends GatewayError {
  constructor(message: string, headers: Record<string, string>) {
    super(402, message, 'invalid_request_error', 'budget_exceeded', null, headers);
  }
}

/** 429: a request, token or concurrency limit on the key's path is reached. */
export class RateLimitExceededError extends GatewayError {
  constructor(message: string, headers: Record<string, string>) {
    super(429, message, 'rate_limit_error', 'rate_limit_exceeded', null, headers);
  }
}

/** 403: the model (or a fallback) is outside a level's allowed models. */
export class ModelNotAllowedError extends GatewayError {
  constructor(message: string, param: string) {
    super(403, message, 'permission_error', 'model_not_allowed', param);
  }
}

/** 503: the limit store (Redis or Postgres) could not be reached, so limits cannot be enforced. */
export class GovernanceUnavailableError extends GatewayError {
  constructor(message = 'Limits and budgets cannot be checked right now; try again shortly.') {
    super(503, message, 'server_error', 'governance_unavailable', null, { 'retry-after': '1' });
  }
}
