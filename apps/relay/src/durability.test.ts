import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  deleteKeys,
  type RedisServerHandle,
  setJobState,
  sha256File,
  startRedisServer,
  waitFor,
  writeVideoFile,
} from '@gtr/core/testing';
import { UnrecoverableError, Worker } from 'bullmq';
import request from 'supertest';
import { startTestRelay, type TestRelay, tusUpload } from './testing.js';

const MB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Uploads part of a file, then aborts; resolves with the upload URL. */
async function partialUpload(t: TestRelay, file: string, stopAt: number, chunkSize = MB): Promise<string> {
  let url: string | undefined;
  await new Promise<void>((resolve, reject) => {
    tusUpload({
      endpoint: `${t.url}/files/`,
      token: t.token,
      file,
      chunkSize,
      metadata: { filename: path.basename(file), name: 'durable' },
      onStart: (upload) => {
        upload.options.onChunkComplete = (_chunk, accepted) => {
          url = upload.url ?? undefined;
          if (accepted >= stopAt) upload.abort().then(resolve, reject);
        };
      },
    }).then(() => reject(new Error('upload finished before it was stopped')), reject);
  });
  return url!;
}

describe('no finished upload is left behind', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-durable-'));
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

  describe('with Redis stopped when the last byte arrives', () => {
    let redisServer: RedisServerHandle;
    let t: TestRelay;
    beforeAll(async () => {
      redisServer = await startRedisServer();
      t = await startTestRelay({ redisUrl: redisServer.url });
    });
    afterAll(async () => {
      await redisServer.start().catch(() => {});
      await t.close();
      await redisServer.stop();
      await fs.rm(redisServer.dir, { recursive: true, force: true });
    });

    it('completes the upload for the client and queues the job once Redis is back', async () => {
      const file = path.join(tmp, 'outage.mp4');
      const { sha256 } = await writeVideoFile(file, 8 * MB, 11);
      const url = await partialUpload(t, file, 4 * MB);
      const id = url.split('/').pop()!;
      expect((await t.relay.jobs.get(id))?.state).toBe('receiving');

      await redisServer.stop();
      // The client finishes while Redis is down: the relay cannot enqueue, and says so with a
      // 503; tus-js-client's retry then sees the upload complete.
      await tusUpload({
        endpoint: `${t.url}/files/`,
        uploadUrl: url,
        token: t.token,
        file,
        chunkSize: MB,
        metadata: { filename: 'outage.mp4' },
        retryDelays: [100, 500, 1_000],
      });
      expect(await sha256File(path.join(t.relay.uploadDir, id))).toBe(sha256);
      expect((await t.relay.manifests.read(id))?.completed_at).not.toBeNull();

      await redisServer.start();
      const job = await waitFor(
        async () => {
          const j = await t.relay.jobs.get(id);
          return j?.state === 'queued' ? j : undefined;
        },
        { timeoutMs: 20_000, what: 'the job to be queued after Redis came back' },
      );
      expect(job).toMatchObject({ name: 'durable', size: 8 * MB, bytes_received: 8 * MB });
      expect(await t.queues.forward.getJob(id)).toBeDefined();
    });
  });

  describe('with a running Redis', () => {
    let t: TestRelay;
    beforeEach(async () => {
      t = await startTestRelay({ uploadExpiryMs: 1_500 });
    });
    afterEach(() => t.close());

    const create = (body: Buffer, length = body.length) =>
      request(t.relay.app)
        .post('/files/')
        .set('Authorization', `Bearer ${t.token}`)
        .set('Tus-Resumable', '1.0.0')
        .set('Upload-Length', String(length))
        .set('Upload-Metadata', `filename ${b64('x.mp4')},description ${b64('kept on disk')}`)
        .set('Content-Type', 'application/offset+octet-stream')
        .send(body);

    it('rebuilds jobs from the manifests on disk after Redis lost its data', async () => {
      const done = (await create(Buffer.alloc(1_000, 2))).headers.location!.split('/').pop()!;
      const partial = (await create(Buffer.alloc(300, 2), 1_000)).headers.location!.split('/').pop()!;
      await deleteKeys(t.redis, t.prefix);
      expect(await t.relay.jobs.get(done)).toBeNull();

      const report = await t.relay.reconcile();
      expect(report).toEqual({ restored: 2, enqueued: 1 });
      expect(await t.relay.jobs.get(done)).toMatchObject({
        state: 'queued',
        size: 1_000,
        request: expect.objectContaining({ description: 'kept on disk' }),
      });
      expect(await t.queues.forward.getJob(done)).toBeDefined();
      expect(await t.relay.jobs.get(partial)).toMatchObject({ state: 'receiving', bytes_received: 300 });
      // A second pass finds nothing to do.
      expect(await t.relay.reconcile()).toEqual({ restored: 0, enqueued: 0 });
    });

    it('queues again a finished upload whose forward BullMQ ended without it (failed or done)', async () => {
      const id = (await create(Buffer.alloc(1_000, 4))).headers.location!.split('/').pop()!;
      expect((await t.relay.jobs.get(id))?.state).toBe('queued');
      // A worker that ends the BullMQ job without touching ours (e.g. stalled past its limit).
      const connection = t.redis.duplicate({ maxRetriesPerRequest: null });
      const worker = new Worker(
        t.queues.forward.name,
        async () => {
          throw new UnrecoverableError('stalled more than allowable limit');
        },
        { connection, prefix: t.queues.forward.opts.prefix! },
      );
      try {
        await waitFor(
          async () => ((await (await t.queues.forward.getJob(id))?.isFailed()) ? true : undefined),
          {
            timeoutMs: 10_000,
            what: 'the BullMQ job to fail',
          },
        );
      } finally {
        await worker.close();
        await connection.quit();
      }
      expect((await t.relay.jobs.get(id))?.state).toBe('queued');
      expect(await t.relay.reconcile()).toEqual({ restored: 0, enqueued: 1 });
      expect(await (await t.queues.forward.getJob(id))!.getState()).toBe('waiting');
    });

    it('queues a finished upload whose job was never queued (the lost onUploadFinish error)', async () => {
      const id = (await create(Buffer.alloc(1_000, 3))).headers.location!.split('/').pop()!;
      // As if the enqueue after the last byte had failed: job still receiving, nothing on the queue.
      await (await t.queues.forward.getJob(id))!.remove();
      await setJobState(t.relay.jobs, id, 'receiving');
      expect(await t.relay.reconcile()).toEqual({ restored: 0, enqueued: 1 });
      expect((await t.relay.jobs.get(id))?.state).toBe('queued');
      expect(await t.queues.forward.getJob(id)).toBeDefined();
    });

    it('expires unfinished uploads but never a finished one waiting to be forwarded', async () => {
      const done = (await create(Buffer.alloc(500, 1))).headers.location!.split('/').pop()!;
      const partial = (await create(Buffer.alloc(100, 1), 500)).headers.location!.split('/').pop()!;
      expect(await t.relay.expire()).toBe(0);
      await new Promise((r) => setTimeout(r, 1_700));
      expect(await t.relay.expire()).toBe(1);
      const files = await fs.readdir(t.relay.uploadDir);
      expect(files.filter((f) => f.startsWith(partial))).toEqual([]);
      expect(files.filter((f) => f.startsWith(done)).sort()).toEqual([
        done,
        `${done}.json`,
        `${done}.relay.json`,
      ]);
      expect(await t.relay.jobs.get(partial)).toMatchObject({
        state: 'failed',
        error: { code: 'UPLOAD_EXPIRED', retryable: false },
      });
      expect((await t.relay.jobs.get(done))?.state).toBe('queued');
    });
  });
});
