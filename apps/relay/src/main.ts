import {
  accessFromConfig,
  configSecrets,
  createLogger,
  createQueues,
  createRedis,
  type ProcessContext,
  RepeatedErrorLog,
  readConfigOrExit,
  redisTargetOf,
  resolveRelayTokens,
  runProcess,
  type StopProcess,
} from '@gtr/core';
import { createRelayApp } from './app.js';
import { relaySettingsFromConfig } from './from-config.js';
import { listen } from './server.js';

/** `pnpm start:relay`: the HTTP half alone (workers run elsewhere, sharing DATA_DIR and Redis). */
async function main({ useLogger }: ProcessContext): Promise<StopProcess> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'relay', secrets: configSecrets(config) });
  useLogger(logger);
  const { entries, file, generated } = await resolveRelayTokens(accessFromConfig(config), config.DATA_DIR);
  if (file) {
    console.log(`Relay token ${generated ? 'generated and ' : ''}kept in ${file}`);
  }
  const redis = createRedis(redisTargetOf(config), { role: 'client', connectionName: 'relay' });
  const errors = new RepeatedErrorLog(logger);
  const queues = createQueues(redis, {
    forwardAttempts: config.FORWARD_ATTEMPTS,
    prefix: config.REDIS_PREFIX,
    onError: errors.handler('queue connection error'),
  });
  const relay = createRelayApp({
    settings: relaySettingsFromConfig(config, entries, { url: config.GCORE_API_URL, emulator: false }),
    redis,
    queues,
    logger,
    prefix: config.REDIS_PREFIX,
  });
  const http = await listen(relay.app, config.PORT, config.HOST);
  await relay.start();
  logger.info({ url: http.url, uploadDir: relay.uploadDir }, 'relay listening');

  return async (signal: string) => {
    logger.info({ signal }, 'relay stopping');
    relay.stop();
    await http.close();
    await queues.close();
    errors.close();
    await redis.quit().catch(() => {});
  };
}

runProcess('relay', main);
