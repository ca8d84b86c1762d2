import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '@gtr/cli';
import { captureIo } from '@gtr/cli/testing';
import { createLogger, type PublicJob } from '@gtr/core';
import { setJobState, sha256File, writeVideoFile } from '@gtr/core/testing';
import { createRelayApp, type Listening, listen } from '@gtr/relay';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import { ROOT } from './support/processes.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1_000_000;

// Every CLI run gets a directory of its own as cwd (the CLI looks for `./data/relay-token` there)
// and HOME, never the checkout's: `pnpm start` leaves its token in the checkout's ./data.
let cliHome: string;
beforeAll(async () => {
  cliHome = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-home-'));
});
afterAll(() => fs.rm(cliHome, { recursive: true, force: true }));

/**
 * Runs `pnpm relay …` in-process with exactly `env` (plus HOME) in `cwd` (default: an empty
 * directory of its own); the upload store lives in env's XDG_CONFIG_HOME.
 */
async function relayCli(
  argv: string[],
  env: Record<string, string>,
  options: { interruptOn?: RegExp; cwd?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const cap = captureIo({ env: { HOME: cliHome, ...env }, pollIntervalMs: 50, cwd: options.cwd ?? cliHome });
  if (options.interruptOn) {
    const pattern = options.interruptOn;
    const write = cap.io.stdout.write.bind(cap.io.stdout);
    cap.io.stdout = {
      isTTY: false,
      write: (text: string) => {
        write(text);
        if (pattern.test(text)) cap.interrupt();
      },
    };
  }
  const code = await runCli(argv, cap.io);
  return { code, out: cap.stdout(), err: cap.stderr() };
}

const jobIdIn = (out: string): string => {
  const match = /job ([0-9a-f]{16,})/.exec(out);
  if (!match) throw new Error(`no job id in:\n${out}`);
  return match[1]!;
};

describe('pnpm relay against a relay (no worker)', () => {
  let tmp: string;
  let relay: TestRelay;
  let env: Record<string, string>;
  let video: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-e2e-'));
    relay = await startTestRelay({ tokens: ['cli-test-token'] });
    env = { RELAY_URL: relay.url, RELAY_TOKEN: relay.token, XDG_CONFIG_HOME: path.join(tmp, 'config') };
    video = path.join(tmp, 'clip.mp4');
    await writeVideoFile(video, 3 * MB, 1);
  });
  afterAll(async () => {
    await relay.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('uploads a file with --no-wait and leaves the job queued with the given name', async () => {
    const { code, out, err } = await relayCli(
      [
        'upload',
        'clip.mp4',
        '--no-wait',
        '--name',
        'Launch clip',
        '--description',
        'first cut',
        '--directory-id',
        '7',
      ],
      env,
      { cwd: tmp },
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    const id = jobIdIn(out);
    expect(out).toContain(`clip.mp4: uploading 3.0 MB as job ${id}`);
    // Its own read of the file against the sha256 the relay computed while receiving it.
    expect(out).toContain(`clip.mp4: sha256 matches (${await sha256File(video)})`);
    expect(out).toContain(`clip.mp4: job ${id} is queued; follow it with: pnpm relay job ${id}`);
    const job = (await relay.relay.jobs.get(id))!;
    expect(job).toMatchObject({
      state: 'queued',
      kind: 'upload',
      name: 'Launch clip',
      filename: 'clip.mp4',
      size: 3 * MB,
      bytes_received: 3 * MB,
    });
    expect(job.request).toMatchObject({
      description: 'first cut',
      filetype: 'video/mp4',
      fields: { directory_id: 7 },
    });
    expect(await sha256File(path.join(relay.relay.uploadDir, id))).toBe(await sha256File(video));
    // A finished upload is forgotten: running the command again uploads anew.
    expect(
      JSON.parse(await fs.readFile(path.join(tmp, 'config', 'gcore-tus-relay', 'uploads.json'), 'utf8')),
    ).toEqual({});
  });

  it('resumes an interrupted upload where the relay stopped instead of starting over', async () => {
    const big = path.join(tmp, 'resume.mp4');
    const { sha256 } = await writeVideoFile(big, 5 * MB, 2);
    const first = await relayCli(['upload', big, '--no-wait', '--chunk-size', '1MB'], env, {
      interruptOn: /resume\.mp4: [3-9]0%/,
    });
    expect(first.code).toBe(130);
    expect(first.err).toContain('interrupted; run the same command again to resume');
    const id = jobIdIn(first.out);
    expect((await relay.relay.jobs.get(id))!.state).toBe('receiving');

    const second = await relayCli(['upload', big, '--no-wait', '--chunk-size', '1MB'], env);
    expect(second.err).toBe('');
    expect(second.code).toBe(0);
    const resumed = new RegExp(`resume\\.mp4: resuming job ${id} at (\\d+\\.\\d) MB of 5\\.0 MB`).exec(
      second.out,
    );
    expect(resumed).not.toBeNull();
    expect(Number(resumed![1])).toBeGreaterThanOrEqual(1);
    expect(second.out).not.toContain('uploading 5.0 MB as job');
    expect((await relay.relay.jobs.get(id))!).toMatchObject({ state: 'queued', bytes_received: 5 * MB });
    expect(await sha256File(path.join(relay.relay.uploadDir, id))).toBe(sha256);
  });

  it('fails loudly when the relay got other bytes than the file holds (changed between two runs, same size and mtime)', async () => {
    const big = path.join(tmp, 'edited.mp4');
    await writeVideoFile(big, 4 * MB, 3);
    // Whole seconds: a time with milliseconds may not survive utimes exactly.
    const mtime = Math.floor(Date.now() / 1000) - 60;
    await fs.utimes(big, mtime, mtime);
    const first = await relayCli(['upload', big, '--no-wait', '--chunk-size', '1MB'], env, {
      interruptOn: /edited\.mp4: [3-9]0%/,
    });
    expect(first.code).toBe(130);
    const id = jobIdIn(first.out);
    // Edited in place where the relay already has the bytes, its size and mtime kept: the next
    // run resumes the upload, and the relay ends up with a file that is neither version.
    const handle = await fs.open(big, 'r+');
    await handle.write(Buffer.alloc(1024, 0x55), 0, 1024, 200_000);
    await handle.close();
    await fs.utimes(big, mtime, mtime);

    const second = await relayCli(['upload', big, '--no-wait', '--chunk-size', '1MB'], env);
    expect(second.out).toContain(`edited.mp4: resuming job ${id}`);
    const relaySha = (await relay.relay.jobs.get(id))!.sha256!;
    expect(relaySha).toBe(await sha256File(path.join(relay.relay.uploadDir, id)));
    expect(second.out).toContain(
      `edited.mp4: sha256 MISMATCH: the relay received ${relaySha}, the file here is ${await sha256File(big)}`,
    );
    expect(second.out).not.toContain('sha256 matches');
    expect(second.code).toBe(1);
  });

  it('refuses a file the relay does not take, with its message and exit code 1', async () => {
    const notes = path.join(tmp, 'notes.txt');
    await fs.writeFile(notes, 'not a video');
    const { code, out } = await relayCli(['upload', notes, '--no-wait'], env);
    expect(code).toBe(1);
    expect(out).toContain('notes.txt: ".txt" is not a video format Gcore accepts');
  });

  it('uploads a folder into a batch made for it, and finds its job by a search', async () => {
    const made = await relayCli(['batch', 'new', 'Folder /shoot', '--json'], env);
    expect(made.code).toBe(0);
    const batch = JSON.parse(made.out) as { id: string; name: string; total: number };
    expect([batch.name, batch.total]).toEqual(['Folder /shoot', 0]);
    const up = await relayCli(
      ['upload', video, '--no-wait', '--name', 'Shoot take seven', '--batch', batch.id],
      env,
    );
    const id = jobIdIn(up.out);
    const shown = await relayCli(['batch', batch.id, '--no-wait', '--json'], env);
    expect(JSON.parse(shown.out)).toMatchObject({ id: batch.id, total: 1 });
    const found = await relayCli(['jobs', '--search', 'shoot seven', '--batch', batch.id, '--json'], env);
    expect((JSON.parse(found.out) as { items: PublicJob[] }).items.map((j) => j.id)).toEqual([id]);
    const refused = await relayCli(['upload', video, '--no-wait', '--batch', 'no-such-batch'], env);
    expect([refused.code, refused.out]).toEqual([1, expect.stringContaining('batch: no batch with id')]);
  });

  it('lists, shows, retries and cancels jobs', async () => {
    const up = await relayCli(['upload', video, '--no-wait', '--name', 'Table row'], env);
    const id = jobIdIn(up.out);

    const list = await relayCli(['jobs', '--state', 'queued', '--kind', 'upload'], env);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.out.trimEnd().split('\n');
    expect(header).toMatch(/^ID +KIND +STATE +NAME +PROGRESS +AGE$/);
    expect(rows[0]).toMatch(new RegExp(`^${id} +upload +queued +Table row +\\d+s$`));

    const json = await relayCli(['jobs', '--limit', '1', '--json'], env);
    const page = JSON.parse(json.out) as { items: PublicJob[]; next: string | null };
    expect(page.items.map((j) => j.id)).toEqual([id]);
    expect(page.next).not.toBeNull();
    const more = await relayCli(['jobs', '--limit', '1'], env);
    expect(more.out).toContain(`more: add --cursor ${page.next} for the next page`);
    const all = await relayCli(['jobs', '--limit', '1', '--all', '--json'], env);
    const everything = JSON.parse(all.out) as { items: PublicJob[]; next: string | null };
    expect(everything.next).toBeNull();
    expect(everything.items.length).toBeGreaterThanOrEqual(3);
    expect(new Set(everything.items.map((j) => j.id)).size).toBe(everything.items.length);

    const shown = await relayCli(['job', id], env);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(new RegExp(`^id: +${id}\nkind: +upload\nstate: +queued\nname: +Table row\n`));
    expect(shown.out).toContain('received:    3.0 MB 100%');

    const early = await relayCli(['retry', id], env);
    expect(early.code).toBe(1);
    expect(early.err).toBe('relay retry: only failed jobs can be retried; this one is queued\n');

    await setJobState(relay.relay.jobs, id, 'failed', {
      error: { code: 'GCORE_REJECTED', message: 'File Invalid', retryable: false },
    });
    const failed = await relayCli(['job', id], env);
    expect(failed.out).toContain('error:       GCORE_REJECTED: File Invalid');
    const retried = await relayCli(['retry', id], env);
    expect(retried).toMatchObject({ code: 0, err: '' });
    expect(retried.out).toBe(`job ${id} is queued again; follow it with: pnpm relay job ${id}\n`);

    const canceled = await relayCli(['cancel', id], env);
    expect(canceled).toMatchObject({ code: 0, out: `job ${id} canceled\n` });
    const after = JSON.parse((await relayCli(['job', id, '--json'], env)).out) as PublicJob;
    expect(after.state).toBe('canceled');

    const unknown = await relayCli(['job', 'no-such-job'], env);
    expect(unknown).toMatchObject({ code: 1, err: 'relay job: no job with id "no-such-job"\n' });
  });

  it('says the token was refused, without printing it, and exits 1', async () => {
    for (const argv of [['jobs'], ['upload', video, '--no-wait']]) {
      const { code, out, err } = await relayCli(argv, { ...env, RELAY_TOKEN: 'wrong-secret' });
      expect(code).toBe(1);
      expect(err).toContain('the relay refused the token (from RELAY_TOKEN); set RELAY_TOKEN');
      expect(out + err).not.toContain('wrong-secret');
    }
  });

  it('uses the token `pnpm start` keeps in DATA_DIR when RELAY_TOKEN is not set, then ./data/relay-token', async () => {
    const dataDir = path.join(tmp, 'data-dir');
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(path.join(dataDir, 'relay-token'), `${relay.token}\n`);
    const { RELAY_TOKEN: _unused, ...noToken } = env;
    const withFile = await relayCli(['jobs', '--limit', '1'], { ...noToken, DATA_DIR: dataDir });
    expect(withFile.code).toBe(0);
    const without = await relayCli(['jobs'], { ...noToken, DATA_DIR: path.join(tmp, 'empty') });
    expect(without.err).toContain('the relay wants a token and none was found');
    expect(without.code).toBe(1);

    // Without one in DATA_DIR, the default place: ./data/relay-token of the root (here the cwd).
    const root = path.join(tmp, 'root-with-data');
    await fs.mkdir(path.join(root, 'data'), { recursive: true });
    await fs.writeFile(path.join(root, 'data', 'relay-token'), `${relay.token}\n`);
    const fromRoot = await relayCli(
      ['jobs', '--limit', '1'],
      { ...noToken, DATA_DIR: path.join(tmp, 'empty') },
      {
        cwd: root,
      },
    );
    expect(fromRoot).toMatchObject({ code: 0, err: '' });
    const defaultDir = await relayCli(['jobs', '--limit', '1'], noToken, { cwd: root });
    expect(defaultDir).toMatchObject({ code: 0, err: '' });
  });

  it('never reads the ./data of the directory the tests run from (`pnpm start` keeps its token there)', async () => {
    // What a checkout looks like after `pnpm start`: a token of another relay in ./data/relay-token.
    const checkout = path.join(tmp, 'checkout-after-pnpm-start');
    await fs.mkdir(path.join(checkout, 'data'), { recursive: true });
    await fs.writeFile(path.join(checkout, 'data', 'relay-token'), 'rt_decoy-from-pnpm-start\n');
    const { RELAY_TOKEN: _unused, ...noToken } = env;
    const before = process.cwd();
    process.chdir(checkout);
    try {
      const { code, err } = await relayCli(['jobs'], noToken);
      expect(err).toContain('the relay wants a token and none was found');
      expect(code).toBe(1);
    } finally {
      process.chdir(before);
    }
  });

  it('says how to start the relay when none answers', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    for (const argv of [['jobs'], ['upload', video]]) {
      const { code, err } = await relayCli(argv, { ...env, RELAY_URL: url });
      expect(code).toBe(1);
      expect(err).toContain(`no relay answers at ${url}; start it with \`pnpm start\``);
    }
  });

  it('runs as the built entry point: node packages/cli/dist/main.js jobs', async () => {
    const up = await relayCli(['upload', video, '--no-wait', '--name', 'From the child'], env);
    const id = jobIdIn(up.out);
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'packages/cli/dist/main.js'), 'jobs', '--limit', '1'],
      {
        cwd: cliHome,
        env: { PATH: process.env.PATH ?? '', HOME: cliHome, RELAY_URL: relay.url, RELAY_TOKEN: relay.token },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(new RegExp(`\n${id} +upload +queued +From the child`));
    expect(code).toBe(0);
  });
});

