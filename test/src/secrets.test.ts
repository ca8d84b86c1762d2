import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { type Stack, startStack } from './support/stack.js';

/*
 * No one learns a secret from the relay: not the Gcore API key, not a relay token, not a Gcore TUS
 * token. Every log line (relay and worker, at debug) and every answer an API user or operator can
 * get (jobs API, dashboard summary, SSE events, /metrics, bull-board's JSON API, callbacks) is
 * collected through an upload that ends ready, one that Gcore's TUS server refuses the token of,
 * and one with a wrong API key; none may contain a secret.
 */
const MB = 1024 * 1024;
const API_KEY = '4321$gcore-api-key-0d16599c7e';
const WRONG_KEY = '99_wrong-gcore-api-key-a1b2c3d4';
const RELAY_TOKEN = 'relay-token-5be3c0a7f1d24e';
const OTHER_TOKEN = 'relay-token-second-77aa19c0';
const BASIC = Buffer.from(`ops:${OTHER_TOKEN}`).toString('base64');
// Gcore's upload tokens are JWTs: anything shaped like one is a leaked token.
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;
const QUEUES = ['forward', 'import', 'track', 'notify'];
const STATUSES = ['latest', 'active', 'waiting', 'completed', 'failed', 'delayed', 'paused', 'prioritized'];

