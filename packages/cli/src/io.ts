/** Where a command writes. `process.stdout` fits; tests pass a string collector. */
export interface Writer {
  write(text: string): unknown;
  /** True only for a terminal: bars are redrawn in place there, plain lines are printed otherwise. */
  isTTY?: boolean;
  columns?: number;
}

/** Everything a command touches outside itself, so tests can run commands in-process. */
export interface CliIo {
  stdout: Writer;
  stderr: Writer;
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths on the command line (files to upload, lists) are resolved against this. */
  cwd: string;
  /**
   * Where `pnpm start` runs, for the token it generates (`./data/relay-token`, or a relative
   * `DATA_DIR`). Default: `cwd`. (`pnpm relay` runs at the workspace root; `cwd` is then where the
   * command was typed.)
   */
  root?: string;
  /** Used for the relay's JSON API. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Aborted on Ctrl-C: uploads stop where they are (a re-run resumes), waiting stops. */
  signal?: AbortSignal;
  /** How often a waiting command polls the relay, in ms. Default 1000. */
  pollIntervalMs?: number;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** An upload that makes no progress for this long is reconnected, in ms. Default 60 000. */
  stallTimeoutMs?: number;
  /** tus-js-client's pauses between attempts, in ms. Default 0, 1, 3, 5, 10 and 20 s. */
  uploadRetryDelays?: number[];
}

/** Exit codes: the contract between the CLI and scripts that call it. */
export const EXIT = {
  /** The jobs reached their good final state (or the command did what it was asked). */
  ok: 0,
  /** A job failed or was canceled, an upload was refused, or the relay could not be used. */
  failed: 1,
  /** The command line was wrong: nothing was sent. */
  usage: 2,
  /** Interrupted (Ctrl-C); a re-run of an upload resumes it. */
  interrupted: 130,
} as const;

/** A failure the user can act on: printed as one `relay: …` line, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A wrong command line; the command's usage is printed with it. */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose usage to print; none for the general usage. */
    readonly command?: string,
  ) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}
