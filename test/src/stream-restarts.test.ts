import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis, type JobRecord, JobRepository } from '@gtr/core';
import {
  deleteKeys,
  freeLoopbackPort,
  testPrefix,
  testRedisUrl,
  waitFor,
  writeVideoFile,
} from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import type { Upload } from 'tus-js-client';
import { clientUpload } from './support/clients.js';
import { type AppProcess, runApp, startRelayProcess } from './support/processes.js';

const MB = 1024 * 1024;
const CHUNK = 2 * MB;
const TOKEN = 'stream-restarts-token-0123456789abcdef';

/** FORWARD_MODE=stream with real processes: either side killed while the upload still arrives. */
describe('a relay or worker killed mid-stream', () => {
  let tmp: string;
  let emulator: Emulator;
  const prefix = testPrefix();
  const redis = createRedis(testRedisUrl());
  const jobs = new JobRepository(redis, prefix);
  const processes: AppProcess[] = [];

  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stream-restarts-'));
    emulator = await startEmulator({ faults: { processingStepMs: 50 } });
  });
  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop('SIGKILL')));
    await emulator.close();
    await deleteKeys(redis, prefix);
    await fs.rm(tmp, { recursive: true, force: true });
  });
  afterAll(() => redis.quit());

  const common = () => ({
    DATA_DIR: path.join(tmp, 'data'),
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: prefix,
    FORWARD_MODE: 'stream',
    FORWARD_CHUNK_SIZE: String(CHUNK),
    LOG_LEVEL: 'info',
  });

  const startWorker = async () => {
    const worker = runApp('apps/worker/dist/main.js', {
      ...common(),
      GCORE_API_URL: emulator.url,
      GCORE_API_KEY: emulator.apiKey,
      GCORE_ALLOW_INSECURE_UPLOAD: 'true',
      WORKER_LOCK_DURATION: '3s',
      WORKER_METRICS_PORT: '0',
    });
    processes.push(worker);
    await worker.waitForLine(/"msg":"worker started"/);
    return worker;
  };

  const startRelay = async (port: number) => {
    const relay = await startRelayProcess({ ...common(), RELAY_API_TOKENS: TOKEN, PORT: String(port) });
    processes.push(relay);
    return relay;
  };

  /** A throttled upload whose retries outlast a relay restart. */
  const upload = async (url: string, size: number) => {
    const file = path.join(tmp, 'streamed.mp4');
    const { sha256 } = await writeVideoFile(file, size, 41);
    let running: Upload | undefined;
    const done = clientUpload(file, {
      endpoint: `${url}/files/`,
      token: TOKEN,
      chunkSize: 8 * MB,
      metadata: { filename: 'streamed.mp4' },
      bytesPerSecond: 6 * MB,
      retryDelays: [0, 1_000, 2_000, 3_000, 5_000, 5_000, 5_000],
      onStart: (u) => {
        running = u;
      },
    });
    const id = () => running?.url?.split('/').pop();
    return { sha256, done, id };
  };

  const streamedBeyond = (id: () => string | undefined, bytes: number) =>
    waitFor(
      async () => {
        const current = id();
        const job = current ? await jobs.get(current) : null;
        return job?.state === 'receiving' && job.bytes_forwarded >= bytes ? job : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 25, what: `${bytes} bytes forwarded while receiving` },
    );

  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = await jobs.get(id);
        return job?.state === 'ready' || job?.state === 'failed' ? job : undefined;
      },
      { timeoutMs: 120_000, what: 'the job to finish' },
    );

  const expectOneVideo = (job: JobRecord, size: number, sha256: string) => {
    expect([job.state, job.error]).toEqual(['ready', null]);
    const videos = emulator.videos();
    expect(videos).toHaveLength(1);
    expect(videos[0]!.sha256).toBe(sha256);
    expect(videos[0]!.tusUploads).toBe(1);
    expect(videos[0]!.bytesPatched - size).toBeLessThanOrEqual(CHUNK);
  };

  it('worker SIGKILL: the next worker carries on streaming, one video, at most one chunk re-sent', async () => {
    const size = 40 * MB;
    const relay = await startRelay(0);
    const first = await startWorker();
    const { sha256, done, id } = await upload(relay.url, size);
    await streamedBeyond(id, 6 * MB);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    await startWorker();
    await done;
    expectOneVideo(await finished(id()!), size, sha256);
  }, 180_000);

  it('relay SIGKILL: the tool resumes at a restarted relay and the stream carries on, one video', async () => {
    const size = 40 * MB;
    const port = await freeLoopbackPort();
    const relay = await startRelay(port);
    await startWorker();
    const { sha256, done, id } = await upload(relay.url, size);
    await streamedBeyond(id, 6 * MB);
    expect(await relay.stop('SIGKILL')).toBe('SIGKILL');
    await startRelay(port);
    await done;
    expectOneVideo(await finished(id()!), size, sha256);
  }, 180_000);
});
