import { inspect } from 'node:util';
import { type Logger, redactAsLogged } from './logger.js';

/** What a process's `main` hands back: stops it, for the signal named. */
export type StopProcess = (signal: string) => Promise<void>;

export interface ProcessContext {
  /**
   * The process's logger: a crash from now on is logged through it (its redaction included).
   * Before, a crash is written to stderr only, redacted of everything but the secrets.
   */
  useLogger(logger: Logger): void;
}

/**
 * For a process's entry point: runs `main`, and on the first SIGTERM or SIGINT runs `stop` once
 * and exits 0. A failure to start, an uncaught exception or an unhandled rejection is logged with
 * its causes (crashReport) and exits 1: the process does not restart itself, a supervisor does
 * (deploy/README.md).
 */
export function runProcess(name: string, main: (context: ProcessContext) => Promise<StopProcess>): void {
  let logger: Logger | null = null;
  exitOnCrash(name, () => logger);
  main({
    useLogger: (given) => {
      logger = given;
    },
  }).then(
    (stop) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) return;
        stopping = true;
        void stop(signal).finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    },
    (error: unknown) => {
      reportCrash(name, 'could not start', error, logger);
      process.exit(1);
    },
  );
}

/**
 * An uncaught exception or unhandled rejection is logged (reportCrash) and the process exits 1.
 * Never kept running: after an uncaught exception its state is unknown (a lock held forever, a
 * stream half written), and a supervisor starts a clean one in seconds.
 */
export function exitOnCrash(name: string, loggerOf: () => Logger | null): void {
  const crash = (what: string) => (error: unknown) => {
    try {
      reportCrash(name, what, error, loggerOf());
    } finally {
      process.exit(1);
    }
  };
  process.on('uncaughtException', crash('crashed: uncaught exception'));
  process.on('unhandledRejection', crash('crashed: unhandled rejection'));
}

/**
 * One fatal log line (the error serialized with its stack, the `causes` chain, the process's
 * name), and one plain line on stderr (for a supervisor's journal when the log goes elsewhere),
 * both redacted as the logger's lines are. Without a logger yet, stderr gets the stack too.
 */
export function reportCrash(name: string, what: string, error: unknown, logger: Logger | null): void {
  const causes = causesOf(error);
  const summary = [describe(error), ...causes.map((c) => `caused by: ${c}`)].join('; ');
  const message = `${name} ${what}: ${summary}`;
  try {
    logger?.fatal({ err: error, process: name, causes }, message);
    logger?.flush();
  } catch {
    // The plain line below still says it.
  }
  const stack = !logger && error instanceof Error && error.stack ? `\n${error.stack}` : '';
  process.stderr.write(`${redactAsLogged(logger, `${message}${stack}`)}\n${name}: exiting with code 1\n`);
}

/** `Type: message` of an error (plus its code), or what else was thrown, on one line. */
function describe(value: unknown): string {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return `${value.name}: ${value.message}${code ? ` (${code})` : ''}`;
  }
  return inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 2 });
}

/** Each `cause` below the error, described; at most 10 (a cycle stops there too). */
function causesOf(error: unknown): string[] {
  const causes: string[] = [];
  const seen = new Set<unknown>([error]);
  let current: unknown = error;
  while (current instanceof Error && current.cause !== undefined && causes.length < 10) {
    current = current.cause;
    if (seen.has(current)) break;
    seen.add(current);
    causes.push(describe(current));
  }
  return causes;
}
