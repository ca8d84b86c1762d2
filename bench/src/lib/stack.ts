import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Faults } from '@gtr/gcore-emulator';
import { NodeProcess, ROOT } from './proc.js';

export const TOKEN = 'bench-token-0123456789abcdef';
export const EMULATOR_KEY = 'emulator-key';

export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Waits for a forked bench child's `{ ready }` message. */
function ready<T>(proc: NodeProcess, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${proc.name} not ready:\n${proc.output()}`)), timeoutMs);
    proc.child.on('message', (message: { ready?: T }) => {
      if (message && 'ready' in message) {
        clearTimeout(timer);
        resolve(message.ready as T);
      }
    });
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${proc.name} exited (${code}):\n${proc.output()}`));
    });
  });
}

export interface EmulatorProcess {
  proc: NodeProcess;
  url: string;
}

export async function startEmulatorProcess(
  dataDir: string,
  faults?: Partial<Faults>,
): Promise<EmulatorProcess> {
  await mkdir(dataDir, { recursive: true });
  const proc = new NodeProcess('emulator', 'bench/dist/children/emulator.js', {
    ipc: true,
    env: { BENCH_EMULATOR: JSON.stringify({ dataDir, ...(faults ? { faults } : {}) }) },
  });
  const url = await ready<string>(proc);
  return { proc, url };
}

export async function startClientProcess(): Promise<NodeProcess> {
  const proc = new NodeProcess('client', 'bench/dist/children/client.js', { ipc: true });
  await ready(proc);
  return proc;
}

export async function startBareTus(dir: string): Promise<{ proc: NodeProcess; url: string }> {
  await mkdir(dir, { recursive: true });
  const proc = new NodeProcess('bare-tus', 'bench/dist/children/bare-tus.js', { env: { BENCH_DIR: dir } });
  const line = await proc.waitForLine(/"url"/);
  return { proc, url: (JSON.parse(line) as { url: string }).url };
}

export interface AppSettings {
  dataDir: string;
  prefix: string;
  /** More environment (the app's own variables). */
  env?: Record<string, string>;
  execArgv?: string[];
}

/** `pnpm start:relay`, as a process of its own, listening on a free port. */
export async function startRelayProcess(settings: AppSettings): Promise<{ proc: NodeProcess; url: string }> {
  const proc = new NodeProcess('relay', 'apps/relay/dist/main.js', {
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: settings.dataDir,
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: settings.prefix,
      RELAY_API_TOKENS: TOKEN,
      LOG_LEVEL: 'info',
      ...settings.env,
    },
    execArgv: nodeArgs('relay', settings.execArgv),
  });
  const line = await proc.waitForLine(/"msg":"relay listening"/);
  return { proc, url: (JSON.parse(line) as { url: string }).url };
}

/** `pnpm start:worker` against the emulator, as a process of its own. */
export async function startWorkerProcess(
  settings: AppSettings & { emulatorUrl: string },
): Promise<NodeProcess> {
  const proc = new NodeProcess('worker', 'apps/worker/dist/main.js', {
    env: {
      HOST: '127.0.0.1',
      DATA_DIR: settings.dataDir,
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: settings.prefix,
      GCORE_API_URL: settings.emulatorUrl,
      GCORE_API_KEY: EMULATOR_KEY,
      GCORE_ALLOW_INSECURE_UPLOAD: 'true',
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      ...settings.env,
    },
    execArgv: nodeArgs('worker', settings.execArgv),
  });
  await proc.waitForLine(/"msg":"worker started"/);
  return proc;
}

/**
 * Node flags for the app processes: those of `pnpm start:relay` / `start:worker`, unless
 * `BENCH_RELAY_NODE_ARGS` / `BENCH_WORKER_NODE_ARGS` (space separated; empty for none) say
 * otherwise; and with `BENCH_CPU_PROF=<dir>`, V8 CPU profiles (`--cpu-prof`, one file per process)
 * to open in Chrome DevTools.
 */
export function nodeArgs(name: 'relay' | 'worker', extra: string[] = []): string[] {
  const configured = process.env[`BENCH_${name.toUpperCase()}_NODE_ARGS`];
  const args = [
    ...(configured === undefined ? scriptFlags(`start:${name}`) : configured.split(/\s+/).filter(Boolean)),
    ...extra,
  ];
  const dir = process.env.BENCH_CPU_PROF;
  if (dir) args.push('--cpu-prof', `--cpu-prof-dir=${path.join(path.resolve(dir), name)}`);
  return args;
}

/** The Node flags `pnpm <script>` starts the app with (root package.json), so the bench runs it alike. */
export function scriptFlags(script: string): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const tokens = (pkg.scripts?.[script] ?? '').split(/\s+/);
  const flags: string[] = [];
  for (const token of tokens.slice(tokens.indexOf('node') + 1)) {
    if (!token.startsWith('--')) break;
    flags.push(token);
  }
  return flags;
}

export function uploadDirOf(dataDir: string): string {
  return path.join(dataDir, 'uploads');
}
