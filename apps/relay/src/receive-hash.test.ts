import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testPrefix, waitFor } from '@gtr/core/testing';
import { ReceiveHashes } from './ingest/receive-hash.js';
import { startTestRelay, type TestRelay } from './testing.js';

const MB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A file the relay takes (an MP4 signature), with random bytes after it. */
function videoBytes(size: number): Buffer {
  const data = randomBytes(size);
  Buffer.from('000000186674797069736f6d', 'hex').copy(data);
  return data;
}

const tusHeaders = (t: TestRelay) => ({ Authorization: `Bearer ${t.token}`, 'Tus-Resumable': '1.0.0' });

/** POST /files/ (with `body`: creation-with-upload); resolves with the upload id. */
async function create(t: TestRelay, size: number, body?: Buffer): Promise<string> {
  const res = await fetch(`${t.url}/files/`, {
    method: 'POST',
    headers: {
      ...tusHeaders(t),
      'Upload-Length': String(size),
      'Upload-Metadata': `filename ${b64('hashed.mp4')}`,
      ...(body ? { 'Content-Type': 'application/offset+octet-stream' } : {}),
    },
    ...(body ? { body } : {}),
  });
  expect(res.status).toBe(201);
  return res.headers.get('location')!.split('/').pop()!;
}

/** One PATCH of `chunk` at `offset`; resolves with the new offset. */
async function patch(t: TestRelay, id: string, offset: number, chunk: Buffer): Promise<number> {
  const res = await fetch(`${t.url}/files/${id}`, {
    method: 'PATCH',
    headers: {
      ...tusHeaders(t),
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
    },
    body: chunk,
  });
  expect([res.status, await res.text()]).toEqual([204, '']);
  return Number(res.headers.get('upload-offset'));
}

