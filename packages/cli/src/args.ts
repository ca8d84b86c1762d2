import { type ParseArgsConfig, parseArgs } from 'node:util';
import { RelayClient } from './api.js';
import { type CliIo, UsageError } from './io.js';
import { resolveTarget } from './target.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Accepted by every command, before or after the command name. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

type CommandConfig<O extends Options> = {
  args: string[];
  options: typeof GLOBAL_OPTIONS & O;
  allowPositionals: true;
  strict: true;
};

/** parseArgs with the global options added; a bad command line becomes a UsageError for `command`. */
export function parseCommandArgs<O extends Options>(
  command: string,
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<CommandConfig<O>>> {
  try {
    return parseArgs<CommandConfig<O>>({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // Node's messages go on to explain `--` for positionals starting with "-"; the first sentence says it all.
    const message = (error as Error).message.split(/\.\s/)[0]!.replace(/\.$/, '');
    throw new UsageError(message, command);
  }
}

/** A whole number option within bounds, or a UsageError naming the option. */
export function intOption(
  command: string,
  name: string,
  raw: string | undefined,
  bounds: { min?: number; max?: number } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} must be a whole number, not "${raw}"`, command);
  }
  if (bounds.min !== undefined && value < bounds.min) {
    throw new UsageError(`--${name} must be at least ${bounds.min}`, command);
  }
  if (bounds.max !== undefined && value > bounds.max) {
    throw new UsageError(`--${name} must be at most ${bounds.max}`, command);
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Bytes: `52428800`, `50MB` (decimal) or `50MiB` (binary). */
export function sizeOption(command: string, name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  if (!match || unit === undefined) {
    throw new UsageError(
      `--${name} must be a size in bytes such as 52428800, 50MB or 64MiB, not "${raw}"`,
      command,
    );
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes < 1) throw new UsageError(`--${name} must be at least 1 byte`, command);
  return bytes;
}

/** The relay client for the global options and environment. */
export async function connect(
  values: { url?: string | undefined; token?: string | undefined },
  io: CliIo,
): Promise<RelayClient> {
  const target = await resolveTarget(values, io);
  return new RelayClient({ target, fetch: io.fetch });
}
