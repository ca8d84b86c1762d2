export * from './queues.js';
export * from './records.js';
export * from './store.js';
export * from './types.js';
