// A Gcore client written only from docs/gcore-api.md (the three documented steps), run against
// the emulator started the way `pnpm emulator` starts it. It knows nothing of the emulator's code.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'apps/gcore-emulator/dist/main.js');
const FILE_SIZE = 12_000_000;

let child: ChildProcess;
let baseUrl: string;
let apiKey: string;
let dir: string;

/** Starts `node apps/gcore-emulator/dist/main.js` on a free port and reads where it listens. */
async function startEmulatorProcess(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`pnpm build\` first`);
  child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, EMULATOR_PORT: '0', EMULATOR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the emulator did not say where it listens')), 10_000);
    lines.once('line', (first) => {
      clearTimeout(timer);
      resolve(first);
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
  });
  const match = /^Gcore emulator listening on (http:\/\/\S+) \(API key: (.+)\)$/.exec(line);
  if (!match) throw new Error(`unexpected first line: ${line}`);
  baseUrl = match[1] as string;
  apiKey = match[2] as string;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gcore-docs-client-'));
  await startEmulatorProcess();
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

async function gcore(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      Authorization: `APIKey ${apiKey}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

interface Video {
  id: number;
  client_id: number;
  name: string;
  status: string;
  error: string | null;
  origin_size: number | null;
  hls_url: string | null;
}

/** An MP4 `ftyp` box, then noise: what a real upload of an .mp4 begins with. */
async function writeMp4(path: string, size: number): Promise<void> {
  const ftyp = Buffer.from('00000018667479706d703432000000006d703432', 'hex');
  await writeFile(path, Buffer.concat([ftyp, randomBytes(size - ftyp.length)]));
}

it('runs the documented three steps against `pnpm emulator` and sees the video reach ready', async () => {
  // Step 1: create the video entity (the docs' curl uses the trailing slash).
  const created = await gcore('POST', '/streaming/videos/', {
    video: { name: 'Gcore Demo', description: 'Uploaded via TUS session' },
  });
  expect(created.status).toBe(200);
  // The docs show an object, the OpenAPI file an array: accept both.
  const video = (Array.isArray(created.json) ? created.json[0] : created.json) as Video;
  expect(video).toMatchObject({ name: 'Gcore Demo', status: 'empty' });

  // Step 2: TUS session parameters.
  const params = await gcore('GET', `/streaming/videos/${video.id}/upload`);
  expect(params.status).toBe(200);
  const {
    servers,
    token,
    video: copy,
  } = params.json as {
    servers: { hostname: string; active: boolean; ssl: boolean }[];
    token: string;
    video: Video;
  };
  const server = servers.find((s) => s.active) ?? servers[0];
  if (!server) throw new Error('no upload server offered');
  const endpoint = `${server.ssl ? 'https' : 'http'}://${server.hostname}/upload/`;

  // Step 3: the TUS upload with the documented options.
  const path = join(dir, 'gcore.mp4');
  await writeMp4(path, FILE_SIZE);
  await new Promise<void>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(path) as unknown as Buffer, {
      endpoint,
      uploadSize: FILE_SIZE,
      chunkSize: 10000000,
      retryDelays: [0, 1000, 3000],
      metadata: {
        filename: 'gcore.mp4',
        filetype: 'video/mp4',
        token,
        video_id: String(copy.id),
        client_id: String(copy.client_id),
      },
      onShouldRetry: () => true,
      onSuccess: () => resolve(),
      onError: reject,
    });
    upload.start();
  });

  // Then poll the video until it is ready.
  const seen: string[] = [];
  let current: Video = video;
  const deadline = Date.now() + 20_000;
  while (current.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`still ${current.status} after 20 s; saw ${seen.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
    const got = await gcore('GET', `/streaming/videos/${video.id}`);
    expect(got.status).toBe(200);
    current = got.json as Video;
    if (seen.at(-1) !== current.status) seen.push(current.status);
    expect(current.status).not.toBe('error');
    expect(current.error).toBeNull();
  }
  expect(current.origin_size).toBe(FILE_SIZE);
  expect(current.hls_url).toMatch(/^https:\/\/[^/]+\/videos\/\d+_[A-Za-z0-9]+\/master\.m3u8$/);
  // Polling may miss a short status, but never sees one out of order.
  const order = ['pending', 'viewable', 'ready'];
  expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort());
});

it('stops cleanly on SIGTERM', async () => {
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(0);
});
