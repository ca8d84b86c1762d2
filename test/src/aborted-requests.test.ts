import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import { tusUpload } from '@gtr/relay/testing';
import { seededRandom } from './support/cluster.js';
import { type AppProcess, runApp } from './support/processes.js';
import { type AbortPlan, abortedRequest, formatRequest, type RawRequest } from './support/raw-http.js';
import { b64 } from './support/routes.js';

/*
 * No request can stop the process. `pnpm start` (relay, workers and the built-in emulator in one
 * process) takes 100 requests whose clients go away at a random byte — of the request's head or
 * body, or of the answer, sometimes after leaving the answer unread for a while so that the
 * relay's writes back up — on every route that streams a body: a TUS download, PATCH and
 * creation-with-upload, Gcore's webhook, a JSON API POST, and large API answers. After each one
 * the process is still there and answers /healthz; at the end an upload still goes through.
 *
 * The choices come from a seeded PRNG: the seed is in the test's name; ABORT_SEED=<seed> replays
 * a run, ABORT_ROUNDS=<n> changes how many requests.
 */
const SEED = Number(process.env.ABORT_SEED ?? randomBytes(4).readUInt32LE(0));
const ROUNDS = Number(process.env.ABORT_ROUNDS ?? 100);
const MB = 1024 * 1024;
/** Long enough that no run of PATCHes finishes one. */
const UNFINISHED_LENGTH = 256 * MB;

