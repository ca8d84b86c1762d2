import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRedis, JobRepository, type JobState } from '@gtr/core';
import { testPrefix, testRedisUrl, waitFor, writeVideoFile } from '@gtr/core/testing';
import * as tus from 'tus-js-client';
import { freePort } from './support/cluster.js';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type AppProcess, ROOT, runApp } from './support/processes.js';

/*
 * Every process of a deployment at LOG_LEVEL=debug (trace for the emulator) — `pnpm emulator`,
 * `pnpm start:relay`, `pnpm start:worker`, `pnpm relay …`, `pnpm relay doctor` — through the
 * whole flow: a tus-js-client upload whose Upload-Metadata carries a callback_url with a token, an
 * import of a presigned-looking URL (Gcore pulls it) and one the worker downloads, the callbacks,
 * Gcore's webhooks and calls of the webhook route in other spellings, requests carrying
 * Authorization, Proxy-Authorization, X-Api-Key and Cookie, the CLI and the doctor. No known
 * secret, nor any Gcore TUS token, may appear in anything any of them prints.
 */
const MB = 1024 * 1024;
const TOOL_TOKEN = 'tool-token-LEAK1-0a1b2c3d4e5f';
const OPS_TOKEN = 'ops-token-LEAK2-9f8e7d6c5b4a';
const ADMIN_TOKEN = 'admin-token-LEAK3-11223344556677';
const GCORE_KEY = '4321$gcore-key-LEAK4-0d16599c7e';
const WRONG_KEY = '99_wrong-gcore-key-LEAK5-a1b2c3';
const CALLBACK_SECRET = 'callback-secret-LEAK6-5e6f7a8b';
const HOOK_SECRET = 'hookSecretLEAK7abcdef0123456789';
const CALLBACK_TOKEN = 'cbtoken-LEAK8-9a8b7c6d';
// A query value under a harmless name: every value of a logged URL's query is hidden, not only
// those named like secrets.
const CALLBACK_TENANT = 'tenant-LEAK9-plainvalue';
const AMZ_CREDENTIAL = 'AKIALEAK10EXAMPLE';
const AMZ_SIGNATURE = 'f00dLEAK11signature0123456789abcdef';
const ORIGIN_VERSION = 'version-LEAK12-opaque';
const PROXY_AUTH = 'Basic cHJveHktTEVBSzEzLXNlY3JldA==';
const X_API_KEY = 'x-api-key-LEAK14-77aa19c0';
const COOKIE_VALUE = 'cookie-LEAK15-session-31337';
const GUESSED_TOKEN = 'guessed-token-LEAK16-000000000';
const CLI_SIGNATURE = 'c0ffeeLEAK17signature9876543210';
// Gcore's upload tokens are JWTs: anything shaped like one is a leaked token.
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('no secret in any output of any process', () => {
  let tmp: string;
  let origin: Origin;
  let callbacks: http.Server;
  let callbackUrl: string;
  const deliveries: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const processes: Array<{ name: string; app: AppProcess }> = [];
  const outputs: Array<{ where: string; text: string }> = [];
  const secrets = new Set<string>([
    TOOL_TOKEN,
    OPS_TOKEN,
    ADMIN_TOKEN,
    GCORE_KEY,
    WRONG_KEY,
    CALLBACK_SECRET,
    HOOK_SECRET,
    CALLBACK_TOKEN,
    CALLBACK_TENANT,
    AMZ_CREDENTIAL,
    AMZ_SIGNATURE,
    ORIGIN_VERSION,
    PROXY_AUTH.split(' ')[1]!,
    X_API_KEY,
    COOKIE_VALUE,
    GUESSED_TOKEN,
    CLI_SIGNATURE,
    b64(`ops:${OPS_TOKEN}`),
  ]);

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'log-secrets-'));
    await writeVideoFile(path.join(tmp, 'origin.mp4'), MB, 11);
    origin = await startOrigin(async (req, res) => {
      await sendFile(req, res, path.join(tmp, 'origin.mp4'));
    });
    callbacks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
    const port = (callbacks.address() as AddressInfo).port;
    callbackUrl = `http://127.0.0.1:${port}/hook?token=${CALLBACK_TOKEN}&tenant=${CALLBACK_TENANT}`;
    // What Upload-Metadata carries: the URL in base64.
    secrets.add(b64(callbackUrl));
  });

  afterAll(async () => {
    for (const { app } of processes) await app.stop('SIGKILL');
    await origin?.close();
    await new Promise((r) => callbacks?.close(r));
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const start = (name: string, script: string, env: Record<string, string>): AppProcess => {
    const app = runApp(script, env, { cwd: tmp });
    processes.push({ name, app });
    return app;
  };

  /** `pnpm relay …` as a process of its own, as an operator runs it. */
  const cli = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'packages/cli/dist/main.js'), ...args], {
        cwd: tmp,
        env: { PATH: process.env.PATH ?? '', HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'config'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.once('close', (code) => {
        outputs.push({ where: `relay ${args.join(' ')} (stdout)`, text: out });
        outputs.push({ where: `relay ${args.join(' ')} (stderr)`, text: err });
        resolve({ code, out, err });
      });
    });

  const leaks = (): string[] => {
    const found: string[] = [];
    const all = [...processes.map(({ name, app }) => ({ where: name, text: app.output() })), ...outputs];
    for (const { where, text } of all) {
      for (const line of text.split('\n')) {
        for (const secret of secrets) {
          if (line.includes(secret)) found.push(`${where}: ${secret} in ${line.slice(0, 400)}`);
        }
        const jwt = JWT.exec(line);
        if (jwt) found.push(`${where}: a JWT (${jwt[0].slice(0, 16)}…) in ${line.slice(0, 400)}`);
      }
    }
    return found;
  };

  it('through uploads, imports, callbacks, webhooks, credentials in headers, the CLI and doctor', async () => {
    const redisUrl = testRedisUrl();
    const prefix = testPrefix();
    const relayPort = await freePort();
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const common = {
      DATA_DIR: path.join(tmp, 'data'),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'debug',
      CALLBACK_SECRET,
      GCORE_WEBHOOK_PATH_SECRET: HOOK_SECRET,
      RELAY_API_TOKENS: `tool:${TOOL_TOKEN}`,
      RELAY_OPERATOR_TOKENS: `ops:${OPS_TOKEN}`,
      RELAY_ADMIN_TOKENS: `admin:${ADMIN_TOKEN}`,
      IMPORT_ALLOW_PRIVATE: 'true',
      GCORE_API_KEY: GCORE_KEY,
    };

    const emulator = start('emulator', 'apps/gcore-emulator/dist/main.js', {
      EMULATOR_PORT: '0',
      EMULATOR_API_KEY: GCORE_KEY,
      EMULATOR_LOG_LEVEL: 'trace',
      EMULATOR_WEBHOOK_URL: `${relayUrl}/hooks/gcore/${HOOK_SECRET}`,
      EMULATOR_FAULTS: JSON.stringify({ processingStepMs: 50 }),
    });
    const emulatorUrl = /listening on (http\S+)/.exec(await emulator.waitForLine(/listening on http/))![1]!;
    const relay = start('relay', 'apps/relay/dist/main.js', {
      ...common,
      PORT: String(relayPort),
      HOST: '127.0.0.1',
      GCORE_API_URL: emulatorUrl,
    });
    await relay.waitForLine(/"msg":"relay listening"/, 30_000);
    const worker = start('worker', 'apps/worker/dist/main.js', {
      ...common,
      GCORE_API_URL: emulatorUrl,
      GCORE_ALLOW_INSECURE_UPLOAD: 'true',
      CALLBACK_ALLOW_PRIVATE: 'true',
      FORWARD_CHUNK_SIZE: String(512 * 1024),
      WORKER_METRICS_PORT: '0',
    });
    await worker.waitForLine(/"msg":"worker started"/, 30_000);

    const redis = createRedis(redisUrl);
    const jobs = new JobRepository(redis, prefix);
    const credentials = {
      'Proxy-Authorization': PROXY_AUTH,
      'X-Api-Key': X_API_KEY,
      Cookie: `session=${COOKIE_VALUE}`,
    };
    try {
      // An upload with tus-js-client, its callback_url's query in the Upload-Metadata.
      const file = path.join(tmp, 'talk.mp4');
      await writeVideoFile(file, 2 * MB, 12);
      const uploadUrl = await new Promise<string>((resolve, reject) => {
        const upload = new tus.Upload(createReadStream(file), {
          endpoint: `${relayUrl}/files/`,
          uploadSize: 2 * MB,
          chunkSize: MB,
          metadata: { filename: 'talk.mp4', name: 'Talk', callback_url: callbackUrl },
          headers: { Authorization: `Bearer ${TOOL_TOKEN}`, ...credentials },
          storeFingerprintForResuming: false,
          onError: reject,
          onSuccess: () => resolve(upload.url!),
        });
        upload.start();
      });
      const uploadId = uploadUrl.split('/').pop()!;

      // Imports: a presigned-looking URL Gcore pulls, and one the worker downloads.
      const presigned = (name: string) =>
        `${origin.url}/${name}.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${AMZ_CREDENTIAL}` +
        `&X-Amz-Expires=3600&X-Amz-Signature=${AMZ_SIGNATURE}&versionId=${ORIGIN_VERSION}`;
      const importIds: string[] = [];
      for (const via of ['gcore', 'relay']) {
        const res = await fetch(`${relayUrl}/api/imports`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${TOOL_TOKEN}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ origin_url: presigned(via), via, callback_url: callbackUrl }),
        });
        expect(res.status).toBe(202);
        importIds.push(((await res.json()) as { id: string }).id);
      }

      // Credentials in headers, on every kind of route, and a wrong token.
      const bearer = { Authorization: `Bearer ${OPS_TOKEN}`, ...credentials };
      for (const [p, headers] of [
        [`/files/${uploadId}`, { ...bearer, 'Tus-Resumable': '1.0.0' }],
        [`/api/jobs/${uploadId}?token=${CALLBACK_TOKEN}`, bearer],
        ['/api/jobs?state=ready', bearer],
        ['/metrics', bearer],
        ['/dashboard', { Authorization: `Basic ${b64(`ops:${OPS_TOKEN}`)}`, ...credentials }],
        ['/no-such-route', bearer],
        ['/api/jobs', { Authorization: `Bearer ${GUESSED_TOKEN}`, ...credentials }],
      ] as const) {
        // What the answers say is secrets.test.ts's; here only what the processes print.
        const res = await fetch(`${relayUrl}${p}`, {
          method: p.startsWith('/files') ? 'HEAD' : 'GET',
          headers,
        });
        await res.arrayBuffer();
      }

      // Gcore's webhooks come from the emulator; these are the route in other spellings.
      const webhook = JSON.stringify({ type: 'video', message: { video: { id: 1, status: 'ready' } } });
      for (const p of [
        `/hooks/gcore/${HOOK_SECRET}`,
        `/Hooks/Gcore/${HOOK_SECRET}`,
        `/HOOKS/GCORE/${HOOK_SECRET}?x=1`,
        `/hooks/gcore/${HOOK_SECRET}/`,
        `/hooks//gcore/${HOOK_SECRET}`,
        `/hooks/gcore/${HOOK_SECRET.toUpperCase()}`,
      ]) {
        await fetch(`${relayUrl}${p}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: webhook,
        });
      }

      const ids = [uploadId, ...importIds];
      for (const id of ids) {
        await waitFor(
          async () => {
            const job = await jobs.get(id);
            if (job?.progress.token) secrets.add(job.progress.token);
            const final: JobState[] = ['ready', 'failed', 'canceled'];
            return job && final.includes(job.state) ? job : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 50, what: `job ${id} to end` },
        ).then((job) => expect([id, job.state]).toEqual([id, 'ready']));
      }
      await waitFor(() => (deliveries.length >= 3 ? true : undefined), { what: 'three callbacks' });
      // The upload token Gcore hands anyone with the key, for the upload's video.
      const videoId = (await jobs.get(uploadId))!.progress.video_id;
      const params = await fetch(`${emulatorUrl}/streaming/videos/${videoId}/upload`, {
        headers: { Authorization: `APIKey ${GCORE_KEY}` },
      });
      const { token } = (await params.json()) as { token: string };
      secrets.add(token);

      // The CLI, as a tool's operator runs it.
      const cliEnv = { RELAY_URL: relayUrl, RELAY_TOKEN: TOOL_TOKEN };
      const clip = path.join(tmp, 'clip.mp4');
      await writeVideoFile(clip, MB, 13);
      expect((await cli(['upload', 'clip.mp4', '--name', 'Clip'], cliEnv)).code).toBe(0);
      const cliImport = presigned('cli').replace(AMZ_SIGNATURE, CLI_SIGNATURE);
      expect((await cli(['import', cliImport, '--wait'], cliEnv)).code).toBe(0);
      expect((await cli(['jobs'], cliEnv)).code).toBe(0);
      expect((await cli(['job', uploadId], cliEnv)).code).toBe(0);
      await cli(['jobs'], { ...cliEnv, RELAY_TOKEN: GUESSED_TOKEN });

      // The doctor, with the environment the relay and workers read (and once with a wrong key).
      const doctorEnv = { ...common, GCORE_API_URL: emulatorUrl, GCORE_ALLOW_INSECURE_UPLOAD: 'true' };
      const live = await cli(['doctor', '--live'], doctorEnv);
      expect(live.out).toMatch(/^✓ live upload: /m);
      const wrong = await cli(['doctor'], { ...doctorEnv, GCORE_API_KEY: WRONG_KEY });
      expect(wrong.out).toMatch(/^✗ gcore key: /m);
    } finally {
      await redis.quit();
    }
    for (const { app } of processes) await app.stop('SIGTERM');

    expect(leaks()).toEqual([]);
    // The logs were written, and said something about each of these: the test is not vacuous.
    const relayLog = relay.output();
    expect(relayLog).toMatch(/"upload-metadata":"[^"]*callback_url/);
    expect(relayLog).toMatch(/"x-api-key":"\[redacted\]"/);
    expect(relayLog).toMatch(/\/hooks\/gcore\/\[redacted\]/i);
    expect(worker.output()).toMatch(/"msg":"callback delivered"/);
    // The import URLs are logged with their query's names, not its values.
    expect(emulator.output()).toMatch(
      /"originUrl":"[^"]*X-Amz-Signature=\[redacted\]&versionId=\[redacted\]"/,
    );
    expect(deliveries.every((d) => typeof d.headers['x-relay-signature-256'] === 'string')).toBe(true);
  });
});
