import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { redactSecretParams } from './secret-params.js';

export type { Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'apiKey',
  'token',
  'tusToken',
  '*.token',
  '*.apiKey',
  'res.headers["set-cookie"]',
];

/**
 * The one logger setup. Besides the paths above, every line is scrubbed as it is written: the
 * value of any query parameter named like a secret (`?token=`, `access_token`, `X-Amz-Signature`,
 * `api_key`, `password`…), wherever a URL appears — a request line, a message, an error.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const streamWrite = options.hooks?.streamWrite;
  const settings: LoggerOptions = {
    level: 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
    hooks: {
      ...options.hooks,
      streamWrite: (line) => redactSecretParams(streamWrite ? streamWrite(line) : line),
    },
  };
  return destination ? pino(settings, destination) : pino(settings);
}
