import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis, JobRepository } from '@gtr/core';
import { testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { tusUpload } from '@gtr/relay/testing';
import { type AppProcess, runApp } from './support/processes.js';

describe('pnpm start on a fresh machine', () => {
  let tmp: string;
  let app: AppProcess | undefined;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'start-'));
  });
  afterAll(async () => {
    await app?.stop('SIGKILL');
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('comes up with no configuration, prints a token, and takes an upload to ready at the built-in emulator', async () => {
    // Only PATH and HOME (and REDIS_URL when the machine's Redis is elsewhere), as a newcomer has.
    app = runApp(
      'apps/standalone/dist/main.js',
      process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {},
      {
        cwd: tmp,
      },
    );
    const tokenLine = await app.waitForLine(/Relay token: /, 30_000);
    const token = tokenLine.split('Relay token: ')[1]!.trim();
    expect(app.output()).toMatch(/BUILT-IN GCORE EMULATOR/);
    // Nothing restarts it here: it says so, and where the supervisor set-ups are.
    expect(app.output()).toMatch(/does not restart itself: .*deploy\/systemd\/.*deploy\/README\.md/);
    expect(await fs.readFile(path.join(tmp, 'data', 'relay-token'), 'utf8')).toBe(`${token}\n`);

    const file = path.join(tmp, 'first.mp4');
    const { sha256 } = await writeVideoFile(file, 3 * 1024 * 1024, 3);
    const url = await tusUpload({
      endpoint: 'http://127.0.0.1:8080/files/',
      token,
      file,
      metadata: { filename: 'first.mp4', name: 'First video' },
    });
    const id = url.split('/').pop()!;
    const job = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:8080/api/jobs/${id}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        const body = (await res.json()) as { state: string; video: { id: number } | null };
        return ['ready', 'failed'].includes(body.state) ? body : undefined;
      },
      { timeoutMs: 30_000, what: 'the upload to be ready' },
    );
    expect(job.state).toBe('ready');
    const video = (await (
      await fetch(`http://127.0.0.1:8090/__emulator/videos/${job.video!.id}`)
    ).json()) as {
      sha256: string;
      name: string;
    };
    expect(video).toMatchObject({ sha256, name: 'First video' });

    expect(await app.stop('SIGINT')).toBe(0);
    app = undefined;
    const redis = createRedis(testRedisUrl());
    await new JobRepository(redis, 'gtr').remove(id);
    await redis.quit();
  });
});
