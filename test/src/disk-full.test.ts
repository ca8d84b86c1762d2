import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256File, writeVideoFile } from '@gtr/core/testing';
import { type Stack, startStack } from './support/stack.js';

/*
 * The upload dir on a 20 MB filesystem: an upload that does not fit is refused or stopped with a
 * JSON 507, nothing half-written counts as complete, the relay keeps serving, and what did fit is
 * forwarded intact. Needs `mount` (root); skipped with a warning where mounting is not allowed.
 */
const MB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');

function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (error) {
    console.warn(
      `disk-full tests SKIPPED: cannot mount a 20 MB tmpfs at ${dir} (${String(error).split('\n')[0]}); run as root to include them`,
    );
    return false;
  }
}

describe('a full upload disk', () => {
  let tmp: string;
  let uploadDir: string;
  let mounted = false;
  let stack: Stack;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'disk-full-'));
    uploadDir = path.join(tmp, 'data', 'uploads');
    await fs.mkdir(uploadDir, { recursive: true });
    mounted = mountTmpfs(uploadDir);
    if (!mounted) return;
    // The disk itself is what is tested here: no per-tool share or reserve refuses first.
    stack = await startStack({
      withWorker: false,
      relay: {
        dataDir: path.join(tmp, 'data'),
        quota: { maxOpenUploads: 0, maxOpenBytes: 0, diskReserveBytes: 0 },
      },
    });
  });

  afterAll(async () => {
    await stack?.close();
    // The relay's file store may still hold a handle for a moment after closing.
    if (mounted) execFileSync('umount', ['--lazy', uploadDir]);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const tus = () => ({ Authorization: `Bearer ${stack.relay.token}`, 'Tus-Resumable': '1.0.0' });
  const create = (headers: Record<string, string>) =>
    fetch(`${stack.relay.url}/files/`, {
      method: 'POST',
      headers: { ...tus(), 'Upload-Metadata': `filename ${b64('clip.mp4')}`, ...headers },
    });

  it('refuses an upload longer than the free space at creation, with 507 as JSON, storing nothing', async () => {
    if (!mounted) return;
    const res = await create({ 'Upload-Length': String(25 * MB) });
    expect(res.status).toBe(507);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_STORAGE');
    expect(await fs.readdir(uploadDir)).toEqual([]);
    expect((await stack.relay.relay.jobs.list()).items).toEqual([]);
  });

  it('stops a write that fills the disk with 507, counts nothing as complete, keeps serving, and resumes once there is room', async () => {
    if (!mounted) return;
    // 1. An upload that fits, complete and waiting for a worker.
    const first = path.join(tmp, 'first.mp4');
    const { sha256: firstSha } = await writeVideoFile(first, 12 * MB, 1);
    const firstId = await stack.upload(first);
    expect((await stack.job(firstId)).state).toBe('queued');

    // 2. One of unknown length (creation-defer-length) runs into the full disk.
    const second = path.join(tmp, 'second.mp4');
    const { sha256: secondSha } = await writeVideoFile(second, 12 * MB, 2);
    const bytes = await fs.readFile(second);
    const created = await create({ 'Upload-Defer-Length': '1' });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const secondId = url.split('/').pop()!;
    const patch = (offset: number, body: Buffer, extra: Record<string, string> = {}) =>
      fetch(url, {
        method: 'PATCH',
        headers: {
          ...tus(),
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          ...extra,
        },
        body,
      });
    const full = await patch(0, bytes);
    expect(full.status).toBe(507);
    expect(full.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_STORAGE');

    const head = await fetch(url, { method: 'HEAD', headers: tus() });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(bytes.length);
    expect((await fs.stat(path.join(uploadDir, secondId))).size).toBe(offset);
    // What was written is exactly the start of the file, and nothing counts it as complete.
    expect((await fs.readFile(path.join(uploadDir, secondId))).equals(bytes.subarray(0, offset))).toBe(true);
    const partial = await stack.job(secondId);
    expect(partial.state).toBe('receiving');
    expect(partial.bytes_received).toBeLessThanOrEqual(offset);
    expect((await stack.relay.relay.manifests.read(secondId))?.completed_at).toBeNull();
    expect(await stack.relay.queues.forward.getJob(secondId)).toBeUndefined();
    expect(await fs.readdir(uploadDir)).not.toContainEqual(expect.stringMatching(/\.tmp$/));

    // 3. The relay keeps serving: health, the API, refusals of new uploads as JSON.
    expect((await fetch(`${stack.relay.url}/healthz`)).status).toBe(200);
    const readyz = await fetch(`${stack.relay.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ checks: { redis: 'ok', upload_dir: 'not writable' } });
    const list = await fetch(`${stack.relay.url}/api/jobs`, { headers: tus() });
    expect(list.status).toBe(200);
    const refused = await create({ 'Upload-Length': String(MB) });
    expect(refused.status).toBe(507);
    expect((await fs.readdir(uploadDir)).sort()).toEqual(
      [
        firstId,
        `${firstId}.json`,
        `${firstId}.relay.json`,
        secondId,
        `${secondId}.json`,
        `${secondId}.relay.json`,
      ].sort(),
    );

    // 4. A worker forwards the upload that fit, intact, and frees its space.
    await stack.startWorker();
    const done = await stack.waitForState(firstId, ['ready', 'failed'], 30_000);
    expect(done.state).toBe('ready');
    expect(stack.emulator.video(done.video!.id)!.sha256).toBe(firstSha);
    expect(await sha256File(first)).toBe(firstSha);

    // 5. The stopped upload resumes from its offset and goes through like any other.
    const rest = await patch(offset, bytes.subarray(offset), { 'Upload-Length': String(bytes.length) });
    expect(rest.status).toBe(204);
    const job = await stack.waitForState(secondId, ['ready', 'failed'], 30_000);
    expect(job.state).toBe('ready');
    expect(stack.emulator.video(job.video!.id)!.sha256).toBe(secondSha);
    expect(stack.emulator.videos()).toHaveLength(2);
    expect((await fetch(`${stack.relay.url}/readyz`)).status).toBe(200);
  });

  it('queues an upload whose last byte fills the disk to the brim', async () => {
    if (!mounted) return;
    const size = 2 * MB;
    const file = path.join(tmp, 'brim.mp4');
    const { sha256 } = await writeVideoFile(file, size, 3);
    const created = await create({ 'Upload-Length': String(size) });
    expect(created.status).toBe(201);
    const url = created.headers.get('location')!;
    const id = url.split('/').pop()!;
    // Fill everything but the upload's own bytes (tmpfs counts whole pages; 2 MB is page-aligned).
    const stats = await fs.statfs(uploadDir);
    const hog = path.join(uploadDir, 'hog');
    await fs.writeFile(hog, Buffer.alloc(stats.bavail * stats.bsize - size));
    try {
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...tus(), 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: await fs.readFile(file),
      });
      expect(res.status).toBe(204);
      expect((await fs.statfs(uploadDir)).bavail).toBe(0);
      expect((await stack.job(id)).state).toMatch(/queued|creating|uploading|processing|ready/);
    } finally {
      await fs.rm(hog);
    }
    const job = await stack.waitForState(id, ['ready', 'failed'], 30_000);
    expect(job.state).toBe('ready');
    expect(stack.emulator.video(job.video!.id)!.sha256).toBe(sha256);
    expect(await fs.readdir(uploadDir)).toEqual([]);
  });
});
