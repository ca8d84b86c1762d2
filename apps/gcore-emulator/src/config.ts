import { DEFAULT_API_KEY } from './emulator.js';
import { type Faults, FaultsError, parseFaults } from './faults.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** What `pnpm emulator` reads from the environment. */
export interface EmulatorConfig {
  /** `EMULATOR_PORT`: port to listen on, 0 for any free one. Default 8090. */
  port: number;
  /** `EMULATOR_HOST`: address to listen on. Default 127.0.0.1. */
  host: string;
  /** `EMULATOR_API_KEY`: the only API key accepted. Default `emulator-key`. */
  apiKey: string;
  /** `EMULATOR_DATA_DIR`: where uploaded files land (kept). Default: a temporary directory, removed at exit. */
  dataDir?: string;
  /** `EMULATOR_WEBHOOK_URL`: where Gcore-format webhooks go. Default: none. */
  webhookUrl?: string;
  /** `EMULATOR_FAULTS`: JSON object of fault switches, e.g. `{"apiRateLimit":4}`. Default: none. */
  faults: Partial<Faults>;
  /** `EMULATOR_LOG_LEVEL`: pino level of the log on stderr. Default info. */
  logLevel: (typeof LOG_LEVELS)[number];
}

export class EmulatorConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid emulator configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'EmulatorConfigError';
  }
}

/** Reads the environment once; throws an EmulatorConfigError naming every bad variable. */
export function loadEmulatorConfig(env: Record<string, string | undefined> = process.env): EmulatorConfig {
  const problems: string[] = [];
  const value = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };

  const portText = value('EMULATOR_PORT') ?? '8090';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    problems.push(`EMULATOR_PORT: expected a port from 0 to 65535, got "${portText}"`);
  }

  const webhookUrl = value('EMULATOR_WEBHOOK_URL');
  if (webhookUrl !== undefined && !/^https?:\/\//.test(webhookUrl)) {
    problems.push(`EMULATOR_WEBHOOK_URL: expected an http(s) URL, got "${webhookUrl}"`);
  }

  let faults: Partial<Faults> = {};
  const faultsText = value('EMULATOR_FAULTS');
  if (faultsText !== undefined) {
    try {
      faults = parseFaults(JSON.parse(faultsText));
    } catch (error) {
      const detail = error instanceof FaultsError ? error.problems.join('; ') : 'not valid JSON';
      problems.push(`EMULATOR_FAULTS: ${detail}`);
    }
  }

  const logLevel = (value('EMULATOR_LOG_LEVEL') ?? 'info') as EmulatorConfig['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`EMULATOR_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  if (problems.length > 0) throw new EmulatorConfigError(problems);
  const dataDir = value('EMULATOR_DATA_DIR');
  return {
    port,
    host: value('EMULATOR_HOST') ?? '127.0.0.1',
    apiKey: value('EMULATOR_API_KEY') ?? DEFAULT_API_KEY,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(webhookUrl === undefined ? {} : { webhookUrl }),
    faults,
    logLevel,
  };
}
