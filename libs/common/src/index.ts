export * from './errors/gateway-error';
export * from './filters/openai-exception.filter';
export * from './logging/logger';
export * from './validation/first-validation-problem';
export * from './validation/json-body';
export * from './crypto/secret-box';
export * from './http/drained';
export * from './http/header-value';
