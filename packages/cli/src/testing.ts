import type { CliIo, Writer } from './io.js';

export interface CapturedIo {
  io: CliIo;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Ctrl-C, as the real entry point does on SIGINT. */
  interrupt(): void;
}

/** A CliIo that collects output in memory (not a TTY: plain lines), for running commands in tests. */
export function captureIo(
  options: { env?: Record<string, string | undefined>; cwd?: string; pollIntervalMs?: number } = {},
): CapturedIo {
  let out = '';
  let err = '';
  const stdout: Writer = { write: (t: string) => (out += t), isTTY: false };
  const stderr: Writer = { write: (t: string) => (err += t), isTTY: false };
  const controller = new AbortController();
  return {
    io: {
      stdout,
      stderr,
      env: options.env ?? {},
      cwd: options.cwd ?? process.cwd(),
      signal: controller.signal,
      pollIntervalMs: options.pollIntervalMs ?? 50,
    },
    stdout: () => out,
    stderr: () => err,
    interrupt: () => controller.abort(),
  };
}