describe('pnpm relay with a worker and the Gcore emulator', () => {
  let tmp: string;
  let stack: Stack;
  let env: Record<string, string>;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-stack-'));
    stack = await startStack();
    env = {
      RELAY_URL: stack.relay.url,
      RELAY_TOKEN: stack.relay.token,
      XDG_CONFIG_HOME: path.join(tmp, 'config'),
    };
  });
  afterAll(async () => {
    await stack.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('uploads two files and waits until both videos are ready', async () => {
    const a = path.join(tmp, 'one.mp4');
    const b = path.join(tmp, 'two.mov');
    await writeVideoFile(a, 2 * MB, 11);
    await writeVideoFile(b, 1 * MB, 12);
    const { code, out, err } = await relayCli(['upload', a, b], env);
    expect(err).toBe('');
    const ready = [...out.matchAll(/^(one\.mp4|two\.mov): ready: video (\d+) (\S+master\.m3u8)$/gm)];
    expect(ready.map((m) => m[1]).sort()).toEqual(['one.mp4', 'two.mov']);
    expect(code).toBe(0);
    for (const m of ready) {
      expect(stack.emulator.video(Number(m[2]))).toMatchObject({
        status: 'ready',
        name: m[1]!.split('.')[0],
      });
    }
    expect(out).toMatch(/one\.mp4: (queued|uploading|processing)/);
  });

  it("exits 1 with Gcore's message when the video fails", async () => {
    const bad = path.join(tmp, 'garbage.mp4');
    await fs.writeFile(bad, Buffer.alloc(256 * 1024, 0x41));
    const { code, out } = await relayCli(['upload', bad], env);
    expect(out).toMatch(/^garbage\.mp4: failed: File Invalid \(GCORE_REJECTED\)$/m);
    expect(code).toBe(1);
  });

  describe('import', () => {
    let origin: http.Server;
    let originUrl: string;
    let importRelay: { url: string; http: Listening; stop(): void };

    beforeAll(async () => {
      const file = path.join(tmp, 'origin.mp4');
      await writeVideoFile(file, 1 * MB, 21);
      const { size } = await fs.stat(file);
      origin = http.createServer((req, res) => {
        if (!/^\/(a|b|c)\.mp4$/.test(req.url ?? '')) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': size });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file).pipe(res);
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
      // The stack's relay checks import origins against private addresses; this one, on the same
      // Redis prefix and queues (so the stack's worker runs its jobs), lets loopback origins in.
      const app = createRelayApp({
        settings: {
          dataDir: stack.dataDir,
          tokens: [stack.relay.token],
          maxUploadSize: 0,
          uploadExpiryMs: 3_600_000,
          imports: { preflight: true, allowPrivate: true },
        },
        redis: stack.relay.redis,
        queues: stack.relay.queues,
        logger: createLogger({ level: 'silent' }),
        prefix: stack.relay.prefix,
      });
      const listening = await listen(app.app, 0, '127.0.0.1');
      importRelay = { url: listening.url, http: listening, stop: () => app.stop() };
    });
    afterAll(async () => {
      importRelay.stop();
      await importRelay.http.close(0);
      await new Promise((resolve) => origin.close(resolve));
    });

    it('imports a CSV list, waits until ready, and finds the same jobs when run again', async () => {
      const list = path.join(tmp, 'list.csv');
      await fs.writeFile(
        list,
        `url,name,description\n# launch videos\n${originUrl}/a.mp4,"Clip A, final",first\n\n${originUrl}/b.mp4\n`,
      );
      const envI = { ...env, RELAY_URL: importRelay.url };
      const first = await relayCli(['import', '--file', list, '--wait'], envI);
      expect(first.err).toBe('');
      expect(first.out).toContain('imports: 2 created, 0 existing, 0 rejected');
      expect(first.out).toMatch(/jobs: 2\/2 final \(2 ready, 0 failed\)/);
      expect(first.out).toContain('jobs: 2 ready, 0 failed');
      expect(first.code).toBe(0);
      const names = stack.emulator.videos().map((v) => v.name);
      expect(names).toEqual(expect.arrayContaining(['Clip A, final', 'b']));

      const again = await relayCli(['import', '--file', list], envI);
      expect(again.out).toContain('imports: 0 created, 2 existing, 0 rejected');
      expect(again.code).toBe(0);

      // One batch, named after the list, followed and exported by its id.
      const id = /^batch ([0-9a-f]+) "list\.csv": 2 jobs$/m.exec(first.out)?.[1];
      expect(id).toBeDefined();
      expect(again.out).toContain(`batch ${id} "list.csv": 2 jobs`);
      const followed = await relayCli(['batch', id!], envI);
      expect([followed.code, followed.out]).toEqual([0, expect.stringContaining('jobs: 2 ready, 0 failed')]);
      const exported = await relayCli(['batch', 'export', id!], envI);
      expect(exported.code).toBe(0);
      const [header, ...rows] = exported.out.trim().split('\r\n');
      expect(header).toMatch(/^index,origin_url,idempotency_key,job_id,name,state,video_id,/);
      const byUrl = new Map(stack.emulator.videos().map((v) => [v.originUrl, v.id]));
      expect(
        rows
          .map((r) => [...r.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) => m[1]!))
          .map((cells) => [cells[1], cells[5], Number(cells[6])])
          .sort(),
      ).toEqual(
        [`${originUrl}/a.mp4`, `${originUrl}/b.mp4`].map((url) => [url, 'ready', byUrl.get(url)]).sort(),
      );
    });

    it('reports rejected lines with their number and failed imports with the reason, and exits 1', async () => {
      const list = path.join(tmp, 'mixed.txt');
      await fs.writeFile(list, `${originUrl}/c.mp4\nftp://example.com/x.mp4\n${originUrl}/playlist.m3u8\n`);
      const envI = { ...env, RELAY_URL: importRelay.url };
      const { code, out } = await relayCli(['import', '--file', list, '--wait'], envI);
      expect(out).toContain('imports: 1 created, 0 existing, 2 rejected');
      expect(out).toMatch(
        /^line 2: ftp:\/\/example\.com\/x\.mp4: origin_url must be an http or https URL.*\(INVALID_ORIGIN_URL\)$/m,
      );
      expect(out).toMatch(/^line 3: .*playlist\.m3u8: origin_url points at an HLS manifest/m);
      expect(out).toContain('jobs: 1 ready, 0 failed');
      expect(code).toBe(1);

      const single = await relayCli(['import', `${originUrl}/missing.mp4`, '--name', 'Gone', '--wait'], envI);
      expect(single.out).toMatch(
        /imports: (1 created, 0 existing, 0 rejected|0 created, 0 existing, 1 rejected)/,
      );
      expect(single.out).toMatch(/argument 1: .*missing\.mp4/);
      expect(single.code).toBe(1);
    });
  });
});