/** The job as the API shows it. */
async function publicJob(t: TestRelay, id: string): Promise<{ state: string; sha256: string | null }> {
  const res = await fetch(`${t.url}/api/jobs/${id}`, { headers: { Authorization: `Bearer ${t.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { state: string; sha256: string | null };
}

describe("an upload's SHA-256, computed while the relay receives it", () => {
  let relays: TestRelay[] = [];
  let dataDir: string;
  let prefix: string;
  const start = async () => {
    const t = await startTestRelay({ dataDir, prefix });
    relays.push(t);
    return t;
  };

  beforeEach(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'relay-hash-'));
    prefix = testPrefix();
  });
  afterEach(async () => {
    for (const t of relays.reverse()) await t.close();
    relays = [];
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('is on the job and the manifest once an upload in several PATCHes is complete, null before', async () => {
    const t = await start();
    const data = videoBytes(3 * MB + 123);
    const id = await create(t, data.length);
    let offset = 0;
    for (const size of [MB, MB, MB])
      offset = await patch(t, id, offset, data.subarray(offset, offset + size));
    expect(await publicJob(t, id)).toMatchObject({ state: 'receiving', sha256: null });
    await patch(t, id, offset, data.subarray(offset));

    expect(await publicJob(t, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
    expect((await t.relay.manifests.read(id))?.sha256).toBe(sha(data));
  });

  it('is right when the PATCHes alternate between two relays sharing the data dir and Redis', async () => {
    const a = await start();
    const b = await start();
    const data = videoBytes(4 * MB + 7);
    const id = await create(a, data.length);
    let offset = 0;
    // A, B, A, B: each relay's PATCHes follow ones it did not see, and B never saw the first.
    for (const [i, size] of [MB, MB, MB, MB + 7].entries()) {
      offset = await patch(i % 2 === 0 ? a : b, id, offset, data.subarray(offset, offset + size));
    }
    expect(offset).toBe(data.length);
    expect(await publicJob(b, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
  });

  it('is right after the relay restarts in the middle of the upload', async () => {
    const first = await start();
    const data = videoBytes(3 * MB);
    const id = await create(first, data.length);
    let offset = await patch(first, id, 0, data.subarray(0, MB));
    offset = await patch(first, id, offset, data.subarray(offset, 2 * MB));
    await first.stop();

    const second = await start();
    await patch(second, id, offset, data.subarray(offset));
    expect(await publicJob(second, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
  });

  it('is right when a PATCH broke off half way and the upload resumes from what reached the disk', async () => {
    const t = await start();
    const data = videoBytes(2 * MB);
    const id = await create(t, data.length);
    const offset = await patch(t, id, 0, data.subarray(0, MB / 2));
    // Half a MB of the next PATCH arrives, then the client goes away.
    const aborted = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(data.subarray(offset, offset + MB / 2));
      },
    });
    const cut = fetch(`${t.url}/files/${id}`, {
      method: 'PATCH',
      headers: {
        ...tusHeaders(t),
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(MB),
      },
      body,
      duplex: 'half',
      signal: aborted.signal,
    } as RequestInit).catch(() => null);
    const stored = path.join(t.relay.uploadDir, id);
    await waitFor(async () => ((await fs.stat(stored)).size > offset ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the first bytes of the PATCH on disk',
    });
    aborted.abort();
    await cut;
    // The relay settles what it got (the lock is released when the write ended).
    const resumeAt = await waitFor(
      async () => {
        const head = await fetch(`${t.url}/files/${id}`, { method: 'HEAD', headers: tusHeaders(t) });
        const at = Number(head.headers.get('upload-offset'));
        return head.status === 200 && at > offset ? at : undefined;
      },
      { timeoutMs: 30_000, what: 'the offset after the broken PATCH' },
    );
    await patch(t, id, resumeAt, data.subarray(resumeAt));
    expect(await publicJob(t, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
  });

  it('covers creation-with-upload (the POST carries the whole file)', async () => {
    const t = await start();
    const data = videoBytes(256 * 1024);
    const id = await create(t, data.length, data);
    expect(await publicJob(t, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
  });

  it('is hashed from disk once when the reconciler queues a complete upload the relay lost', async () => {
    const t = await start();
    const data = videoBytes(MB);
    const id = await create(t, data.length);
    await patch(t, id, 0, data.subarray(0, MB / 2));
    // As after a crash between the last byte and the bookkeeping: the file is complete on disk,
    // the manifest does not know, and Redis lost the job.
    await fs.appendFile(path.join(t.relay.uploadDir, id), data.subarray(MB / 2));
    const info = path.join(t.relay.uploadDir, `${id}.json`);
    await fs.writeFile(info, JSON.stringify({ ...JSON.parse(await fs.readFile(info, 'utf8')), offset: MB }));
    await t.relay.jobs.remove(id);

    await t.relay.reconcile();
    expect(await publicJob(t, id)).toMatchObject({ state: 'queued', sha256: sha(data) });
    expect((await t.relay.manifests.read(id))?.sha256).toBe(sha(data));
  });
});

describe('ReceiveHashes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'receive-hash-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  /** One PATCH through the stage, written to disk as the store does. */
  const write = async (hashes: ReceiveHashes, id: string, offset: number, chunk: Buffer) => {
    const hash = await hashes.begin(id, offset);
    const stage = hash.stage();
    const passed: Buffer[] = [];
    stage.on('data', (b: Buffer) => passed.push(b));
    await new Promise<void>((resolve) => stage.end(chunk, resolve));
    await fs.appendFile(path.join(dir, id), Buffer.concat(passed));
    return hash;
  };

  it('digests the bytes that arrived, without reading the file again', async () => {
    const hashes = new ReceiveHashes(dir);
    const data = randomBytes(300_000);
    await fs.writeFile(path.join(dir, 'u'), '');
    (await write(hashes, 'u', 0, data.subarray(0, 100_000))).commit(100_000);
    (await write(hashes, 'u', 100_000, data.subarray(100_000))).commit(300_000);
    // Bytes on disk changed afterwards: a digest that re-read the file would differ.
    await fs.writeFile(path.join(dir, 'u'), randomBytes(300_000));
    expect(await hashes.digest('u', 300_000)).toBe(sha(data));
    expect(hashes.size).toBe(0);
  });

  it('keeps the state before a failed PATCH that left nothing, and re-hashes after one that left bytes', async () => {
    const hashes = new ReceiveHashes(dir);
    const data = randomBytes(30_000);
    const file = path.join(dir, 'u');
    await fs.writeFile(file, '');
    (await write(hashes, 'u', 0, data.subarray(0, 10_000))).commit(10_000);

    // Refused and truncated back (a bad checksum): the running hash still stands at 10 000.
    const refused = await write(hashes, 'u', 10_000, randomBytes(10_000));
    await fs.truncate(file, 10_000);
    refused.fail(10_000);
    expect(hashes.size).toBe(1);
    // Broke off with bytes kept: the next PATCH starts elsewhere, from what is on disk.
    const cut = await write(hashes, 'u', 10_000, data.subarray(10_000, 15_000));
    cut.fail(15_000);
    expect(hashes.size).toBe(0);
    (await write(hashes, 'u', 15_000, data.subarray(15_000))).commit(30_000);
    expect(await hashes.digest('u', 30_000)).toBe(sha(data));
  });

  it('holds at most maxUploads running hashes, and forgets idle ones', async () => {
    let now = 0;
    const hashes = new ReceiveHashes(dir, { maxUploads: 2, idleMs: 1_000, now: () => now });
    for (const id of ['a', 'b', 'c']) {
      await fs.writeFile(path.join(dir, id), '');
      (await write(hashes, id, 0, Buffer.from(id))).commit(1);
    }
    expect(hashes.size).toBe(2);
    now = 5_000;
    await fs.writeFile(path.join(dir, 'd'), '');
    (await write(hashes, 'd', 0, Buffer.from('d'))).commit(1);
    expect(hashes.size).toBe(1);
    hashes.forget('d');
    expect(hashes.size).toBe(0);
  });
});
