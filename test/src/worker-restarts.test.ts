import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { startTestRelay, type TestRelay, tusUpload } from '@gtr/relay/testing';
import { type AppProcess, runApp } from './support/processes.js';

const MB = 1024 * 1024;
const CHUNK = 10_000_000;

describe('a worker process that dies or stops mid-upload', () => {
  let tmp: string;
  let emulator: Emulator;
  let relay: TestRelay;
  const workers: AppProcess[] = [];

  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'restarts-'));
    // A capped link, so the transfer is still running when the worker is stopped.
    emulator = await startEmulator({ faults: { bandwidthBytesPerSec: 30 * MB, processingStepMs: 50 } });
    relay = await startTestRelay({ dataDir: path.join(tmp, 'data') });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
    await relay.close();
    await emulator.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const startWorker = async () => {
    const worker = runApp('apps/worker/dist/main.js', {
      DATA_DIR: path.join(tmp, 'data'),
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: relay.prefix,
      GCORE_API_URL: emulator.url,
      GCORE_API_KEY: emulator.apiKey,
      GCORE_ALLOW_INSECURE_UPLOAD: 'true',
      FORWARD_CHUNK_SIZE: String(CHUNK),
      WORKER_LOCK_DURATION: '3s',
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    });
    workers.push(worker);
    await worker.waitForLine(/"msg":"worker started"/);
    return worker;
  };

  const uploadFile = async (size: number) => {
    const file = path.join(tmp, 'big.mp4');
    const { sha256 } = await writeVideoFile(file, size, 77);
    const url = await tusUpload({
      endpoint: `${relay.url}/files/`,
      token: relay.token,
      file,
      chunkSize: 64 * MB,
      metadata: { filename: 'big.mp4', name: 'Big one' },
    });
    return { id: url.split('/').pop()!, sha256 };
  };

  const patchedBeyond = (bytes: number) =>
    waitFor(() => (emulator.videos()[0] && emulator.videos()[0]!.bytesPatched > bytes ? true : undefined), {
      timeoutMs: 30_000,
      what: `${bytes} bytes at the emulator`,
    });

  const readyJob = (id: string) =>
    waitFor(
      async () => {
        const job = await relay.relay.jobs.get(id);
        return job?.state === 'ready' || job?.state === 'failed' ? job : undefined;
      },
      { timeoutMs: 60_000, what: 'the job to finish' },
    );

  it('SIGKILL: a new worker finishes the upload with one video and at most one chunk re-sent', async () => {
    const size = 200 * MB;
    const { id, sha256 } = await uploadFile(size);
    const first = await startWorker();
    await patchedBeyond(60 * MB);
    expect(await first.stop('SIGKILL')).toBe('SIGKILL');
    await startWorker();
    const job = await readyJob(id);
    expect(job.state).toBe('ready');
    const videos = emulator.videos();
    expect(videos).toHaveLength(1);
    expect(videos[0]!.sha256).toBe(sha256);
    expect(videos[0]!.tusUploads).toBe(1);
    expect(videos[0]!.bytesPatched - size).toBeLessThanOrEqual(CHUNK);
  });

  it("SIGTERM: the worker lets go promptly and the next one resumes from Gcore's offset", async () => {
    const size = 120 * MB;
    const { id, sha256 } = await uploadFile(size);
    const first = await startWorker();
    await patchedBeyond(30 * MB);
    expect(await first.stop('SIGTERM')).toBe(0);
    // It let go in the middle of the transfer instead of finishing it first.
    expect(emulator.videos()[0]!.bytesPatched).toBeLessThan(size);
    expect(first.output()).toMatch(/worker stopping/);
    await startWorker();
    const job = await readyJob(id);
    expect(job.state).toBe('ready');
    // A shutdown hands the job back without spending an attempt.
    expect(job.attempts).toBe(1);
    const video = emulator.videos()[0]!;
    expect(video.sha256).toBe(sha256);
    expect(video.tusUploads).toBe(1);
    expect(video.bytesPatched - size).toBeLessThanOrEqual(CHUNK);
  });
});
