import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { type JobCallback, type NotifyJobData, type PublicJob, parseHostEntry } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { expectCallbackMatchesSpec, expectResponseMatchesSpec } from './support/openapi.js';
import { ROOT } from './support/processes.js';
import { type Stack, type StackOptions, startStack } from './support/stack.js';

const MB = 1024 * 1024;
const SECRET = 'callback-secret-for-guard-tests';
const REFUSED = 'the callback address is not allowed (private or loopback)';

// The receiver from README.md, copied verbatim: the first test fails when the README's differs.
const README_RECEIVER = String.raw`function verifyRelayCallback(secret, headers, rawBody, now = Date.now()) {
  const fields = Object.fromEntries(
    String(headers['x-relay-signature-256'] ?? '')
      .split(',')
      .map((kv) => kv.split('=', 2)),
  );
  if (!/^\d+$/.test(fields.t ?? '')) return false;
  if (Math.abs(now / 1000 - Number(fields.t)) > 300) return false; // older than 5 minutes: a replay
  const expected = crypto
    .createHmac('sha256', secret)
    .update(fields.t + '.')
    .update(rawBody)
    .digest('hex');
  const given = Buffer.from(String(fields.v1 ?? ''));
  return given.length === expected.length && crypto.timingSafeEqual(Buffer.from(expected), given);
}`;

type Verify = (
  secret: string,
  headers: http.IncomingHttpHeaders,
  rawBody: Buffer | string,
  now?: number,
) => boolean;
const verifyRelayCallback = vm.runInNewContext(`${README_RECEIVER}\nverifyRelayCallback`, {
  crypto,
  Buffer,
  Date,
}) as Verify;

interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A tool's endpoint on loopback: answers `status(n)` to the n-th request (from 0). */
async function startHook(status: (n: number) => number = () => 204) {
  const deliveries: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = deliveries.length;
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status(n)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
type Hook = Awaited<ReturnType<typeof startHook>>;

describe('callbacks: guarded, recorded on the job, signed with a timestamp', () => {
  let tmp: string;
  let stack: Stack | undefined;
  let hook: Hook | undefined;
  let n = 0;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'callback-guard-'));
  });
  afterEach(async () => {
    await stack?.close();
    await hook?.close();
    stack = undefined;
    hook = undefined;
  });
  afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

  const start = (options: StackOptions) => startStack(options);
  const uploadWithCallback = async (s: Stack, callbackUrl: string) => {
    const file = path.join(tmp, `cb-${++n}.mp4`);
    await writeVideoFile(file, MB, n);
    return s.upload(file, { callback_url: callbackUrl });
  };
  const getJob = async (s: Stack, id: string): Promise<PublicJob> => {
    const res = await fetch(`${s.relay.url}/api/jobs/${id}`, {
      headers: { Authorization: `Bearer ${s.relay.token}` },
    });
    const body = (await res.json()) as PublicJob;
    expectResponseMatchesSpec('GET', '/api/jobs/{id}', res.status, body);
    return body;
  };
  const callbackOf = (s: Stack, id: string, until: (c: JobCallback) => boolean, what: string) =>
    waitFor(
      async () => {
        const { callback } = await getJob(s, id);
        return callback && until(callback) ? callback : undefined;
      },
      { timeoutMs: 20_000, what },
    );
  const failedNotify = async (s: Stack, id: string) =>
    (await s.relay.queues.notify.getFailed()).filter((j) => (j.data as NotifyJobData).id === id);

  it('the README shows the receiver this test runs', async () => {
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`js\n// rawBody: the request body exactly as received`);
    expect(readme).toContain(README_RECEIVER);
  });

  it('by default refuses a loopback callback_url for good: not called, no retry, said in plain words', async () => {
    hook = await startHook();
    stack = await start({ worker: { callbackAllowPrivate: false, callbackSecret: SECRET } });
    const id = await uploadWithCallback(stack, hook.url);
    // Accepted at creation (the address is judged when the callback is sent): pending until then.
    expect((await getJob(stack, id)).callback).toEqual({
      state: 'pending',
      attempts: 0,
      last_error: null,
      delivered_at: null,
    });
    await stack.waitForState(id, ['ready']);
    const callback = await callbackOf(stack, id, (c) => c.state !== 'pending', 'the callback to be refused');
    expect(callback).toEqual({ state: 'refused', attempts: 1, last_error: REFUSED, delivered_at: null });
    // Permanent: one try, failed in BullMQ with the same words (bull-board shows no more).
    const failed = await waitFor(
      async () => {
        const found = await failedNotify(stack!, id);
        return found.length > 0 ? found : undefined;
      },
      { what: 'the notify job to fail' },
    );
    expect(failed.map((j) => [j.attemptsMade, j.failedReason])).toEqual([[1, REFUSED]]);
    expect(await stack.relay.queues.notify.getDelayedCount()).toBe(0);
    expect(hook.deliveries).toHaveLength(0);
  });

  it('gives the same words for an open and a closed port, so it cannot scan the relay network', async () => {
    hook = await startHook();
    const closed = await startHook();
    const closedUrl = closed.url;
    await closed.close();
    stack = await start({ worker: { callbackAllowPrivate: false } });
    const open = await uploadWithCallback(stack, hook.url);
    const shut = await uploadWithCallback(stack, closedUrl);
    const elsewhere = await uploadWithCallback(stack, 'http://169.254.169.254/latest/meta-data/');
    const seen: Array<[JobCallback, string | undefined]> = [];
    for (const id of [open, shut, elsewhere]) {
      await stack.waitForState(id, ['ready']);
      const callback = await callbackOf(stack, id, (c) => c.state === 'refused', `${id} refused`);
      const failed = await waitFor(async () => (await failedNotify(stack!, id))[0], { what: 'failed' });
      seen.push([callback, failed.failedReason]);
    }
    const expected = [{ state: 'refused', attempts: 1, last_error: REFUSED, delivered_at: null }, REFUSED];
    expect(seen).toEqual([expected, expected, expected]);
    const text = JSON.stringify(seen);
    for (const detail of [String(hook.port), new URL(closedUrl).port, '127.0.0.1', '169.254', 'ECONN']) {
      expect(text).not.toContain(detail);
    }
    expect(hook.deliveries).toHaveLength(0);
  });

  it('refuses the IPv4-translated spelling of loopback ([::ffff:0:7f00:1]) for good, as any loopback', async () => {
    hook = await startHook();
    stack = await start({ worker: { callbackAllowPrivate: false } });
    const id = await uploadWithCallback(stack, `http://[::ffff:0:7f00:1]:${hook.port}/hook`);
    await stack.waitForState(id, ['ready']);
    const callback = await callbackOf(stack, id, (c) => c.state !== 'pending', 'the callback to be refused');
    expect(callback).toEqual({ state: 'refused', attempts: 1, last_error: REFUSED, delivered_at: null });
    const failed = await waitFor(async () => (await failedNotify(stack!, id))[0], { what: 'failed' });
    expect([failed.attemptsMade, failed.failedReason]).toEqual([1, REFUSED]);
    expect(hook.deliveries).toHaveLength(0);
  });

  it('delivers to a host listed in CALLBACK_ALLOWED_HOSTS (host:port), and still refuses its other ports', async () => {
    hook = await startHook();
    const other = await startHook();
    try {
      stack = await start({
        worker: {
          callbackAllowPrivate: false,
          callbackAllowedHosts: [parseHostEntry(`hooks.internal:${hook.port}`)!],
        },
        resolve: async () => [{ address: '127.0.0.1', family: 4 }],
      });
      const allowed = await uploadWithCallback(stack, `http://hooks.internal:${hook.port}/hook`);
      const otherPort = await uploadWithCallback(stack, `http://hooks.internal:${other.port}/hook`);
      const delivered = await callbackOf(stack, allowed, (c) => c.state === 'delivered', 'delivery');
      expect(delivered).toMatchObject({ state: 'delivered', attempts: 1, last_error: null });
      expect(Date.parse(delivered.delivered_at!)).not.toBeNaN();
      expect(await callbackOf(stack, otherPort, (c) => c.state !== 'pending', 'refusal')).toMatchObject({
        state: 'refused',
      });
      expect(hook.deliveries.map((d) => JSON.parse(d.body.toString()).id)).toEqual([allowed]);
      expect(other.deliveries).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('records each failed try while retrying, then the delivery; a last failed try is "failed"', async () => {
    hook = await startHook((i) => (i < 2 ? 503 : 200));
    stack = await start({});
    const id = await uploadWithCallback(stack, hook.url);
    const retrying = await callbackOf(stack, id, (c) => c.attempts >= 1, 'a first failed try');
    expect(retrying).toEqual({
      state: 'pending',
      attempts: 1,
      last_error: 'the callback endpoint answered 503',
      delivered_at: null,
    });
    const done = await callbackOf(stack, id, (c) => c.state === 'delivered', 'the third try to deliver');
    expect(done).toMatchObject({ state: 'delivered', attempts: 3, last_error: null });
    expect(hook.deliveries).toHaveLength(3);

    // A delivery whose tries are used up ends "failed", with the same words in BullMQ.
    const job = await getJob(stack, id);
    const closed = await startHook();
    const closedUrl = closed.url;
    await closed.close();
    await stack.relay.queues.notify.add('notify', { id, url: closedUrl, job }, { attempts: 1 });
    const failed = await callbackOf(stack, id, (c) => c.state === 'failed', 'the callback to fail');
    expect(failed).toEqual({
      state: 'failed',
      attempts: 1,
      last_error: 'the callback endpoint could not be reached',
      delivered_at: null,
    });
    const reasons = (await failedNotify(stack, id)).map((j) => j.failedReason);
    expect(reasons).toEqual(['the callback endpoint could not be reached']);
  });

  it('signs with X-Relay-Signature-256 over "<t>.<body>", t from the worker clock, as the README checks it', async () => {
    hook = await startHook();
    // The worker's clock runs 10 minutes behind: the timestamp must be the worker's, not the wall's.
    const skew = 10 * 60_000;
    stack = await start({ worker: { callbackSecret: SECRET }, now: () => Date.now() - skew });
    const before = Math.floor((Date.now() - skew) / 1_000);
    const id = await uploadWithCallback(stack, hook.url);
    await stack.waitForState(id, ['ready']);
    const delivery = await waitFor(() => hook!.deliveries[0], { timeoutMs: 20_000, what: 'the callback' });
    const after = Math.floor((Date.now() - skew) / 1_000);
    const { headers, body } = delivery;
    expectCallbackMatchesSpec(headers, JSON.parse(body.toString()));

    const t = Number(headers['x-relay-timestamp']);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(headers['x-relay-signature-256']).toMatch(new RegExp(`^t=${t},v1=[0-9a-f]{64}$`));
    // The untimestamped signature could be replayed for ever: not sent unless asked for.
    expect(headers['x-relay-signature']).toBeUndefined();

    const at = t * 1_000;
    expect(verifyRelayCallback(SECRET, headers, body, at)).toBe(true);
    expect(verifyRelayCallback(SECRET, headers, body.toString(), at + 299_000)).toBe(true);
    // Now, by the wall clock, it is 10 minutes old: the receiver takes it for a replay.
    expect(verifyRelayCallback(SECRET, headers, body)).toBe(false);
    expect(verifyRelayCallback(SECRET, headers, body, at + 301_000)).toBe(false);
    expect(verifyRelayCallback(SECRET, headers, body, at - 301_000)).toBe(false);
    // One byte changed, anywhere: refused.
    const altered = Buffer.from(body);
    const i = altered.length - 2;
    altered.writeUInt8(altered.readUInt8(i) ^ 1, i);
    expect(verifyRelayCallback(SECRET, headers, altered, at)).toBe(false);
    const later = String(headers['x-relay-signature-256']).replace(`t=${t}`, `t=${t + 1}`);
    expect(verifyRelayCallback(SECRET, { ...headers, 'x-relay-signature-256': later }, body, at)).toBe(false);
    expect(verifyRelayCallback('another-secret', headers, body, at)).toBe(false);
    expect(verifyRelayCallback(SECRET, { ...headers, 'x-relay-signature-256': undefined }, body, at)).toBe(
      false,
    );
  });

  it('adds the deprecated X-Relay-Signature (no timestamp) only with CALLBACK_LEGACY_SIGNATURE', async () => {
    hook = await startHook();
    stack = await start({ worker: { callbackSecret: SECRET, callbackLegacySignature: true } });
    const id = await uploadWithCallback(stack, hook.url);
    await stack.waitForState(id, ['ready']);
    const { headers, body } = await waitFor(() => hook!.deliveries[0], {
      timeoutMs: 20_000,
      what: 'the callback',
    });
    const old = `sha256=${crypto.createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(headers['x-relay-signature']).toBe(old);
    // The timestamped one is there as always, and is what the README's receiver checks.
    expect(verifyRelayCallback(SECRET, headers, body, Number(headers['x-relay-timestamp']) * 1_000)).toBe(
      true,
    );
  });
});
