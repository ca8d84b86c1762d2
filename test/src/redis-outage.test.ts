import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type RedisServerHandle, startRedisServer, waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { clientUpload } from './support/clients.js';
import { type Cluster, jobsOf, startCluster, uploadDirOf } from './support/cluster.js';

/*
 * Redis (its own server, append-only on) goes away for 20 s in the middle of a run and comes
 * back. Uploads in progress continue or resume, uploads started during the outage get through
 * once it is over, the same worker process carries on by itself, and nothing is lost or doubled.
 */
const MB = 1024 * 1024;
const OUTAGE_MS = 20_000;

describe('a 20 s Redis outage in the middle of a run', () => {
  let tmp: string;
  let redis: RedisServerHandle;
  let emulator: Emulator;
  let cluster: Cluster;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'redis-outage-'));
    redis = await startRedisServer();
    // A capped link, so that forwards are in flight when Redis goes.
    emulator = await startEmulator({ faults: { processingStepMs: 50, bandwidthBytesPerSec: 4 * MB } });
    cluster = await startCluster({
      emulator,
      dataDir: path.join(tmp, 'data'),
      redisUrl: redis.url,
      workerEnv: { FORWARD_CHUNK_SIZE: String(MB), FORWARD_CONCURRENCY: '2', GCORE_API_RPS: '20' },
    });
    await cluster.startWorker();
  }, 60_000);

  afterAll(async () => {
    await redis?.start().catch(() => {});
    await cluster?.close();
    await emulator?.close();
    await redis?.stop();
    await fs.rm(redis?.dir ?? '', { recursive: true, force: true });
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('loses nothing: uploads resume, the worker reconnects by itself, every job ends ready', async () => {
    const upload = async (n: number) => {
      const file = path.join(tmp, `clip-${n}.mp4`);
      const size = 3 * MB + n * 100_000;
      const { sha256 } = await writeVideoFile(file, size, 900 + n);
      const url = await clientUpload(file, {
        endpoint: `${cluster.url}/files/`,
        token: cluster.token,
        chunkSize: MB,
        bytesPerSecond: MB,
        metadata: { filename: `clip-${n}.mp4` },
        // About 45 s of retries: more than the outage.
        retryDelays: [0, 1_000, 2_000, 3_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000],
      });
      return { id: url.split('/').pop()!, sha256, size };
    };

    // Four uploads before the outage (two finish and start forwarding, two are mid-transfer) …
    const early = [upload(1), upload(2)];
    await new Promise((r) => setTimeout(r, 2_500));
    const running = [upload(3), upload(4)];
    await Promise.all(early);
    await waitFor(() => (emulator.videos().some((v) => v.bytesPatched > 0) ? true : undefined), {
      timeoutMs: 20_000,
      what: 'a forward in flight',
    });
    const workerPid = cluster.worker!.child.pid;

    await redis.stop();
    // … and two more started while Redis is down.
    const during = [upload(5), upload(6)];
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const ready = await fetch(`${cluster.url}/readyz`);
    expect(ready.status).toBe(503);
    await redis.start();

    const uploads = await Promise.all([...early, ...running, ...during]);
    const ids = uploads.map((u) => u.id);
    const jobs = await waitFor(
      async () => {
        const all = await jobsOf(cluster, ids);
        return all.every((j) => j.state === 'ready' || j.state === 'failed') ? all : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'every job to finish after the outage' },
    ).catch(async (error: unknown) => {
      const all = await jobsOf(cluster, ids).catch(() => []);
      throw new Error(
        `${(error as Error).message}: ${JSON.stringify(all.map((j) => [j.id, j.state, j.attempts, j.error]))}\n${cluster
          .output()
          .split('\n')
          .filter((l) => /"level":(40|50)/.test(l))
          .slice(-40)
          .join('\n')}`,
      );
    });

    expect(jobs.map((j) => [j.state, j.error])).toEqual(jobs.map(() => ['ready', null]));
    const videos = emulator.videos().filter((v) => !v.deleted);
    expect(videos).toHaveLength(uploads.length);
    for (const [i, u] of uploads.entries()) {
      const video = emulator.video(jobs[i]!.video!.id)!;
      expect([u.id, video.sha256, video.size]).toEqual([u.id, u.sha256, u.size]);
    }
    // The same worker process did it: it reconnected by itself.
    expect(cluster.worker!.child.pid).toBe(workerPid);
    expect(cluster.worker!.child.exitCode).toBeNull();
    expect(cluster.relay.child.exitCode).toBeNull();
    await waitFor(
      async () => ((await fs.readdir(uploadDirOf(path.join(tmp, 'data')))).length === 0 ? true : undefined),
      { timeoutMs: 10_000, what: 'an empty upload dir' },
    );
    expect((await fetch(`${cluster.url}/readyz`)).status).toBe(200);
  }, 180_000);
});
