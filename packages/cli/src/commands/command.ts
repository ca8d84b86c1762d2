import type { CliIo } from '../io.js';

/** One `pnpm relay <name>` subcommand. */
export interface Command {
  name: string;
  /** One line for the general usage. */
  summary: string;
  /** The full usage: synopsis, options, examples. */
  usage: string;
  /** Runs with the arguments after the command name; resolves with the exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Writes a line to stdout. */
export const println = (io: CliIo, line = ''): void => {
  io.stdout.write(`${line}\n`);
};

/** JSON for scripts: pretty on a terminal, one line otherwise. */
export const printJson = (io: CliIo, value: unknown): void => {
  io.stdout.write(`${JSON.stringify(value, null, io.stdout.isTTY ? 2 : undefined)}\n`);
};
