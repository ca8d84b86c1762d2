import { type Config, configSecrets } from '@gtr/core';
import { redact } from '@gtr/gcore';
import { type CliIo, EXIT } from '../io.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  /** The disk check fails with fewer free bytes under DATA_DIR. */
  minFree: number;
  /** Upload 1 MB to the Gcore account (creates and deletes a video). */
  live: boolean;
  /** An existing video to ask for upload servers; default the newest in the account. */
  videoId?: number;
  /** Warn when Gcore's clock differs by more, in ms. Default 30 000. */
  maxClockSkewMs?: number;
  /** How long `--live` waits for Gcore to report a status after the upload, in ms. Default 120 000. */
  liveStatusTimeoutMs?: number;
}

/** How a check tells its outcome: one printed line, redacted. */
export type Report = (name: string, status: CheckStatus, detail: string) => CheckResult;

const SYMBOL: Record<CheckStatus, string> = { ok: '✓', fail: '✗', warn: '!', skip: '–' };

export const message = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : String(error);

/** The checks' lines as they finish, with no secret in them, and the summary that ends the run. */
export class Reporter {
  private readonly results: CheckResult[] = [];
  private secrets: string[];

  constructor(private readonly io: CliIo) {
    this.secrets = secretsOf(null, io.env);
  }

  /** From now on, the configuration's secrets are hidden too. */
  knowConfig(config: Config): void {
    this.secrets = secretsOf(config, this.io.env);
  }

  readonly report: Report = (name, status, detail) => {
    const result = { name, status, detail: redact(detail, this.secrets) };
    this.results.push(result);
    this.io.stdout.write(`${SYMBOL[status]} ${name}: ${result.detail}\n`);
    return result;
  };

  /** Prints the summary; answers the exit code. */
  finish(): number {
    const { results, io } = this;
    const failed = results.filter((r) => r.status === 'fail');
    const warned = results.filter((r) => r.status === 'warn').length;
    const skipped = results.filter((r) => r.status === 'skip').length;
    const extra = [
      warned ? `${warned} warning${warned > 1 ? 's' : ''}` : '',
      skipped ? `${skipped} skipped` : '',
    ]
      .filter(Boolean)
      .join(', ');
    io.stdout.write('\n');
    if (failed.length === 0) {
      io.stdout.write(`✓ doctor: ${results.length - skipped} checks passed${extra ? ` (${extra})` : ''}\n`);
      return EXIT.ok;
    }
    io.stdout.write(
      `✗ doctor: ${failed.length} of ${results.length} checks failed (${failed.map((r) => r.name).join(', ')})${extra ? `; ${extra}` : ''}\n`,
    );
    return EXIT.failed;
  }
}

/** Every secret the configuration holds, so that no printed line can carry one. */
function secretsOf(config: Config | null, env: CliIo['env']): string[] {
  // Before the configuration is read (it may not be valid), the variables as they are.
  const raw = [env.GCORE_API_KEY, env.REDIS_PASSWORD, env.REDIS_SENTINEL_PASSWORD, env.CALLBACK_SECRET];
  const secrets = [...raw, env.GCORE_WEBHOOK_PATH_SECRET, ...(config ? configSecrets(config) : [])];
  return secrets.filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((s) => s.trim());
}