describe('requests whose clients go away mid-body', () => {
  const tool = `tool:${randomBytes(24).toString('hex')}`;
  const operator = `ops:${randomBytes(24).toString('hex')}`;
  const toolToken = tool.split(':')[1]!;
  const operatorToken = operator.split(':')[1]!;
  const hookSecret = randomBytes(24).toString('hex');
  const prefix = testPrefix();
  let tmp: string;
  let app: AppProcess | undefined;
  let url: string;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'aborted-'));
  });
  afterAll(async () => {
    await app?.stop('SIGKILL');
    await fs.rm(tmp, { recursive: true, force: true });
    const redis = createRedis(testRedisUrl());
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it(`leave pnpm start running and answering (ABORT_SEED=${SEED}, ${ROUNDS} requests)`, async () => {
    console.log(`aborted-requests: ABORT_SEED=${SEED} ABORT_ROUNDS=${ROUNDS}`);
    const random = seededRandom(SEED);
    const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
    const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;

    app = runApp(
      'apps/standalone/dist/main.js',
      {
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: prefix,
        PORT: '0',
        EMULATOR_PORT: '0',
        DATA_DIR: path.join(tmp, 'data'),
        RELAY_API_TOKENS: tool,
        RELAY_OPERATOR_TOKENS: operator,
        GCORE_WEBHOOK_PATH_SECRET: hookSecret,
        // The complete uploads stay to be downloaded once forwarded.
        KEEP_FILES: 'true',
        // Forwards start once an upload is complete: the many unfinished ones here would otherwise
        // each hold a worker's slot (FORWARD_MODE=stream), and the last upload would wait for them.
        FORWARD_MODE: 'store',
        LOG_LEVEL: 'warn',
      },
      { cwd: tmp },
    );
    url = /is up at (\S+)/.exec(await app.waitForLine(/is up at /, 30_000))![1]!;
    const asTool = { Authorization: `Bearer ${toolToken}` };
    const asOperator = { Authorization: `Bearer ${operatorToken}` };

    // Two complete uploads (several MB: a download is still under way when its client goes) and
    // three unfinished ones for the PATCHes.
    const complete: Array<{ id: string; size: number; sha256: string }> = [];
    for (const [size, seed] of [
      [8 * MB, 1],
      [3 * MB + 17, 2],
    ] as const) {
      const file = path.join(tmp, `complete-${seed}.mp4`);
      const { sha256 } = await writeVideoFile(file, size, seed);
      const location = await tusUpload({
        endpoint: `${url}/files/`,
        token: toolToken,
        file,
        metadata: { filename: `complete-${seed}.mp4`, filetype: 'video/mp4' },
      });
      complete.push({ id: location.split('/').pop()!, size, sha256 });
    }
    for (const { id } of complete) await waitForReady(id, asTool);
    // They are in a batch, for its export.
    const made = await fetch(`${url}/api/batches`, {
      method: 'POST',
      headers: { ...asTool, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'aborted requests' }),
    });
    expect(made.status).toBe(201);
    const batch = ((await made.json()) as { id: string }).id;
    const unfinished: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/files/`, {
        method: 'POST',
        headers: {
          ...asTool,
          'Tus-Resumable': '1.0.0',
          'Upload-Length': String(UNFINISHED_LENGTH),
          'Upload-Metadata': `filename ${b64(`unfinished-${i}.mp4`)},batch ${b64(batch)}`,
        },
      });
      expect(res.status).toBe(201);
      unfinished.push(res.headers.get('location')!.split('/').pop()!);
    }

    const tus = { ...asTool, 'Tus-Resumable': '1.0.0' };
    const importItems = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        // Refused (a private address) without IMPORT_ALLOW_PRIVATE: nothing is downloaded.
        origin_url: `http://127.0.0.1:9/video-${i}.mp4`,
        name: `import ${i} ${'x'.repeat(int(0, 200))}`,
      }));
    const asBrowser = { Authorization: `Basic ${b64(`ops:${operatorToken}`)}` };
    /**
     * Each route that takes or sends a body, and a request for it: with its answer's size, if
     * known, and the most of it to read, for an answer that does not end (server-sent events).
     */
    const routes: Record<string, () => Promise<RawRequest & { answerSize?: number; readMax?: number }>> = {
      'GET /files/<id> (download)': async () => {
        const upload = pick(complete);
        return { method: 'GET', target: `/files/${upload.id}`, headers: tus, answerSize: upload.size };
      },
      'PATCH /files/<id>': async () => {
        const id = pick(unfinished);
        const head = await fetch(`${url}/files/${id}`, { method: 'HEAD', headers: tus });
        const offset = head.headers.get('upload-offset') ?? '0';
        return {
          method: 'PATCH',
          target: `/files/${id}`,
          headers: {
            ...tus,
            'Content-Type': 'application/offset+octet-stream',
            'Upload-Offset': offset,
          },
          body: randomBytes(int(1, 2 * MB)),
        };
      },
      'POST /files (creation-with-upload)': async () => {
        const length = int(1, 2 * MB);
        return {
          method: 'POST',
          target: '/files',
          headers: {
            ...tus,
            'Content-Type': 'application/offset+octet-stream',
            'Upload-Length': String(length),
            'Upload-Metadata': `filename ${b64('created.mp4')}`,
          },
          body: randomBytes(length),
        };
      },
      'POST /hooks/gcore/<secret>': async () => ({
        method: 'POST',
        target: `/hooks/gcore/${hookSecret}`,
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from(
          JSON.stringify({
            type: 'video',
            message: { video: { id: int(1, 1_000_000), status: 'ready', note: 'y'.repeat(int(0, 60_000)) } },
          }),
        ),
      }),
      'POST /api/imports[/batch]': async () => {
        const batch = random() < 0.5;
        return {
          method: 'POST',
          target: batch ? '/api/imports/batch' : '/api/imports',
          headers: { ...asTool, 'Content-Type': 'application/json' },
          body: Buffer.from(
            JSON.stringify(batch ? { items: importItems(int(1, 1_000)) } : importItems(1)[0]),
          ),
        };
      },
      'GET API answers (/metrics, /api/jobs, a batch export, /api/events, …)': async () => {
        const [target, headers, readMax] = pick([
          ['/metrics', asOperator],
          ['/api/jobs?limit=500', asOperator],
          ['/api/openapi.json', asTool],
          [`/api/batches/${batch}/export?format=${pick(['csv', 'json'])}`, asTool],
          // Its head alone is longer: the stream is cut before or right after its first event.
          ['/api/events', asBrowser, 160],
          ['/dashboard/assets/dashboard.css', asBrowser],
        ] as const);
        return { method: 'GET', target, headers, ...(readMax ? { readMax } : {}) };
      },
    };

    /**
     * Where in the answer to go: early (its first chunks), anywhere, or (a download, whose length is
     * known) in its last 64 KB or just after its last byte — while the relay reads the file's end.
     */
    const readBytes = (answerSize: number | undefined): number => {
      const where = random();
      if (where < 0.25) return int(1, 64 * 1024);
      if (answerSize === undefined || where < 0.5) return int(1, answerSize ?? 9 * MB);
      return Math.max(1, answerSize + 1024 - int(0, 64 * 1024));
    };
    const history: string[] = [];
    // Downloads thrice as often: the file's reads make the most moments at which a client can go.
    const names = Object.keys(routes).flatMap((name) =>
      name.includes('(download)') ? [name, name, name] : [name],
    );
    for (let round = 1; round <= ROUNDS; round++) {
      const name = pick(names);
      const { answerSize, readMax, ...request } = await routes[name]!();
      const bytes = formatRequest(url, request);
      const head = bytes.indexOf('\r\n\r\n') + 4;
      const hasBody = bytes.length > head;
      // Requests with a body: mostly cut in the body, sometimes in the head, sometimes after it
      // all went (then in the answer). Requests without: cut in the answer, mostly early.
      const where = random();
      const sendBytes = !hasBody
        ? bytes.length
        : where < 0.15
          ? int(0, head - 1)
          : where < 0.85
            ? int(head, bytes.length - 1)
            : bytes.length;
      const plan: AbortPlan = {
        sendBytes,
        readBytes: Math.min(readBytes(answerSize), readMax ?? Number.POSITIVE_INFINITY),
        // A third of the time the answer is left unread a while first (the relay's writes back up).
        pauseMs: random() < 0.33 ? int(1, 300) : 0,
        reset: random() < 0.5,
      };
      const { received, status } = await abortedRequest(url, bytes, plan);
      history.push(
        `#${round} ${request.method} ${request.target.replace(hookSecret, '<secret>')}: ${bytes.length} bytes, sent ${Math.min(sendBytes, bytes.length)}, ` +
          `read ${received}/${plan.readBytes}${status ? ` (${status})` : ''}, pause ${plan.pauseMs} ms, ` +
          (plan.reset ? 'RST' : 'FIN'),
      );
      await expectAlive(history);
    }

    // A whole download, and a normal upload from first byte to ready, after all of that.
    const download = await fetch(`${url}/files/${complete[0]!.id}`, { headers: tus });
    expect(download.status).toBe(200);
    const downloaded = Buffer.from(await download.arrayBuffer());
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(complete[0]!.sha256);
    const file = path.join(tmp, 'after.mp4');
    await writeVideoFile(file, 2 * MB, 9);
    const location = await tusUpload({
      endpoint: `${url}/files/`,
      token: toolToken,
      file,
      metadata: { filename: 'after.mp4' },
    });
    await waitForReady(location.split('/').pop()!, asTool);
    await expectAlive(history);
    expect(await app.stop('SIGINT')).toBe(0);
    app = undefined;
  }, 120_000);

  /** The process is running and answers /healthz; else the last requests and its output. */
  async function expectAlive(history: string[]): Promise<void> {
    const child = app!.child;
    const answer = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
      (res) => res.status,
      (error: unknown) => String(error),
    );
    if (answer === 200 && child.exitCode === null && child.signalCode === null) return;
    // Whatever the process still prints about its end.
    await new Promise((resolve) => setTimeout(resolve, 500));
    throw new Error(
      `after the aborted requests (ABORT_SEED=${SEED}), /healthz answered ${answer} and the process ` +
        `${child.exitCode === null && child.signalCode === null ? 'runs' : `exited (${child.exitCode ?? child.signalCode})`}.\n` +
        `Last requests:\n  ${history.slice(-5).join('\n  ')}\nIts output (end):\n${app!.output().slice(-4_000)}`,
    );
  }

  async function waitForReady(id: string, headers: Record<string, string>): Promise<void> {
    let last: unknown;
    const job = await waitFor(
      async () => {
        const res = await fetch(`${url}/api/jobs/${id}`, { headers });
        const body = (await res.json()) as { state: string };
        last = body;
        return ['ready', 'failed'].includes(body.state) ? body : undefined;
      },
      { timeoutMs: 30_000, what: `upload ${id} to be ready` },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; it is ${JSON.stringify(last)}\n${app!.output().slice(-4_000)}`);
    });
    expect(job.state).toBe('ready');
  }
});
