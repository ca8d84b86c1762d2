import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface AppProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends the signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Runs one of the built apps (`node [nodeArgs] <script>`) with exactly the environment given (plus
 * PATH/HOME).
 */
export function runApp(
  script: string,
  env: Record<string, string>,
  options: { cwd?: string; nodeArgs?: string[] } = {},
): AppProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path.join(ROOT, script)], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const scan = () => {
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    scan();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
    scan();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return {
    child,
    output: () => out,
    waitForLine(pattern, timeoutMs = 20_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        scan();
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before printing ${pattern}; output:\n${out}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Starts `apps/relay/dist/main.js` and resolves once it listens, with its URL. */
export async function startRelayProcess(env: Record<string, string>): Promise<AppProcess & { url: string }> {
  const app = runApp('apps/relay/dist/main.js', { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  const line = await app.waitForLine(/"msg":"relay listening"/);
  const url = (JSON.parse(line) as { url: string }).url;
  return { ...app, url };
}
