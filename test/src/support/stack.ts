import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createLogger,
  createQueues,
  createRedis,
  type JobRecord,
  type JobState,
  type Logger,
  type ResolveHost,
} from '@gtr/core';
import { testRedisUrl, waitFor } from '@gtr/core/testing';
import { type Emulator, type Faults, startEmulator } from '@gtr/gcore-emulator';
import { startTestRelay, type TestRelay, type TestRelayOptions, tusUpload } from '@gtr/relay/testing';
import { createWorker, type RelayWorker, type WorkerSettings } from '@gtr/worker';
import type { Redis } from 'ioredis';

export interface StackOptions {
  faults?: Partial<Faults>;
  /** Gcore API key the worker uses (default: the emulator's). */
  apiKey?: string;
  rps?: number;
  /** The worker's Gcore API request timeout (default the client's 30 s). */
  gcoreTimeoutMs?: number;
  worker?: Partial<WorkerSettings>;
  /** Name resolution for the worker's callbacks (default the system's). */
  resolve?: ResolveHost;
  /** The worker's clock (default Date.now). */
  now?: () => number;
  relay?: TestRelayOptions;
  /** Start the in-process worker (default true). */
  withWorker?: boolean;
  logger?: Logger;
  /** The only API key the emulator accepts (default: its own). */
  emulatorApiKey?: string;
  /** Attempts per forward before a job fails (default: the relay's 8, the worker's 5). */
  forwardAttempts?: number;
}

export interface Stack {
  emulator: Emulator;
  relay: TestRelay;
  worker: RelayWorker | null;
  dataDir: string;
  /** Starts (or restarts) the in-process worker, e.g. with another API key. */
  startWorker(overrides?: { apiKey?: string }): Promise<RelayWorker>;
  stopWorker(): Promise<void>;
  /** A complete TUS upload through the relay; resolves with the job id. */
  upload(file: string, metadata?: Record<string, string>, chunkSize?: number): Promise<string>;
  job(id: string): Promise<JobRecord>;
  waitForState(id: string, states: JobState[], timeoutMs?: number): Promise<JobRecord>;
  close(): Promise<void>;
}

/** Emulator + relay + worker, all in this process, on loopback, with a fresh Redis prefix. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const dataDir = options.relay?.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'stack-')));
  const relay = await startTestRelay({
    logger,
    ...(options.forwardAttempts ? { forwardAttempts: options.forwardAttempts } : {}),
    ...options.relay,
    dataDir,
  });
  // Started after the relay, so that its webhooks can go to the relay's hook route when it has one.
  const hookSecret = options.relay?.gcoreWebhooks?.pathSecret;
  const emulator = await startEmulator({
    faults: { processingStepMs: 50, ...options.faults },
    ...(options.emulatorApiKey ? { apiKey: options.emulatorApiKey } : {}),
    ...(hookSecret ? { webhookUrl: `${relay.url}/hooks/gcore/${hookSecret}` } : {}),
  });
  let workerRedis: Redis | null = null;
  let worker: RelayWorker | null = null;

  const stack: Stack = {
    emulator,
    relay,
    get worker() {
      return worker;
    },
    dataDir,
    async startWorker(overrides = {}) {
      await stack.stopWorker();
      workerRedis = createRedis(testRedisUrl(), { role: 'worker' });
      const queues = createQueues(workerRedis, {
        forwardAttempts: options.forwardAttempts ?? 5,
        prefix: relay.prefix,
      });
      worker = await createWorker({
        settings: {
          dataDir,
          chunkSize: 1024 * 1024,
          concurrency: 2,
          completeOn: 'ready',
          keepFiles: false,
          trackIntervalMs: { first: 50, max: 500 },
          // The tests' callback endpoints listen on loopback, which production refuses by default;
          // tests of that refusal set it back to false.
          callbackAllowPrivate: true,
          // The upstream is the emulator, whose upload server is plain http on loopback (as with
          // `pnpm start` without a key); tests of the refusal set it back to false.
          allowInsecureUpload: true,
          ...options.worker,
        },
        gcore: {
          apiUrl: emulator.url,
          apiKey: overrides.apiKey ?? options.apiKey ?? emulator.apiKey,
          requestsPerSecond: options.rps ?? 50,
          ...(options.gcoreTimeoutMs ? { timeoutMs: options.gcoreTimeoutMs } : {}),
        },
        redis: workerRedis,
        queues,
        logger,
        prefix: relay.prefix,
        ...(options.resolve ? { resolve: options.resolve } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      const started = worker;
      const close = started.close.bind(started);
      started.close = async () => {
        await close();
        await queues.close();
      };
      return started;
    },
    async stopWorker() {
      if (worker) await worker.close();
      if (workerRedis) await workerRedis.quit().catch(() => {});
      worker = null;
      workerRedis = null;
    },
    async upload(file, metadata = {}, chunkSize = 4 * 1024 * 1024) {
      const url = await tusUpload({
        endpoint: `${relay.url}/files/`,
        token: relay.token,
        file,
        chunkSize,
        metadata: { filename: path.basename(file), ...metadata },
      });
      return url.split('/').pop()!;
    },
    async job(id) {
      const record = await relay.relay.jobs.get(id);
      if (!record) throw new Error(`no job ${id}`);
      return record;
    },
    waitForState(id, states, timeoutMs = 30_000) {
      return waitFor(
        async () => {
          const record = await relay.relay.jobs.get(id);
          return record && states.includes(record.state) ? record : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `job ${id} to reach ${states.join('/')}` },
      ).catch(async (error: unknown) => {
        const record = await relay.relay.jobs.get(id);
        throw new Error(
          `${(error as Error).message}; it is ${JSON.stringify(record && { ...record, progress: '…' })}`,
        );
      });
    },
    async close() {
      await stack.stopWorker();
      await relay.close();
      await emulator.close();
      if (!options.relay?.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  if (options.withWorker ?? true) await stack.startWorker();
  return stack;
}
