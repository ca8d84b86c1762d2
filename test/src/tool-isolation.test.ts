import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { JobRecord, JobRepository, TokenEntry } from '@gtr/core';
import { sha256File, testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Emulator, startEmulator } from '@gtr/gcore-emulator';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import { uploadDirOf } from './support/cluster.js';
import { type Fleet, type RoundRobinProxy, startFleet, startRoundRobinProxy } from './support/fleet.js';
import { rawRequest } from './support/raw-http.js';
import { b64, tokenEntry } from './support/routes.js';
import { type Stack, startStack } from './support/stack.js';

/*
 * Tool B, with its own valid token, tries every spelling of the URL of tool A's uploads with
 * every method the TUS routes take (and the same through X-HTTP-Method-Override), sent byte for
 * byte on a socket so that nothing normalises them on the way. Nothing B does may read, change,
 * lock or delete A's uploads: afterwards A's offset, bytes, info and job are as they were, and A
 * finishes its upload into a video with A's bytes. Directly, with PUBLIC_URL set, and through a
 * round-robin proxy in front of two relay processes.
 */
const TOOL_A = tokenEntry('tool-a', 'tool');
const TOOL_B = tokenEntry('tool-b', 'tool');
// With an operator token configured, tools are only tools (no operator rights of old).
const OPERATOR = tokenEntry('ops', 'operator');
const TOKENS = [TOOL_A, TOOL_B, OPERATOR];

const KB = 1024;
const SIZE = 256 * KB;
const HALF = SIZE / 2;
const bearer = (e: TokenEntry) => ({ Authorization: `Bearer ${e.token}` });
const tus = (e: TokenEntry) => ({ ...bearer(e), 'Tus-Resumable': '1.0.0' });

/** Percent-encodes every character. */
const encoded = (s: string) =>
  [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
/** The fullwidth form of an ASCII letter or digit (`a` → `ａ`). */
const fullwidth = (c: string) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0);

/** Every way of writing the URL of upload `id` that is not exactly `/files/<id>` (and that one). */
export function spellings(id: string, host: string): string[] {
  return [
    `/files/${id}`,
    `/files/${id}/`,
    `/files/${id}//`,
    `/FILES/${id}`,
    `/Files/${id}`,
    `/fiLes/${id}`,
    `/files//${id}`,
    `//files/${id}`,
    `/files/x/${id}`,
    `/files/./${id}`,
    `/files/../files/${id}`,
    `/./files/${id}`,
    `/files/${id}/.`,
    `/files/${id}/..`,
    `/files/${id}/x`,
    `/files%2F${id}`,
    `/files%2f${id}`,
    `/files/%2F${id}`,
    `/files/${id}%2F`,
    `/files/%2e/${id}`,
    `/files/%2E/${id}`,
    `/files/%2e%2e/files/${id}`,
    `/files/.%2e/files/${id}`,
    `/files/${id}/%2e`,
    `/%66iles/${id}`,
    `/files/${encoded(id.slice(0, 1))}${id.slice(1)}`,
    `/files/${encoded(id)}`,
    `/files/${id.slice(0, -1)}${encoded(id.slice(-1))}`,
    `/files/${id};x=1`,
    `/files/${id};`,
    `/files;x/${id}`,
    `/files/${id}?x=1`,
    `/files/${id}?`,
    `/files/?/${id}`,
    `/files/${id}#x`,
    `/files/#/${id}`,
    `/files/${id}%3Fx`,
    `/files/${id}%23`,
    `/files\\${id}`,
    `/files/\\${id}`,
    `\\files\\${id}`,
    // Cyrillic і for i, the ﬁ ligature, a fullwidth first character, the ligature percent-encoded.
    `/f\u0456les/${id}`,
    `/\ufb01les/${id}`,
    `/files/${fullwidth(id[0]!)}${id.slice(1)}`,
    `/%EF%AC%81les/${id}`,
    `/files/${id.toUpperCase()}`,
    `/files/${id}x`,
    `/files/${id}0`,
    `/files/x${id}`,
    `/files/${id.slice(0, -1)}`,
    `/files/${id}.json`,
    `/files/${id}.relay.json`,
    `http://${host}/files/${id}`,
    `HTTP://${host.toUpperCase()}/files/${id}`,
    `http://${host}/FILES/${id}`,
    `http://${host}//files/${id}`,
    `http://evil.example/files/${id}`,
    `/files/${id}%20`,
    `/files/%20${id}`,
    `/files/${id}%09`,
    `/files/${id}\t`,
    `/files/ ${id}`,
    `/files/${id}%00`,
  ];
}

