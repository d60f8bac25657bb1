export * from './catalog/model-catalog';
export * from './chat-provider.interface';
export * from './http/upstream-http-client';
export * from './openai-compatible/openai-compatible.provider';
export * from './provider-registry';
export * from './providers.module';
export * from './upstream-error';
export * from './credentials/credential-pool';
