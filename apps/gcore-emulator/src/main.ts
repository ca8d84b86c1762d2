import { createLogger, exitOnCrash } from '@gtr/core';
import { pino } from 'pino';
import { EmulatorConfigError, loadEmulatorConfig } from './config.js';
import { DEFAULT_API_KEY, startEmulator } from './emulator.js';

let config: ReturnType<typeof loadEmulatorConfig>;
try {
  config = loadEmulatorConfig();
} catch (error) {
  if (!(error instanceof EmulatorConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

// The log goes to stderr: stdout carries only the line that says where the emulator listens.
const { port, host, apiKey, dataDir, webhookUrl, faults } = config;
// The same scrubbing as the relay's logs: the key, query values (origin URLs), the webhook path.
const logger = createLogger(
  { name: 'gcore-emulator', level: config.logLevel, secrets: [apiKey] },
  pino.destination(2),
);
exitOnCrash('gcore-emulator', () => logger);
const emulator = await startEmulator({
  port,
  host,
  apiKey,
  faults,
  logger,
  ...(dataDir === undefined ? {} : { dataDir }),
  ...(webhookUrl === undefined ? {} : { webhookUrl }),
});
// The default key is printed to help; a key of one's own is a secret like any other.
const keyNote = apiKey === DEFAULT_API_KEY ? `API key: ${apiKey}` : 'API key: EMULATOR_API_KEY';
console.log(`Gcore emulator listening on ${emulator.url} (${keyNote})`);

const stop = (signal: NodeJS.Signals) => {
  logger.info({ signal }, 'stopping');
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'could not stop cleanly');
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
