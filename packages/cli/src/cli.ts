import { batchCommand } from './commands/batch.js';
import { cancelCommand } from './commands/cancel.js';
import type { Command } from './commands/command.js';
import { doctorCommand } from './commands/doctor.js';
import { importCommand } from './commands/import.js';
import { jobCommand } from './commands/job.js';
import { jobsCommand } from './commands/jobs.js';
import { retryCommand } from './commands/retry.js';
import { uploadCommand } from './commands/upload.js';
import { CliError, type CliIo, EXIT, UsageError } from './io.js';

export const COMMANDS: readonly Command[] = [
  uploadCommand,
  importCommand,
  batchCommand,
  jobsCommand,
  jobCommand,
  retryCommand,
  cancelCommand,
  doctorCommand,
];

export function generalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: pnpm relay <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options for every command:
  --url URL      the relay (default RELAY_URL, else http://127.0.0.1:8080)
  --token TOKEN  a relay API token (default RELAY_TOKEN, else the one \`pnpm start\` keeps in
                 $DATA_DIR/relay-token or ./data/relay-token)
  -h, --help     this help, or a command's: pnpm relay <command> --help

Exit codes: 0 success, 1 a job failed or the relay could not be used, 2 a wrong command line,
130 interrupted.`;
}

/** Options taking a value that may come before the command name. */
const GLOBAL_VALUE_OPTIONS = new Set(['--url', '--token']);

/** Finds the command name: the first argument that is neither an option nor a global option's value. */
function splitCommand(argv: readonly string[]): { name: string | null; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (GLOBAL_VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: null, rest: [...argv] };
}

const wantsHelp = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/**
 * `pnpm relay …` in-process: parses, runs the command, prints errors as `relay: …` lines, and
 * resolves with the exit code (never throws for a failure the user can act on).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { name, rest } = splitCommand(argv);
  if (name === null) {
    if (wantsHelp(argv)) {
      io.stdout.write(`${generalUsage()}\n`);
      return EXIT.ok;
    }
    io.stderr.write(`relay: which command?\n\n${generalUsage()}\n`);
    return EXIT.usage;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`relay: unknown command "${name}"\n\n${generalUsage()}\n`);
    return EXIT.usage;
  }
  if (wantsHelp(rest)) {
    io.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`relay ${command.name}: ${error.message}\n\n${command.usage}\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.stderr.write(`relay ${command.name}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr.write(`relay ${command.name}: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}
