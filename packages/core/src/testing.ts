// Test helpers, imported as `@gtr/core/testing` (never from the `@gtr/core` entry point).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobPatch, JobRepository } from './jobs/repository.js';
import { JOB_STATES, type JobRecord, type JobState } from './jobs/types.js';
import { createRedis } from './redis.js';

export { writeVideoFile } from './video-file.js';

/** The Redis the tests use: REDIS_URL, else the local default. */
export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix per test, as BullMQ's own suite does, and a way to wipe it afterwards. */
export function testPrefix(): string {
  return `test-${randomUUID()}`;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export function testRedis(): Redis {
  return createRedis(testRedisUrl(), { role: 'worker' });
}

export interface RedisServerHandle {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM: with appendonly on, it keeps its data). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
}

/**
 * A throw-away `redis-server` on its own port (append-only file on), for tests that stop Redis
 * in the middle of a run. Needs `redis-server` on PATH (.ci/run installs it).
 */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const net = await import('node:net');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-redis-'));
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  let child: import('node:child_process').ChildProcess | null = null;
  const handle: RedisServerHandle = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      if (child && child.exitCode === null) return;
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''],
        { stdio: 'ignore' },
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.write('PING\r\n');
          });
          s.once('data', (d) => {
            s.destroy();
            resolve(d.toString().includes('PONG'));
          });
          s.once('error', () => resolve(false));
        });
        if (up) return;
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
  };
  await handle.start();
  return handle;
}

/** SHA-256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const fs = await import('node:fs');
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Polls until `check` returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Puts a job in any state with any fields, for test fixtures (production code moves jobs only
 * through JobLifecycle and its table of allowed moves). A final state still writes the callback
 * outbox entry, as a real move would.
 */
export async function setJobState(
  jobs: JobRepository,
  id: string,
  state: JobState,
  patch: JobPatch = {},
): Promise<JobRecord | null> {
  const moved = await jobs.transition(id, state, JOB_STATES, patch);
  return moved?.record ?? null;
}
