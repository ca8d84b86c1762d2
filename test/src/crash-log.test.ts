import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, testRedisUrl } from '@gtr/core/testing';
import { type AppProcess, runApp } from './support/processes.js';

/*
 * A crash is logged with its cause, then the process exits 1 (for its supervisor to start it
 * again). Each built process gets, before its own code, a module that on SIGUSR2 throws (or
 * rejects) an error with a two-level `cause` whose message carries a secret of its configuration;
 * the test waits for the process to be up, sends the signal, and reads what it printed.
 */
const secret = randomBytes(24).toString('hex');

/** A preloaded module (`--import`): on SIGUSR2, the error of `how`, from a callback of its own. */
function crashOnSignal(how: 'throw' | 'reject'): string[] {
  const error =
    "new Error('injected crash, key ' + process.env.INJECTED_SECRET, { cause: Object.assign(" +
    "new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED', cause: new Error('the root cause') }) })";
  const act = how === 'throw' ? `throw ${error};` : `void Promise.reject(${error});`;
  const source = `process.on('SIGUSR2', () => setImmediate(() => { ${act} }));`;
  return ['--import', `data:text/javascript,${encodeURIComponent(source)}`];
}

interface Case {
  name: string;
  script: string;
  /** The line that says the process is up. */
  up: RegExp;
  env: (tmp: string) => Record<string, string>;
}

const relayEnv = (tmp: string) => ({
  REDIS_URL: testRedisUrl(),
  REDIS_PREFIX: testPrefix(),
  PORT: '0',
  DATA_DIR: path.join(tmp, 'data'),
  RELAY_API_TOKENS: `tool:${secret}`,
  LOG_LEVEL: 'info',
});

const CASES: Case[] = [
  { name: 'relay', script: 'apps/relay/dist/main.js', up: /"msg":"relay listening"/, env: relayEnv },
  {
    name: 'worker',
    script: 'apps/worker/dist/main.js',
    up: /"msg":"worker started"/,
    env: (tmp) => ({
      ...relayEnv(tmp),
      GCORE_API_KEY: secret,
      GCORE_API_URL: 'http://127.0.0.1:9',
      WORKER_METRICS_PORT: '0',
    }),
  },
  {
    name: 'standalone',
    script: 'apps/standalone/dist/main.js',
    up: /is up at /,
    env: (tmp) => ({ ...relayEnv(tmp), EMULATOR_PORT: '0' }),
  },
  {
    name: 'gcore-emulator',
    script: 'apps/gcore-emulator/dist/main.js',
    up: /Gcore emulator listening on/,
    env: () => ({ EMULATOR_PORT: '0', EMULATOR_API_KEY: secret }),
  },
];

describe('a crash', () => {
  let tmp: string;
  let app: AppProcess | undefined;
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'crash-log-'));
  });
  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** Starts the case's process with the crash preloaded, crashes it, and answers its exit code and output. */
  async function crash(c: Case, how: 'throw' | 'reject'): Promise<{ code: number | string; output: string }> {
    app = runApp(
      c.script,
      { ...c.env(tmp), INJECTED_SECRET: secret },
      { cwd: tmp, nodeArgs: crashOnSignal(how) },
    );
    await app.waitForLine(c.up, 30_000);
    const code = await app.stop('SIGUSR2');
    return { code, output: app.output() };
  }

  it.each(CASES)('of $name is logged with its causes, the secret redacted, and it exits 1', async (c) => {
    const { code, output } = await crash(c, 'throw');
    expect(code).toBe(1);
    const fatal = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.level === 60);
    expect(fatal).toMatchObject({
      process: c.name,
      msg: expect.stringContaining(`${c.name} crashed: uncaught exception: Error: injected crash`),
      causes: ['Error: connect ECONNREFUSED 127.0.0.1:9 (ECONNREFUSED)', 'Error: the root cause'],
      err: { stack: expect.stringContaining('caused by: Error: connect ECONNREFUSED') },
    });
    // The plain line, for a journal that keeps stderr only.
    expect(output).toMatch(
      new RegExp(
        `^${c.name} crashed: uncaught exception: Error: injected crash, key \\[redacted\\]; ` +
          'caused by: Error: connect ECONNREFUSED 127\\.0\\.0\\.1:9 \\(ECONNREFUSED\\); caused by: Error: the root cause$',
        'm',
      ),
    );
    expect(output).toMatch(new RegExp(`^${c.name}: exiting with code 1$`, 'm'));
    expect(output).not.toContain(secret);
  });

  it('from an unhandled rejection is logged as one, and the process exits 1', async () => {
    const { code, output } = await crash(CASES[0]!, 'reject');
    expect(code).toBe(1);
    expect(output).toMatch(/"level":60,.*"msg":"relay crashed: unhandled rejection: Error: injected crash/);
    expect(output).toMatch(/^relay crashed: unhandled rejection: Error: injected crash.*the root cause$/m);
    expect(output).not.toContain(secret);
  });
});
