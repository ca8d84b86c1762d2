export * from './batches.js';
export * from './errors.js';
export * from './formats.js';
export * from './jobs.js';
export * from './search.js';
