export * from './config.js';
export * from './errors.js';
export * from './formats.js';
export * from './jobs/index.js';
export * from './logger.js';
export * from './redis.js';
export * from './testing.js';
export * from './tokens.js';
