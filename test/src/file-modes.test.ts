import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@gtr/cli';
import { captureIo } from '@gtr/cli/testing';
import { testPrefix, testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type AppProcess, runApp } from './support/processes.js';

/*
 * Uploads are private videos and the folders around them hold tokens: every file and folder the
 * stack writes is its user's only, whatever the umask. `pnpm start` (relay, workers and the
 * built-in emulator in one process) runs under umask 000, takes an upload from `pnpm relay upload`
 * and two imports (one the worker downloads, one the emulator pulls), and then every entry under
 * DATA_DIR and the CLI's state folder must be 0600 (files) or 0700 (folders).
 */
const MB = 1024 * 1024;

/** Every entry under `root` whose mode is not 0700 (folders) or 0600 (files), with its mode. */
async function publicEntries(root: string): Promise<string[]> {
  const wrong: string[] = [];
  for (const entry of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const mode = (await fs.lstat(full)).mode & 0o777;
    const want = entry.isDirectory() ? 0o700 : 0o600;
    if (mode !== want) wrong.push(`${path.relative(root, full)} ${mode.toString(8)}`);
  }
  const own = (await fs.stat(root)).mode & 0o777;
  if (own !== 0o700) wrong.push(`. ${own.toString(8)}`);
  return wrong;
}

describe('files the stack writes', () => {
  let tmp: string;
  let umask: number;
  let app: AppProcess | undefined;
  let origin: Origin;

  beforeAll(async () => {
    // The loosest umask there is: the modes must not come from it. The child inherits it.
    umask = process.umask(0o000);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'file-modes-'));
    origin = await startOrigin(async (req, res, p) => {
      await sendFile(req, res, path.join(tmp, 'origin', path.basename(p)));
    });
  });
  afterAll(async () => {
    await app?.stop('SIGKILL');
    await origin?.close();
    process.umask(umask);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('are 0600 in 0700 folders under umask 000: uploads, manifests, infos, the token, the emulator’s, the CLI’s', async () => {
    const data = path.join(tmp, 'data');
    const config = path.join(tmp, 'config');
    app = runApp(
      'apps/standalone/dist/main.js',
      {
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: testPrefix(),
        PORT: '0',
        EMULATOR_PORT: '0',
        DATA_DIR: data,
        // Files stay once forwarded, so that there is something to look at.
        KEEP_FILES: 'true',
        IMPORT_ALLOW_PRIVATE: 'true',
        LOG_LEVEL: 'warn',
      },
      { cwd: tmp },
    );
    const token = (await app.waitForLine(/Relay token: /, 30_000)).split('Relay token: ')[1]!.trim();
    const url = /is up at (\S+)/.exec(await app.waitForLine(/is up at /))![1]!;
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

    await fs.mkdir(path.join(tmp, 'origin'));
    await writeVideoFile(path.join(tmp, 'origin', 'by-relay.mp4'), MB, 1);
    await writeVideoFile(path.join(tmp, 'origin', 'by-gcore.mp4'), MB, 2);
    const ids: string[] = [];
    for (const [file, via] of [
      ['by-relay.mp4', 'relay'],
      ['by-gcore.mp4', 'gcore'],
    ] as const) {
      const res = await fetch(`${url}/api/imports`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ origin_url: `${origin.url}/${file}`, via }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }

    await writeVideoFile(path.join(tmp, 'clip.mp4'), 2 * MB, 3);
    const cap = captureIo({
      env: { HOME: tmp, RELAY_URL: url, RELAY_TOKEN: token, XDG_CONFIG_HOME: config },
      cwd: tmp,
    });
    const code = await runCli(['upload', 'clip.mp4'], cap.io);
    expect([code, cap.stderr()]).toEqual([0, '']);

    for (const id of ids) {
      await waitFor(
        async () => {
          const res = await fetch(`${url}/api/jobs/${id}`, { headers: auth });
          const job = (await res.json()) as { state: string };
          if (job.state === 'failed') throw new Error(`import ${id} failed: ${JSON.stringify(job)}`);
          return job.state === 'ready' ? true : undefined;
        },
        { timeoutMs: 30_000, what: `import ${id} to be ready` },
      );
    }

    // What there is to look at: the upload's file, info and manifest, the file the worker
    // downloaded, the token, and the emulator's uploads (two, each with its info) and pull.
    const names = (await fs.readdir(data, { recursive: true })).map((n) => n.replaceAll(path.sep, '/'));
    const count = (pattern: RegExp) => names.filter((n) => pattern.test(n)).length;
    expect(names).toEqual(
      expect.arrayContaining(['relay-token', 'uploads', 'emulator/uploads', 'emulator/pulls']),
    );
    expect(count(/^uploads\/[0-9a-f]+$/)).toBe(2);
    expect(count(/^uploads\/[0-9a-f]+\.json$/)).toBe(1);
    expect(count(/^uploads\/[0-9a-f]+\.relay\.json$/)).toBe(1);
    expect(count(/^emulator\/uploads\/[^/]+$/)).toBe(4);
    expect(count(/^emulator\/pulls\/[^/]+$/)).toBe(1);
    expect(await fs.readdir(path.join(config, 'gcore-tus-relay'))).toEqual(['uploads.json']);

    expect(await publicEntries(data)).toEqual([]);
    expect(await publicEntries(config)).toEqual([]);
    expect(await app.stop('SIGINT')).toBe(0);
    app = undefined;
  });
});