interface Attack {
  name: string;
  method: string;
  override?: string;
  body?: boolean;
}
const ATTACKS: Attack[] = [
  { name: 'HEAD', method: 'HEAD' },
  { name: 'GET', method: 'GET' },
  { name: 'PATCH', method: 'PATCH', body: true },
  { name: 'DELETE', method: 'DELETE' },
  { name: 'OPTIONS', method: 'OPTIONS' },
  { name: 'POST as PATCH', method: 'POST', override: 'PATCH', body: true },
  { name: 'POST as DELETE', method: 'POST', override: 'DELETE' },
  { name: 'POST as HEAD', method: 'POST', override: 'HEAD' },
];
const EVIL = Buffer.alloc(4 * KB, 'EVIL');
/** What an answer about an upload carries: none may reach tool B. */
const REVEALING = ['upload-offset', 'upload-length', 'upload-metadata', 'upload-concat', 'upload-expires'];

/**
 * B's matrix against one of A's uploads; answers what went wrong (empty: nothing). `offset` is A's
 * offset, so that a PATCH that got through would be accepted and show.
 */
async function attack(origin: string, id: string, offset: number, bytes: Buffer): Promise<string[]> {
  const failures: string[] = [];
  const host = new URL(origin).host;
  for (const target of spellings(id, host)) {
    for (const a of ATTACKS) {
      const answer = await rawRequest(origin, {
        method: a.method,
        target,
        headers: {
          ...tus(TOOL_B),
          ...(a.override ? { 'X-HTTP-Method-Override': a.override } : {}),
          ...(a.body
            ? { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }
            : {}),
          ...(a.method === 'OPTIONS'
            ? { Origin: 'http://tool-b.example', 'Access-Control-Request-Method': 'PATCH' }
            : {}),
        },
        ...(a.body ? { body: EVIL } : {}),
      });
      // 404, or the 400 for a request that is not HTTP (Node's parser refuses it: the relay's
      // server.ts answers BAD_REQUEST, the proxy's Node an empty 400; any other 400 of the relay's
      // could say something about the upload). A preflight may pass.
      const refused =
        answer.status === 404 ||
        (answer.status === 400 && (answer.body.length === 0 || codeOf(answer.body) === 'BAD_REQUEST')) ||
        (a.method === 'OPTIONS' && answer.status === 204);
      const leaked = REVEALING.filter((h) => answer.headers[h] !== undefined);
      const problem = !refused
        ? `answered ${answer.status} ${answer.body.toString().slice(0, 100)}`
        : leaked.length > 0
          ? `answered ${answer.status} with ${leaked.join(', ')}`
          : answer.body.includes(bytes.subarray(0, 64))
            ? "sent A's bytes"
            : null;
      if (problem) failures.push(`${a.name} ${JSON.stringify(target)}: ${problem}`);
    }
  }
  return failures;
}

function codeOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString()) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

interface Target {
  /** Where requests go (a relay, or the proxy in front of several). */
  origin: string;
  uploadDir: string;
  jobs: Pick<JobRepository, 'get'>;
}

/** A's upload, created with its first `sent` bytes: its id. */
async function createUpload(t: Target, bytes: Buffer, sent: number, name: string): Promise<string> {
  const created = await fetch(`${t.origin}/files/`, {
    method: 'POST',
    headers: {
      ...tus(TOOL_A),
      'Upload-Length': String(bytes.length),
      'Upload-Metadata': `filename ${b64(`${name}.mp4`)},name ${b64(name)}`,
      'Content-Type': 'application/offset+octet-stream',
    },
    body: bytes.subarray(0, sent),
  });
  expect(created.status).toBe(201);
  expect(created.headers.get('upload-offset')).toBe(String(sent));
  return created.headers.get('location')!.split('/').pop()!;
}

interface Snapshot {
  data: string;
  info: string;
  job: JobRecord | null;
  head: [number, string | null];
}

/** All there is of one upload: its bytes, its TUS info, its job, and what its owner's HEAD says. */
async function snapshot(t: Target, id: string, withJob = true): Promise<Snapshot> {
  const data = await sha256File(path.join(t.uploadDir, id));
  const info = await fs.readFile(path.join(t.uploadDir, `${id}.json`), 'utf8');
  const job = withJob ? await t.jobs.get(id) : null;
  const head = await fetch(`${t.origin}/files/${id}`, { method: 'HEAD', headers: tus(TOOL_A) });
  return { data, info, job, head: [head.status, head.headers.get('upload-offset')] };
}

