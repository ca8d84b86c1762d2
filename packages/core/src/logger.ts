import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { censorLogValue, REDACT_PATHS, redactLogLine, secretMatcher } from './log-redaction.js';

export type { Logger } from 'pino';

export interface LogOptions extends LoggerOptions {
  /**
   * Values that never reach a log line, however they got there (configSecrets(config): the Gcore
   * key, relay tokens, CALLBACK_SECRET, the webhook path secret…). Default none.
   */
  secrets?: readonly (string | undefined)[];
}

/**
 * The one logger setup, for every process: each object logged goes through REDACT_PATHS
 * (credential headers, Upload-Metadata's values, query objects) and each line written through
 * redactLogLine (the known secrets, every query value of every URL, the webhook secret path in any
 * case, JWTs). See log-redaction.ts.
 */
export function createLogger(options: LogOptions = {}, destination?: DestinationStream): Logger {
  const { secrets = [], ...pinoOptions } = options;
  const streamWrite = pinoOptions.hooks?.streamWrite;
  const known = secretMatcher(secrets);
  const redact = (line: string) => redactLogLine(line, known);
  const settings: LoggerOptions = {
    level: 'info',
    redact: { paths: REDACT_PATHS, censor: censorLogValue },
    ...pinoOptions,
    hooks: {
      ...pinoOptions.hooks,
      streamWrite: (line) => redact(streamWrite ? streamWrite(line) : line),
    },
  };
  const logger = destination ? pino(settings, destination) : pino(settings);
  redactors.set(logger, redact);
  return logger;
}

/** Each createLogger logger's line redaction (its children are other objects: not in here). */
const redactors = new WeakMap<Logger, (line: string) => string>();

/**
 * `text` redacted as `logger`'s own lines are (its known secrets too), for what goes around the
 * logger — the plain stderr line of a crash. A logger not made by createLogger: the rules for any
 * line (query values, the webhook path, JWTs), without secrets.
 */
export function redactAsLogged(logger: Logger | null, text: string): string {
  return (logger && redactors.get(logger))?.(text) ?? redactLogLine(text);
}