describe('secrets stay secret', () => {
  let tmp: string;
  let stack: Stack;
  const logs: string[] = [];
  const seen: Array<{ where: string; text: string }> = [];
  const secrets = new Set<string>([API_KEY, WRONG_KEY, RELAY_TOKEN, OTHER_TOKEN, BASIC]);
  let callbacks: http.Server;
  let callbackUrl: string;
  let sse: AbortController;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'secrets-'));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    callbacks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        seen.push({ where: 'callback', text: `${JSON.stringify(req.headers)}\n${body}` });
        res.end();
      });
    });
    await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/hook`;
    stack = await startStack({
      emulatorApiKey: API_KEY,
      apiKey: API_KEY,
      logger: createLogger({ level: 'debug' }, sink),
      // Slow enough that the upload token can be seen in the job while the transfer runs.
      faults: { bandwidthBytesPerSec: 2 * MB },
      worker: { chunkSize: 512 * 1024, callbackSecret: 'callback-secret-9f8e7d' },
      relay: { tokens: [RELAY_TOKEN, OTHER_TOKEN], imports: { preflight: false, allowPrivate: true } },
    });
    secrets.add('callback-secret-9f8e7d');
    // Everything the live feed sends, for the whole run.
    sse = new AbortController();
    void (async () => {
      const res = await fetch(`${stack.relay.url}/api/events`, {
        headers: { Authorization: `Bearer ${RELAY_TOKEN}` },
        signal: sse.signal,
      });
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen.push({ where: 'sse', text: Buffer.from(value).toString() });
      }
    })().catch(() => {});
  });

  afterAll(async () => {
    sse?.abort();
    await stack?.close();
    await new Promise((r) => callbacks?.close(r));
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const get = async (p: string, where = p) => {
    // Operators' browsers send the token as Basic auth's password (base64 on the wire).
    const basic = p.startsWith('/dashboard') || p.startsWith('/admin');
    const res = await fetch(`${stack.relay.url}${p}`, {
      headers: { Authorization: basic ? `Basic ${BASIC}` : `Bearer ${RELAY_TOKEN}` },
    });
    seen.push({
      where: `${where} ${res.status}`,
      text: `${JSON.stringify([...res.headers])}\n${await res.text()}`,
    });
  };

  /** Every read-only surface an API user or operator has, for the given jobs. */
  const snapshot = async (ids: string[]) => {
    const paths = [
      '/api/jobs',
      '/api/jobs?state=failed',
      '/api/dashboard/summary',
      '/metrics',
      '/dashboard',
      '/admin/queues',
      '/admin/queues/api/redis/stats',
      '/admin/queues/api/job-schedulers',
      ...ids.map((id) => `/api/jobs/${id}`),
      ...QUEUES.flatMap((q) => [
        ...STATUSES.map((s) => `/admin/queues/api/queues?activeQueue=${q}&status=${s}&page=1&jobsPerPage=50`),
        `/admin/queues/api/queues/${q}/workers`,
        `/admin/queues/api/queues/${q}/default-job-options`,
        ...ids.flatMap((id) => [
          `/admin/queues/api/queues/${q}/${id}`,
          `/admin/queues/api/queues/${q}/${id}/logs`,
        ]),
      ]),
    ];
    await Promise.all(paths.map((p) => get(p)));
  };

  /** Watches a job: every Gcore TUS token it holds joins the secrets; the API is read meanwhile. */
  const watch = (id: string) => {
    let on = true;
    const done = (async () => {
      while (on) {
        const job = await stack.relay.relay.jobs.get(id);
        if (job?.progress.token) secrets.add(job.progress.token);
        await snapshot([id]);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return async () => {
      on = false;
      await done;
    };
  };

  const leaks = () => {
    if (process.env.SECRETS_DUMP) {
      void fs.writeFile(
        process.env.SECRETS_DUMP,
        JSON.stringify({ secrets: [...secrets], logs, seen }, null, 1),
      );
    }
    const found: string[] = [];
    const surfaces = [...logs.map((text) => ({ where: 'log', text })), ...seen];
    for (const { where, text } of surfaces) {
      for (const secret of secrets) {
        if (text.includes(secret)) found.push(`${where}: ${secret.slice(0, 12)}… in ${text.slice(0, 300)}`);
      }
      const jwt = JWT.exec(text);
      if (jwt) found.push(`${where}: JWT ${jwt[0].slice(0, 16)}… in ${text.slice(0, 300)}`);
    }
    return found;
  };

  it('through an upload that ends ready', async () => {
    const file = path.join(tmp, 'ok.mp4');
    await writeVideoFile(file, 3 * MB, 5);
    const uploading = stack.upload(file, { callback_url: callbackUrl });
    const id = await waitFor(async () => (await stack.relay.relay.jobs.list()).items[0]?.id, {
      what: 'the job',
    });
    const stop = watch(id);
    await uploading;
    await waitFor(async () => ((await stack.job(id)).progress.token ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the Gcore upload token',
    });
    // The emulator's own answer for this video: a token Gcore would hand anyone with the key.
    const params = await fetch(
      `${stack.emulator.url}/streaming/videos/${(await stack.job(id)).progress.video_id}/upload`,
      {
        headers: { Authorization: `APIKey ${API_KEY}` },
      },
    );
    secrets.add(((await params.json()) as { token: string }).token);
    const job = await stack.waitForState(id, ['ready', 'failed'], 30_000);
    await stop();
    expect(job.state).toBe('ready');
    await waitFor(() => (seen.some((s) => s.where === 'callback') ? true : undefined), {
      what: 'the callback',
    });
    await snapshot([id]);
    expect(secrets.size).toBeGreaterThan(5);
    expect(logs.length).toBeGreaterThan(10);
    expect(leaks()).toEqual([]);
  });

  it('through an upload whose Gcore TUS token is refused', async () => {
    // Tokens expire as soon as they are issued: every TUS creation is refused with
    // `Error: token invalid (eyJ…)`, which echoes the token back.
    stack.emulator.setFaults({ tokenTtlMs: 1, bandwidthBytesPerSec: 0 });
    const file = path.join(tmp, 'token.mp4');
    await writeVideoFile(file, MB, 6);
    const id = await stack.upload(file, { callback_url: callbackUrl });
    const stop = watch(id);
    const job = await waitFor(
      async () => {
        const j = await stack.job(id);
        return j.error && j.attempts >= 2 ? j : undefined;
      },
      { timeoutMs: 30_000, what: 'a refused token to be recorded' },
    );
    await stop();
    expect(job.error?.message).toMatch(/token/i);
    await snapshot([id]);
    await get(`/api/jobs/${id}`);
    expect(leaks()).toEqual([]);
    const canceled = await fetch(`${stack.relay.url}/api/jobs/${id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${RELAY_TOKEN}` },
    });
    seen.push({ where: 'cancel', text: await canceled.text() });
    stack.emulator.resetFaults();
  });

  it('shows only ids (and a finished job’s public view) as BullMQ job data on bull-board', () => {
    const data: Array<Record<string, unknown>> = [];
    for (const { where, text } of seen) {
      if (!where.startsWith('/admin/queues/api/queues?')) continue;
      const body = JSON.parse(text.slice(text.indexOf('\n') + 1)) as {
        queues: Array<{ jobs: Array<{ data: Record<string, unknown> }> }>;
      };
      for (const queue of body.queues) for (const job of queue.jobs) data.push(job.data);
    }
    expect(data.length).toBeGreaterThan(0);
    const keys = new Set(data.flatMap((d) => Object.keys(d)));
    // forward/import/track: the job id (and the poll count); notify: the callback URL and the public job.
    expect([...keys]).toEqual(expect.arrayContaining(['id', 'url', 'job']));
    // `seen` (track): the status and renditions' progress the last poll saw, for stall detection.
    for (const key of keys) expect(['id', 'polls', 'seen', 'url', 'job']).toContain(key);
    for (const d of data.filter((d) => d.job)) {
      expect(Object.keys(d.job as object)).not.toEqual(expect.arrayContaining(['progress']));
      expect(Object.keys(d.job as object)).not.toEqual(expect.arrayContaining(['request']));
    }
  });

  it('through a worker with a wrong Gcore API key', async () => {
    await stack.startWorker({ apiKey: WRONG_KEY });
    const file = path.join(tmp, 'key.mp4');
    await writeVideoFile(file, MB, 7);
    const id = await stack.upload(file, { callback_url: callbackUrl });
    const stop = watch(id);
    const job = await stack.waitForState(id, ['failed'], 30_000);
    await stop();
    expect(job.error?.code).toMatch(/AUTH|UNAUTHORIZED|FORBIDDEN|KEY/);
    await waitFor(
      () => (seen.some((s) => s.text.includes('"failed"') && s.where === 'callback') ? true : undefined),
      {
        what: 'the failure callback',
      },
    );
    await snapshot([id]);
    // A wrong relay token, too: the 401 must not echo it.
    const refused = await fetch(`${stack.relay.url}/api/jobs`, {
      headers: { Authorization: 'Bearer relay-token-guess-00' },
    });
    secrets.add('relay-token-guess-00');
    seen.push({ where: 'refused', text: `${JSON.stringify([...refused.headers])}${await refused.text()}` });
    expect(leaks()).toEqual([]);
  });
});
