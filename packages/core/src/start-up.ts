import { readConfigOrExit } from './config/load.js';
import { type RedisTarget, redisTargetOf } from './config/redis-target.js';
import type { Config } from './config/schema.js';
import { createQueues, type RelayQueues } from './jobs/index.js';
import { configSecrets } from './log-redaction.js';
import { RepeatedErrorLog } from './log-throttle.js';
import { createLogger, type Logger } from './logger.js';
import { runProcess, type StopProcess } from './process.js';
import { createRedis, type RedisClient, type RedisConnectionOptions } from './redis.js';

/** One Redis client and the relay's queues on it, both closed by the start-up when the process stops. */
export interface Connection {
  redis: RedisClient;
  queues: RelayQueues;
}

/** What a process's `start` is handed: the config read once, its logger, and its connections. */
export interface StartUp {
  config: Config;
  /** Named after the process, redacting the config's secrets; crashes are logged through it. */
  logger: Logger;
  /**
   * A Redis client (to `target`, by default the config's) and queues on it, whose connection
   * errors are logged once per kind. Closed after the stop `start` returned: queues first, then
   * the clients.
   */
  connect(options: RedisConnectionOptions & { target?: RedisTarget }): Connection;
  /**
   * Run after the connections are closed, the last registered first (an emulator started after a
   * Redis is closed before it).
   */
  atLast(close: () => Promise<void>): void;
}

export interface StartOptions {
  /** The logger's name (by default the process's). */
  loggerName?: string;
  /** Why the config does not fit this process, printed before exiting 1; null when it does. */
  refuse?: (config: Config) => string | null;
}

/**
 * The start-up every `main.ts` shares: reads the config (a bad value exits 1 naming it), creates
 * the logger with the config's secrets and hands it to runProcess, then runs `start`. The stop it
 * returns runs on SIGTERM/SIGINT, followed by closing what `connect` opened and `atLast`.
 */
export function startProcess(
  name: string,
  start: (startUp: StartUp) => Promise<StopProcess>,
  options: StartOptions = {},
): void {
  runProcess(name, async ({ useLogger }) => {
    const config = readConfigOrExit();
    const refusal = options.refuse?.(config);
    if (refusal) {
      console.error(refusal);
      process.exit(1);
    }
    const logger = createLogger({
      level: config.LOG_LEVEL,
      name: options.loggerName ?? name,
      secrets: configSecrets(config),
    });
    useLogger(logger);
    const errors = new RepeatedErrorLog(logger);
    const onQueueError = errors.handler('queue connection error');
    const connections: Connection[] = [];
    const lastly: Array<() => Promise<void>> = [];
    const stop = await start({
      config,
      logger,
      connect: ({ target = redisTargetOf(config), ...redisOptions }) => {
        const redis = createRedis(target, redisOptions);
        const queues = createQueues(redis, {
          forwardAttempts: config.FORWARD_ATTEMPTS,
          prefix: config.REDIS_PREFIX,
          onError: onQueueError,
        });
        connections.push({ redis, queues });
        return { redis, queues };
      },
      atLast: (close) => {
        lastly.push(close);
      },
    });
    return async (signal) => {
      await stop(signal);
      await Promise.all(connections.map((c) => c.queues.close()));
      errors.close();
      await Promise.all(connections.map((c) => c.redis.quit().catch(() => {})));
      for (const close of lastly.reverse()) await close();
    };
  });
}
