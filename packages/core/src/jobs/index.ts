export * from './bull.js';
export * from './fields.js';
export * from './lifecycle.js';
export * from './pacer.js';
export * from './queues.js';
export * from './repository.js';
export * from './stats.js';
export * from './types.js';
