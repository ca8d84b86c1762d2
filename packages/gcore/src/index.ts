export * from './client.js';
export * from './endpoint.js';
export * from './error-body.js';
export * from './errors.js';
export * from './forward-options.js';
export * from './forwarder.js';
export { redact } from './redact.js';
export * from './retry-after.js';
export type * from './types.js';
