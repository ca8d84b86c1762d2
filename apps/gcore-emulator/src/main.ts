import { pino } from 'pino';
import { EmulatorConfigError, loadEmulatorConfig } from './config.js';
import { startEmulator } from './emulator.js';

let config: ReturnType<typeof loadEmulatorConfig>;
try {
  config = loadEmulatorConfig();
} catch (error) {
  if (!(error instanceof EmulatorConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

// The log goes to stderr: stdout carries only the line that says where the emulator listens.
const logger = pino({ name: 'gcore-emulator', level: config.logLevel }, pino.destination(2));
const { port, host, apiKey, dataDir, webhookUrl, faults } = config;
const emulator = await startEmulator({
  port,
  host,
  apiKey,
  faults,
  logger,
  ...(dataDir === undefined ? {} : { dataDir }),
  ...(webhookUrl === undefined ? {} : { webhookUrl }),
});
console.log(`Gcore emulator listening on ${emulator.url} (API key: ${emulator.apiKey})`);

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
