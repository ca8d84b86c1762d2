import { accessFromConfig, resolveRelayTokens, startProcess } from '@gtr/core';
import { createRelayApp } from './app.js';
import { relaySettingsFromConfig } from './from-config.js';
import { listen } from './server.js';

/** `pnpm start:relay`: the HTTP half alone (workers run elsewhere, sharing DATA_DIR and Redis). */
startProcess('relay', async ({ config, logger, connect }) => {
  const { entries, file, generated } = await resolveRelayTokens(accessFromConfig(config), config.DATA_DIR);
  if (file) {
    console.log(`Relay token ${generated ? 'generated and ' : ''}kept in ${file}`);
  }
  const { redis, queues } = connect({ role: 'client', connectionName: 'relay' });
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
  };
});
