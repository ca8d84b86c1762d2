import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { keyPrefixFor } from './redis-target.js';
import { type Config, configSchema } from './schema.js';

/** Cross-variable rules: exactly one topology, a name for Sentinel. */
function topologyProblems(config: Config, env: Record<string, string | undefined>): string[] {
  const named = [
    config.REDIS_URL ? 'REDIS_URL' : null,
    config.REDIS_SENTINELS ? 'REDIS_SENTINELS' : null,
    config.REDIS_CLUSTER_NODES ? 'REDIS_CLUSTER_NODES' : null,
  ].filter((name) => name !== null);
  const problems: string[] = [];
  if (named.length > 1) {
    problems.push(
      `${named.join(', ')}: set only one of them (one Redis topology: server, Sentinel or Cluster)`,
    );
  }
  if (config.REDIS_SENTINELS && !config.REDIS_SENTINEL_NAME) {
    problems.push(
      'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master name the sentinels monitor)',
    );
  }
  if (!config.REDIS_SENTINELS) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (env[name]?.trim()) problems.push(`${name}: only used with REDIS_SENTINELS, which is not set`);
    }
  }
  return problems;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once; throws a ConfigError naming every bad variable. Reading the
 * process's own environment, a `.env` file in the working directory is loaded first (variables
 * already set win).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  if (env === process.env && existsSync('.env')) {
    for (const [key, value] of Object.entries(parseEnv(readFileSync('.env', 'utf8')))) env[key] ??= value;
  }
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const config = result.data;
  const problems = topologyProblems(config, env);
  if (problems.length > 0) throw new ConfigError(problems);
  // From here on REDIS_PREFIX is the prefix the keys really have (see keyPrefixFor).
  config.REDIS_PREFIX = keyPrefixFor(config.REDIS_PREFIX, config.REDIS_CLUSTER_NODES !== undefined);
  return config;
}

/** For a process's entry point: the configuration, or one line per bad variable and exit code 1. */
export function readConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
