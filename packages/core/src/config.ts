// The relay's configuration: the schema with its parsers (config/), where Redis is, and loading.

export { ConfigError, loadConfig, readConfigOrExit } from './config/load.js';
export { parseDuration, type RedisEndpoint } from './config/parsers.js';
export { DEFAULT_REDIS_URL, keyPrefixFor, type RedisTarget, redisTargetOf } from './config/redis-target.js';
export { type Config, configSchema } from './config/schema.js';