/** The rest of A's upload, from its offset. */
async function finish(t: Target, id: string, bytes: Buffer, from: number): Promise<void> {
  const res = await fetch(`${t.origin}/files/${id}`, {
    method: 'PATCH',
    headers: {
      ...tus(TOOL_A),
      'Upload-Offset': String(from),
      'Content-Type': 'application/offset+octet-stream',
    },
    body: bytes.subarray(from),
  });
  expect([res.status, res.headers.get('upload-offset')]).toEqual([204, String(bytes.length)]);
}

/** Files of the two uploads A makes: one left half sent, one complete. */
async function videos(dir: string): Promise<{ half: Buffer; whole: Buffer }> {
  await writeVideoFile(path.join(dir, 'half.mp4'), SIZE, 11);
  await writeVideoFile(path.join(dir, 'whole.mp4'), SIZE + 7, 12);
  return {
    half: await fs.readFile(path.join(dir, 'half.mp4')),
    whole: await fs.readFile(path.join(dir, 'whole.mp4')),
  };
}

/**
 * The whole run against one deployment: A's two uploads, B's matrix on each, the check that
 * nothing changed, and A's finish.
 */
async function isolationRun(
  t: Target,
  dir: string,
  afterAttack: () => Promise<void>,
  videoSha: (id: string) => Promise<string | null>,
): Promise<void> {
  const { half, whole } = await videos(dir);
  const inProgress = await createUpload(t, half, HALF, 'half');
  const complete = await createUpload(t, whole, whole.length, 'whole');
  const before = await snapshot(t, inProgress);
  const completeBefore = await snapshot(t, complete, false);
  expect(before.head).toEqual([200, String(HALF)]);

  const failures = [
    ...(await attack(t.origin, inProgress, HALF, half)),
    ...(await attack(t.origin, complete, whole.length, whole)),
  ];
  expect(failures).toEqual([]);
  expect(await snapshot(t, inProgress)).toEqual(before);
  expect(await snapshot(t, complete, false)).toEqual(completeBefore);

  await afterAttack();
  await finish(t, inProgress, half, HALF);
  for (const [id, bytes] of [
    [inProgress, half],
    [complete, whole],
  ] as const) {
    const sha256 = await sha256File(path.join(dir, bytes === half ? 'half.mp4' : 'whole.mp4'));
    const job = await waitFor(
      async () => {
        const record = await t.jobs.get(id);
        return record?.state === 'ready' ? record : undefined;
      },
      { timeoutMs: 60_000, what: `job ${id} to be ready` },
    );
    expect([job.owner, job.sha256, job.bytes_received]).toEqual(['tool-a', sha256, bytes.length]);
    expect(await videoSha(id)).toBe(sha256);
  }
}

describe("tool B against tool A's uploads, every spelling of their URLs", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'isolation-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  /** One stack; its worker starts only after the attack, so that nothing else moves A's jobs. */
  async function inProcess(publicUrl?: string): Promise<void> {
    const stack: Stack = await startStack({
      withWorker: false,
      relay: { tokens: TOKENS, ...(publicUrl ? { publicUrl } : {}) },
    });
    try {
      const t: Target = {
        origin: stack.relay.url,
        uploadDir: stack.relay.relay.uploadDir,
        jobs: stack.relay.relay.jobs,
      };
      await isolationRun(
        t,
        dir,
        async () => void (await stack.startWorker()),
        async (id) => stack.emulator.video((await stack.job(id)).video!.id)?.sha256 ?? null,
      );
    } finally {
      await stack.close();
    }
  }

  it('refuses every spelling and method, and leaves A its upload', () => inProcess(), 120_000);

  it('does the same with PUBLIC_URL set', () => inProcess('https://relay.example.com/video-relay'), 120_000);

  describe('behind the round-robin proxy of a scaled-out fleet', () => {
    let emulator: Emulator;
    let fleet: Fleet;
    let proxy: RoundRobinProxy;
    let jobs: JobRepository;
    let data: string;
    beforeAll(async () => {
      emulator = await startEmulator({ faults: { processingStepMs: 50 } });
      data = await fs.mkdtemp(path.join(os.tmpdir(), 'isolation-fleet-'));
      fleet = await startFleet({
        emulator,
        dataDir: data,
        redisUrl: testRedisUrl(),
        relays: 2,
        workers: 1,
        relayEnv: {
          RELAY_API_TOKENS: [TOOL_A, TOOL_B].map((e) => `${e.name}:${e.token}`).join(','),
          RELAY_OPERATOR_TOKENS: `${OPERATOR.name}:${OPERATOR.token}`,
          // Nothing is forwarded before an upload is complete: A's half upload's job stays still.
          FORWARD_MODE: 'store',
        },
        // The complete upload's bytes stay for B's GETs while the worker forwards it.
        workerEnv: { KEEP_FILES: 'true' },
      });
      proxy = await startRoundRobinProxy(fleet.relays.map((r) => r.url));
      jobs = fleet.jobs;
    }, 60_000);
    afterAll(async () => {
      await proxy?.close();
      await fleet?.close();
      await emulator?.close();
      await fs.rm(data, { recursive: true, force: true });
    });

    it('refuses every spelling and method on every relay', async () => {
      const t: Target = { origin: proxy.url, uploadDir: uploadDirOf(data), jobs };
      await isolationRun(
        t,
        dir,
        async () => {},
        async (id) => emulator.video((await jobs.get(id))!.video!.id)?.sha256 ?? null,
      );
      // Both relays answered B's requests.
      for (const relay of fleet.relays) expect(proxy.served.get(relay.url)).toBeGreaterThan(100);
    }, 180_000);
  });
});

