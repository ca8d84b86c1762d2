import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { UploadManifest } from '@gtr/core';
import { sha256File, testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { clientUpload } from './support/clients.js';
import { uploadDirOf } from './support/cluster.js';
import {
  type Fleet,
  type FleetRelay,
  type RoundRobinProxy,
  startFleet,
  startRoundRobinProxy,
} from './support/fleet.js';

/*
 * Scaled out with no sticky sessions: 3 relays and 2 workers on one Redis and one data dir, behind
 * a proxy that sends each request to the next relay. The upload lock lives in Redis, so every
 * relay sees every other relay's requests; maintenance runs once for the fleet.
 */
const MB = 1024 * 1024;
const RETRIES = [0, 300, 1_000, 2_000, 3_000, 5_000, 5_000, 5_000, 5_000];

describe('3 relays and 2 workers behind a round-robin proxy', () => {
  let tmp: string;
  let emulator: Emulator;
  let fleet: Fleet;
  let proxy: RoundRobinProxy;
  const expected = new Map<string, { sha256: string; size: number; state: 'ready' | 'canceled' }>();
  const seeded: string[] = [];

  const auth = () => ({ Authorization: `Bearer ${fleet.token}` });
  const tusHeaders = () => ({ ...auth(), 'Tus-Resumable': '1.0.0' });
  const uploadDir = () => uploadDirOf(path.join(tmp, 'data'));

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'scale-out-'));
    emulator = await startEmulator({ faults: { processingStepMs: 50 } });
    // Complete uploads that Redis knows nothing of (it lost them): the reconcilers of the three
    // relays, starting at once, find them together.
    await fs.mkdir(uploadDir(), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const id = randomBytes(16).toString('hex');
      const size = MB + i * 1000;
      const { sha256 } = await writeVideoFile(path.join(uploadDir(), id), size, 700 + i);
      const created_at = new Date().toISOString();
      await fs.writeFile(
        path.join(uploadDir(), `${id}.json`),
        JSON.stringify({
          id,
          size,
          offset: 0,
          metadata: { filename: `seed-${i}.mp4` },
          creation_date: created_at,
        }),
      );
      const manifest: UploadManifest = {
        id,
        kind: 'upload',
        name: `seed ${i}`,
        filename: `seed-${i}.mp4`,
        size,
        created_at,
        request: { description: null, filetype: null, fields: {}, callback_url: null, via: 'gcore' },
        completed_at: created_at,
        video_id: null,
        client_id: null,
        upload_url: null,
        uploaded_at: null,
      };
      await fs.writeFile(path.join(uploadDir(), `${id}.relay.json`), JSON.stringify(manifest));
      seeded.push(id);
      expected.set(id, { sha256, size, state: 'ready' });
    }
    fleet = await startFleet({
      emulator,
      dataDir: path.join(tmp, 'data'),
      redisUrl: testRedisUrl(),
      relays: 3,
      workers: 2,
      workerEnv: { FORWARD_CONCURRENCY: '3', GCORE_API_RPS: '50' },
    });
    proxy = await startRoundRobinProxy(fleet.relays.map((r) => r.url));
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await fleet?.close();
    await emulator?.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const upload = async (
    n: number,
    size: number,
    bytesPerSecond: number,
    onProgress?: (b: number) => void,
  ) => {
    const file = path.join(tmp, `clip-${n}.mp4`);
    const { sha256 } = await writeVideoFile(file, size, 100 + n);
    const url = await clientUpload(file, {
      endpoint: `${proxy.url}/files/`,
      token: fleet.token,
      chunkSize: MB,
      bytesPerSecond,
      metadata: { filename: `clip-${n}.mp4`, name: `clip ${n}` },
      retryDelays: RETRIES,
      ...(onProgress ? { onProgress } : {}),
    });
    const id = url.split('/').pop()!;
    expected.set(id, { sha256, size, state: 'ready' });
    return id;
  };

  const allReady = (ids: readonly string[]) =>
    waitFor(
      async () => {
        const jobs = await Promise.all(ids.map((id) => fleet.jobs.get(id)));
        return jobs.every((j) => j?.state === 'ready') ? jobs.map((j) => j!) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'every job ready' },
    ).catch(async (error: unknown) => {
      const jobs = await Promise.all(ids.map((id) => fleet.jobs.get(id)));
      throw new Error(
        `${(error as Error).message}: ${JSON.stringify(jobs.map((j) => [j?.id, j?.state, j?.error]))}`,
      );
    });

  const sameBytesAtGcore = async (ids: readonly string[]) => {
    const jobs = await allReady(ids);
    for (const job of jobs) {
      const video = emulator.video(job.video!.id)!;
      const want = expected.get(job.id)!;
      expect([job.id, video.sha256, video.size]).toEqual([job.id, want.sha256, want.size]);
    }
  };

  it('reconciles once for the fleet when three relays start at once: one job per lost upload', async () => {
    await sameBytesAtGcore(seeded);
    const restored = fleet.relays
      .flatMap((r) => r.output().split('\n'))
      .filter((l) => l.includes('"msg":"reconciled uploads with the queue"'))
      .reduce((sum, l) => sum + (JSON.parse(l) as { restored: number }).restored, 0);
    expect(restored).toBe(seeded.length);
  });

  it('takes 12 chunked uploads whose PATCHes land on different relays: all ready, identical bytes', async () => {
    const before = new Map(proxy.served);
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, n) => upload(n, 2 * MB + n * 50_000, 16 * MB)),
    );
    for (const [relay, count] of proxy.served) expect(count - (before.get(relay) ?? 0)).toBeGreaterThan(5);
    await sameBytesAtGcore(ids);
  });

  /**
   * Two PATCHes at offset 0 of one upload on two relays, both sent before either has a byte
   * stored: the first sends 128 KB, the second its whole body, and the first the rest once
   * either is answered. One answer each: [status, Upload-Offset].
   */
  const racePatches = async (first: FleetRelay, second: FleetRelay) => {
    const size = 512 * 1024;
    const created = await fetch(`${proxy.url}/files/`, {
      method: 'POST',
      headers: {
        ...tusHeaders(),
        'Upload-Length': String(size),
        'Upload-Metadata': `filename ${Buffer.from('race.mp4').toString('base64')}`,
      },
    });
    expect(created.status).toBe(201);
    const id = created.headers.get('location')!.split('/').pop()!;
    const bodies = [randomBytes(size), randomBytes(size)] as const;
    const patchHeaders = {
      ...tusHeaders(),
      'Upload-Offset': '0',
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(size),
    };
    const open = (relay: FleetRelay) => {
      const { hostname, port } = new URL(relay.url);
      const req = http.request({
        hostname,
        port,
        method: 'PATCH',
        path: `/files/${id}`,
        headers: patchHeaders,
      });
      req.on('error', () => {});
      const answer = new Promise<[number, number]>((resolve) => {
        req.on('response', (res) => {
          res.resume();
          resolve([res.statusCode!, Number(res.headers['upload-offset'] ?? -1)]);
        });
        req.on('close', () => resolve([0, -1]));
      });
      req.flushHeaders();
      return { req, answer };
    };
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const slow = open(first);
    await pause(300);
    const fast = open(second);
    await pause(200);
    slow.req.write(bodies[0].subarray(0, 128 * 1024));
    await pause(100);
    fast.req.end(bodies[1]);
    await Promise.race([slow.answer, fast.answer]);
    // Whatever happened, the first writer now sends the rest of its body.
    slow.req.end(bodies[0].subarray(128 * 1024));
    const slowAnswer = slow.answer;
    const fastAnswer = fast.answer;
    const answers = [await slowAnswer, await fastAnswer];
    const stored = await fs.readFile(path.join(uploadDir(), id));
    return { id, answers, stored, bodies };
  };

  it('accepts exactly one of two PATCHes at one offset on two relays, and stores only its bytes (5 times)', async () => {
    const rounds = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => racePatches(fleet.relays[i % 3]!, fleet.relays[(i + 1) % 3]!)),
    );
    for (const { id, answers, stored, bodies } of rounds) {
      // Accepted: 204 with bytes taken. (A request asked to let go is ended, and answered 204
      // with the offset it reached: 0 if its bytes had not come yet.)
      const accepted = answers.flatMap(([status, offset], i) => (status === 204 && offset > 0 ? [i] : []));
      expect({ id, answers, accepted: accepted.length }).toEqual({ id, answers, accepted: 1 });
      const winner = accepted[0]!;
      const [loserStatus, loserOffset] = answers[1 - winner]!;
      expect(loserStatus >= 409 || (loserStatus === 204 && loserOffset === 0)).toBe(true);
      expect(stored.length).toBe(answers[winner]![1]);
      expect(stored.equals(bodies[winner]!.subarray(0, stored.length))).toBe(true);
      // Terminated over TUS (DELETE takes the lock too) unless finished: the job is canceled.
      const gone = await fetch(`${proxy.url}/files/${id}`, { method: 'DELETE', headers: tusHeaders() });
      if (stored.length < 512 * 1024) {
        expect(gone.status).toBe(204);
        expected.set(id, { sha256: '', size: 0, state: 'canceled' });
      } else {
        const { createHash } = await import('node:crypto');
        expected.set(id, {
          sha256: createHash('sha256').update(stored).digest('hex'),
          size: stored.length,
          state: 'ready',
        });
      }
    }
  });

  it('never lets a relay sweeping expired uploads remove one that another relay is receiving', async () => {
    const size = 600 * 1024;
    const file = path.join(tmp, 'receiving.mp4');
    const { sha256 } = await writeVideoFile(file, size, 42);
    const video = await fs.readFile(file);
    const created = await fetch(`${fleet.relays[0]!.url}/files/`, {
      method: 'POST',
      headers: {
        ...tusHeaders(),
        'Upload-Length': String(size),
        'Upload-Metadata': `filename ${Buffer.from('receiving.mp4').toString('base64')}`,
      },
    });
    const id = created.headers.get('location')!.split('/').pop()!;
    const { hostname, port } = new URL(fleet.relays[0]!.url);
    const patch = http.request({
      hostname,
      port,
      method: 'PATCH',
      path: `/files/${id}`,
      headers: {
        ...tusHeaders(),
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(size),
      },
    });
    const answer = new Promise<number>((resolve, reject) => {
      patch.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      patch.on('error', reject);
    });
    patch.write(video.subarray(0, 100 * 1024));
    await waitFor(async () => ((await fs.stat(path.join(uploadDir(), id))).size > 0 ? true : undefined));
    // A relay whose UPLOAD_EXPIRY has passed for this upload starts, and sweeps as it starts;
    // its jobs API would expire the upload on sight as well.
    await new Promise((r) => setTimeout(r, 1_100));
    const sweeper = await fleet.startRelay('sweeper', { UPLOAD_EXPIRY: '1s' });
    expect(sweeper.output()).toContain(
      `"uploadId":"${id}","msg":"expired upload is in use (locked): left for now"`,
    );
    const seen = (await (await fetch(`${sweeper.url}/api/jobs/${id}`, { headers: auth() })).json()) as {
      state: string;
    };
    expect(seen.state).toBe('receiving');
    patch.end(video.subarray(100 * 1024));
    expect(await answer).toBe(204);
    expect(await sha256File(path.join(uploadDir(), id)).catch(() => 'gone')).toBe(sha256);
    expected.set(id, { sha256, size, state: 'ready' });
    expect(await sweeper.stop('SIGTERM')).toBe(0);
    await sameBytesAtGcore([id]);
  });

  it('finishes every upload when a relay is SIGKILLed mid-upload and the proxy skips it; no orphan jobs', async () => {
    const progress = [0, 0, 0, 0];
    const uploads = [0, 1, 2, 3].map((i) =>
      upload(20 + i, 4 * MB, 2 * MB, (bytes) => {
        progress[i] = bytes;
      }),
    );
    const victim = fleet.relays[2]!;
    // Killed while it is receiving a PATCH (it holds that upload's lock), once every upload is
    // past its creation.
    await waitFor(
      () =>
        progress.every((p) => p >= MB) && proxy.inFlight(victim.url).includes('PATCH') ? true : undefined,
      { timeoutMs: 30_000, intervalMs: 10, what: 'every upload under way, one PATCH on the victim' },
    );
    expect(await victim.stop('SIGKILL')).toBe('SIGKILL');
    proxy.skip(victim.url);
    const ids = await Promise.all(uploads);
    await sameBytesAtGcore(ids);

    // Every job in Redis is one of this test's, in the state it should be in.
    const listed = (await (await fetch(`${proxy.url}/api/jobs?limit=500`, { headers: auth() })).json()) as {
      items: Array<{ id: string; state: string }>;
    };
    expect(Object.fromEntries(listed.items.map((j) => [j.id, j.state]))).toEqual(
      Object.fromEntries([...expected].map(([id, e]) => [id, e.state])),
    );
    const videos = emulator.videos().filter((v) => !v.deleted);
    expect(videos).toHaveLength([...expected.values()].filter((e) => e.state === 'ready').length);
  });
});
