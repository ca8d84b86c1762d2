export { type EmbeddedRedis, ensureRedis, NoRedisError, pingRedis } from './redis.js';
