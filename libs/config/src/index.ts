export * from './gateway-config';
export * from './load-config';
export * from './provider-families';
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
