export * from './bull.js';
export * from './fields.js';
export * from './queues.js';
export * from './records.js';
export * from './stats.js';
export * from './store.js';
export * from './types.js';