describe("Upload-Concat: final naming another tool's partial upload", () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: TOKENS });
  });
  afterAll(() => t.close());

  /** A partial upload of `size` bytes, with `body` (if given) as its creation's content. */
  const partial = async (who: TokenEntry, size: number, body?: Buffer) => {
    const res = await fetch(`${t.url}/files/`, {
      method: 'POST',
      headers: {
        ...tus(who),
        'Upload-Length': String(size),
        'Upload-Concat': 'partial',
        ...(body ? { 'Content-Type': 'application/offset+octet-stream' } : {}),
      },
      ...(body ? { body } : {}),
    });
    expect(res.status).toBe(201);
    return res.headers.get('location')!;
  };
  const final = (who: TokenEntry, urls: string[]) =>
    fetch(`${t.url}/files/`, {
      method: 'POST',
      headers: {
        ...tus(who),
        'Upload-Concat': `final;${urls.join(' ')}`,
        'Upload-Metadata': `filename ${b64('final.mp4')}`,
      },
    });

  it("is 404 before any lock: the owner's PATCH in progress goes on untouched", async () => {
    const bytes = Buffer.alloc(64 * KB, 'A');
    const location = await partial(TOOL_A, bytes.length);
    const id = location.split('/').pop()!;
    // A's PATCH, half its body sent: it holds the upload's lock until the rest arrives.
    let patching: http.ClientRequest | undefined;
    const answer = new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${t.url}/files/${id}`, {
        method: 'PATCH',
        headers: {
          ...tus(TOOL_A),
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(bytes.length),
        },
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.write(bytes.subarray(0, bytes.length / 2));
      patching = req;
    });
    const file = path.join(t.relay.uploadDir, id);
    await waitFor(async () => ((await fs.stat(file)).size >= bytes.length / 2 ? true : undefined), {
      intervalMs: 20,
      what: "A's first half on disk",
    });

    // B's own finished partial, to name alongside A's.
    const mine = await partial(TOOL_B, 10, Buffer.alloc(10, 'B'));
    const references = [
      location,
      `/files/${id}`,
      `https://relay.example.com/files/${id}`,
      `http://evil.example/video-relay/files/${id}`,
      `/files/${id}/`,
      `/FILES/${id}`,
      `/files//${id}`,
      `/files/./${id}`,
      `/files/x/${id}`,
      `/files/%2e/${id}`,
      `/files/${encoded(id)}`,
      `/files/${id.toUpperCase()}`,
      `/files/${id}.json`,
      `${location}#x`,
      `files/${id}`,
      id,
      `/files/${'0'.repeat(32)}`,
      '/files/',
      'http://',
    ];
    const failures: string[] = [];
    for (const lists of [...references.map((r) => [r]), [mine, location]]) {
      const res = await final(TOOL_B, lists);
      const code = ((await res.json()) as { error?: { code?: string } }).error?.code;
      if (res.status !== 404 || code !== 'UPLOAD_NOT_FOUND')
        failures.push(`${lists.join(' ')} → ${res.status} ${code}`);
    }
    expect(failures).toEqual([]);

    // A's PATCH ends as A sent it: all its bytes taken, none of B's requests in between.
    patching!.end(bytes.subarray(bytes.length / 2));
    const res = await answer;
    res.resume();
    expect([res.statusCode, res.headers['upload-offset']]).toEqual([204, String(bytes.length)]);
    expect(await fs.readFile(file)).toEqual(bytes);
    // And A's partial is still A's to use.
    const assembled = await final(TOOL_A, [location]);
    expect(assembled.status).toBe(201);
    const job = await t.relay.jobs.get(assembled.headers.get('location')!.split('/').pop()!);
    expect([job?.owner, job?.size]).toEqual(['tool-a', bytes.length]);
  });
});
