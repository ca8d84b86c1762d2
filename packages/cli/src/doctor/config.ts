import { type Config, ConfigError, loadConfig, type RedisTarget, redisTargetOf } from '@gtr/core';
import type { CliIo } from '../io.js';
import { describeRedis } from './redis.js';
import { message, type Reporter } from './report.js';

/**
 * `config`: the environment as the relay would read it. Answers the configuration (its secrets
 * hidden from every line from now on), or null when it is not valid: nothing else is checked then.
 */
export function checkConfig(
  io: CliIo,
  reporter: Reporter,
): { config: Config; redisTarget: RedisTarget } | null {
  let config: Config;
  try {
    config = loadConfig(io.env as Record<string, string | undefined>);
  } catch (error) {
    const detail =
      error instanceof ConfigError
        ? `invalid environment: ${error.problems.join('; ')}`
        : `could not be read: ${message(error)}`;
    reporter.report('config', 'fail', `${detail} (nothing else is checked without a valid configuration)`);
    return null;
  }
  reporter.knowConfig(config);
  const redisTarget = redisTargetOf(config);
  reporter.report(
    'config',
    'ok',
    `the environment is valid (Redis ${describeRedis(redisTarget)}, prefix ${config.REDIS_PREFIX}, Gcore ${config.GCORE_API_URL})`,
  );
  return { config, redisTarget };
}
