import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRedis } from '@gtr/core';
import { deleteKeys, testPrefix, testRedisUrl } from '@gtr/core/testing';
import { seededRandom } from './support/cluster.js';
import { type AppProcess, startRelayProcess } from './support/processes.js';

/*
 * Whatever a client sends, the relay answers with its documented 4xx as JSON, keeps serving, and
 * writes nothing outside its upload dir. First a corpus of known-bad requests, then a seeded fuzz.
 */
const TOKEN = 'bad-input-token-0123456789abcdef';
const AUTH = `Bearer ${TOKEN}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: { error?: { code?: string; message?: string } } | null;
}

/** Raw HTTP, so paths and headers reach the relay exactly as written (fetch would normalize them). */
function send(
  base: string,
  { method, path: p, headers = {}, body }: Sent,
  agent?: http.Agent,
): Promise<Answer> {
  const url = new URL(base);
  // Node sends a GET/HEAD/DELETE body without framing unless told its length.
  const length = body && body.length > 0 ? { 'Content-Length': String(Buffer.byteLength(body)) } : {};
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: p,
        headers: { ...length, ...headers },
        ...(agent ? { agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Answer['json'] = null;
          try {
            json = JSON.parse(text) as Answer['json'];
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${p}: no answer in 15 s`)));
    req.end(body);
  });
}

/** Every file and directory under `dir` (with sizes), minus the upload dir's contents. */
async function tree(dir: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (full.startsWith(`${skip}${path.sep}`)) continue;
    const stat = await fs.stat(full);
    out.push(`${path.relative(dir, full)}${entry.isDirectory() ? '/' : ` ${stat.size}`}`);
  }
  return out.sort();
}

describe('bad input against the relay', () => {
  let tmp: string;
  let dataDir: string;
  let uploadDir: string;
  let relay: AppProcess & { url: string };
  let before: string[];
  const prefix = testPrefix();
  const redis = createRedis(testRedisUrl());

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bad-input-'));
    dataDir = path.join(tmp, 'data');
    uploadDir = path.join(dataDir, 'uploads');
    await fs.mkdir(uploadDir, { recursive: true });
    // Bait for path traversal: an upload-shaped pair right above the upload dir, and one further up.
    for (const dir of [dataDir, tmp]) {
      await fs.writeFile(path.join(dir, 'victim'), 'precious');
      await fs.writeFile(
        path.join(dir, 'victim.json'),
        JSON.stringify({ id: 'victim', size: 100, offset: 0, metadata: { filename: 'v.mp4' } }),
      );
    }
    relay = await startRelayProcess({
      DATA_DIR: dataDir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      RELAY_API_TOKENS: TOKEN,
      MAX_UPLOAD_SIZE: String(50 * 1024 * 1024),
      // No worker runs here, and the import below must not depend on the network.
      IMPORT_PREFLIGHT: 'false',
    });
    before = await tree(tmp, uploadDir);
  });

  afterAll(async () => {
    await relay?.stop('SIGTERM');
    await deleteKeys(redis, prefix);
    await redis.quit();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const tus = (extra: Record<string, string> = {}) => ({
    Authorization: AUTH,
    'Tus-Resumable': '1.0.0',
    ...extra,
  });
  const meta = `filename ${b64('clip.mp4')}`;

  /** A fresh upload of `length` bytes, `sent` of them already stored; returns its path. */
  async function created(length = 100, sent = 0): Promise<string> {
    const res = await send(relay.url, {
      method: 'POST',
      path: '/files/',
      headers: tus({
        'Upload-Length': String(length),
        'Upload-Metadata': meta,
        ...(sent ? { 'Content-Type': 'application/offset+octet-stream' } : {}),
      }),
      ...(sent ? { body: Buffer.alloc(sent, 7) } : {}),
    });
    expect(res.status).toBe(201);
    return new URL(String(res.headers.location)).pathname;
  }

  const expectError = (res: Answer, status: number, code?: string) => {
    expect({ status: res.status, json: res.headers['content-type'] }).toEqual({
      status,
      json: expect.stringMatching(/application\/json/),
    });
    expect(res.json?.error).toEqual(
      expect.objectContaining({ code: code ?? expect.any(String), message: expect.any(String) }),
    );
  };

  describe('TUS creation', () => {
    it.each([
      ['a negative Upload-Length', { 'Upload-Length': '-1' }, 400],
      ['no Upload-Length at all', {}, 400],
      ['a non-numeric Upload-Length', { 'Upload-Length': 'ten' }, 400],
      ['an Upload-Length in exponent form', { 'Upload-Length': '1e3' }, 400],
      ['an Upload-Length beyond 2^53', { 'Upload-Length': '99999999999999999999' }, 400],
      ['an Upload-Length over MAX_UPLOAD_SIZE', { 'Upload-Length': String(51 * 1024 * 1024) }, 413],
      [
        'both Upload-Length and Upload-Defer-Length',
        { 'Upload-Length': '5', 'Upload-Defer-Length': '1' },
        400,
      ],
      ['an Upload-Defer-Length other than 1', { 'Upload-Defer-Length': '2' }, 400],
    ])('refuses %s', async (_what, headers, status) => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({ 'Upload-Metadata': meta, ...headers }),
      });
      expectError(res, status);
    });

    it.each([
      ['Tus-Resumable missing', { Authorization: AUTH, 'Upload-Length': '5' }],
      ['Tus-Resumable 0.2.2', { ...tus({ 'Tus-Resumable': '0.2.2' }), 'Upload-Length': '5' }],
    ])('refuses %s with 412', async (_what, headers) => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: { ...headers, 'Upload-Metadata': meta },
      });
      expectError(res, 412, 'TUS_VERSION_MISMATCH');
    });

    it.each([
      ['metadata that is not base64', 'filename !!not*base64!!'],
      ['a metadata key with no value separator garbage', 'filename  two  spaces'],
      ['duplicate metadata keys', `filename ${b64('a.mp4')},filename ${b64('b.mp4')}`],
      ['an empty metadata key', ` ${b64('a.mp4')}`],
      ['a metadata key with a comma only', ','],
    ])('refuses %s with 400', async (_what, metadata) => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({ 'Upload-Length': '5', 'Upload-Metadata': metadata }),
      });
      expectError(res, 400);
    });

    it('refuses 1 MB of metadata with 431, as JSON, and keeps serving', async () => {
      const big = `filename ${b64('a.mp4')},description ${b64('x'.repeat(768 * 1024))}`;
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({ 'Upload-Length': '5', 'Upload-Metadata': big }),
      });
      expectError(res, 431);
      expect((await send(relay.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
    });

    it('refuses metadata under the header limit but over the relay’s cap with 431', async () => {
      const big = `filename ${b64('a.mp4')},description ${b64('x'.repeat(9_000))}`;
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({ 'Upload-Length': '5', 'Upload-Metadata': big }),
      });
      expectError(res, 431, 'METADATA_TOO_LARGE');
    });

    it('takes a markup name as data: stored as written, only ever served as JSON', async () => {
      const name = '<img src=x onerror=alert(1)><script>alert("x")</script>';
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({ 'Upload-Length': '5', 'Upload-Metadata': `${meta},name ${b64(name)}` }),
      });
      expect(res.status).toBe(201);
      const id = String(res.headers.location).split('/').pop()!;
      const job = await send(relay.url, {
        method: 'GET',
        path: `/api/jobs/${id}`,
        headers: { Authorization: AUTH },
      });
      expect(job.headers['content-type']).toMatch(/^application\/json/);
      expect(job.headers['x-content-type-options']).toBe('nosniff');
      expect((job.json as { name?: string }).name).toBe(name);
    });
  });

  describe('TUS PATCH and HEAD', () => {
    it('refuses a wrong Upload-Offset with 409 and keeps the bytes as they were', async () => {
      const p = await created(100, 10);
      const res = await send(relay.url, {
        method: 'PATCH',
        path: p,
        headers: tus({ 'Upload-Offset': '5', 'Content-Type': 'application/offset+octet-stream' }),
        body: Buffer.alloc(10),
      });
      expectError(res, 409, 'OFFSET_CONFLICT');
      const head = await send(relay.url, { method: 'HEAD', path: p, headers: tus() });
      expect(head.headers['upload-offset']).toBe('10');
    });

    it.each([
      [
        'a non-numeric Upload-Offset',
        { 'Upload-Offset': 'x', 'Content-Type': 'application/offset+octet-stream' },
        400,
      ],
      [
        'a negative Upload-Offset',
        { 'Upload-Offset': '-1', 'Content-Type': 'application/offset+octet-stream' },
        400,
      ],
      ['no Upload-Offset', { 'Content-Type': 'application/offset+octet-stream' }, 400],
      ['a JSON Content-Type', { 'Upload-Offset': '0', 'Content-Type': 'application/json' }, 415],
      ['no Content-Type', { 'Upload-Offset': '0' }, 415],
      [
        'Tus-Resumable 2.0.0',
        { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Tus-Resumable': '2.0.0' },
        412,
      ],
    ])('refuses %s', async (_what, headers, status) => {
      const p = await created(100);
      const res = await send(relay.url, {
        method: 'PATCH',
        path: p,
        headers: tus(headers),
        body: Buffer.alloc(10),
      });
      expectError(res, status);
    });

    it('refuses a body longer than declared, keeping only what fits (or nothing)', async () => {
      const p = await created(20);
      const res = await send(relay.url, {
        method: 'PATCH',
        path: p,
        headers: tus({ 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }),
        body: Buffer.alloc(1_000, 1),
      });
      expectError(res, 413);
      const head = await send(relay.url, { method: 'HEAD', path: p, headers: tus() });
      expect(Number(head.headers['upload-offset'])).toBeLessThanOrEqual(20);
      const id = p.split('/').pop()!;
      expect((await fs.stat(path.join(uploadDir, id))).size).toBeLessThanOrEqual(20);
      const job = await send(relay.url, {
        method: 'GET',
        path: `/api/jobs/${id}`,
        headers: { Authorization: AUTH },
      });
      expect((job.json as { state?: string }).state).toBe('receiving');
    });

    it('refuses a creation body longer than Upload-Length', async () => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/files/',
        headers: tus({
          'Upload-Length': '10',
          'Upload-Metadata': meta,
          'Content-Type': 'application/offset+octet-stream',
        }),
        body: Buffer.alloc(500, 3),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expectError(res, res.status);
      expect(res.status).toBe(413);
    });

    it.each([
      '/files/..%2Fvictim',
      '/files/..%2F..%2Fvictim',
      '/files/%2E%2E%2Fvictim',
      '/files/..%5Cvictim',
      '/files/..',
      '/files/%2e%2e',
      '/files/.',
      '/files/abc%00def',
      '/files/%00',
      '/files/%E0%A4%A',
      '/files/victim%00.json',
    ])('finds nothing at %s, for every method', async (p) => {
      for (const method of ['HEAD', 'PATCH', 'DELETE', 'GET', 'POST']) {
        const res = await send(relay.url, {
          method,
          path: p,
          headers: tus({
            'Upload-Offset': '0',
            'Content-Type': 'application/offset+octet-stream',
            'Upload-Length': '3',
          }),
          body: method === 'PATCH' ? Buffer.from('abc') : '',
        });
        expect([method, p, res.status >= 400 && res.status < 500]).toEqual([method, p, true]);
        if (method !== 'HEAD') expect(res.json?.error?.code).toEqual(expect.any(String));
      }
    });
  });

  describe('the jobs and imports API', () => {
    it.each([
      ['GET', '/api/jobs/nope'],
      ['GET', '/api/jobs/..%2F..%2Fetc%2Fpasswd'],
      ['GET', '/api/jobs/%00'],
      ['POST', '/api/jobs/nope/retry'],
      ['DELETE', '/api/jobs/nope'],
      ['DELETE', `/api/jobs/${'a'.repeat(5_000)}`],
    ])('answers %s %s with 404', async (method, p) => {
      const res = await send(relay.url, { method, path: p, headers: { Authorization: AUTH } });
      expectError(res, 404, 'JOB_NOT_FOUND');
    });

    it.each([
      ['state=bogus', 400],
      ['limit=-5', 400],
      ['limit=abc', 400],
      ['cursor=%27%3B--', 400],
      ['state=ready&state=failed', 400],
    ])('refuses the list query %s', async (query, status) => {
      const res = await send(relay.url, {
        method: 'GET',
        path: `/api/jobs?${query}`,
        headers: { Authorization: AUTH },
      });
      expectError(res, status);
    });

    it.each([
      ['invalid JSON', '{"origin_url": ', 400, 'INVALID_JSON'],
      ['a JSON string', '"https://example.com/a.mp4"', 400, null],
      ['a JSON array', '[1,2,3]', 400, null],
      ['null', 'null', 400, null],
      ['a URL that is not http(s)', JSON.stringify({ origin_url: 'file:///etc/passwd' }), 400, null],
      ['a manifest URL', JSON.stringify({ origin_url: 'https://cdn.example.com/master.m3u8' }), 400, null],
      ['a prototype-polluting body', '{"__proto__": {"admin": true}, "origin_url": 5}', 400, null],
    ])('refuses an import with %s', async (_what, body, status, code) => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/api/imports',
        headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
        body,
      });
      expectError(res, status, code ?? undefined);
    });

    it('refuses JSON over 16 MB with 413 before reading it', async () => {
      const body = Buffer.alloc(17 * 1024 * 1024, 0x20);
      const res = await send(relay.url, {
        method: 'POST',
        path: '/api/imports/batch',
        headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
        body,
      });
      expectError(res, 413, 'BODY_TOO_LARGE');
    });

    it('refuses a batch that is not {"items": […]}', async () => {
      const res = await send(relay.url, {
        method: 'POST',
        path: '/api/imports/batch',
        headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
        body: '{"items": {"0": "x"}}',
      });
      expectError(res, 400, 'INVALID_BATCH');
    });

    it('takes a markup name on an import as data', async () => {
      const name = '"><svg onload=alert(1)>';
      const res = await send(relay.url, {
        method: 'POST',
        path: '/api/imports',
        headers: { Authorization: AUTH, 'Content-Type': 'application/json' },
        body: JSON.stringify({ origin_url: 'https://videos.example.com/a.mp4', name }),
      });
      expect(res.status).toBe(202);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect((res.json as { name?: string }).name).toBe(name);
    });
  });

  it('survives a seeded fuzz of a few thousand requests, then is alive and ready', async () => {
    const random = seededRandom(Number(process.env.FUZZ_SEED ?? 1_234_567));
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const ids = [await created(1_000, 100), await created(50)].map((p) => p.split('/').pop()!);
    const junk = () => {
      const alphabet = 'aZ09-_.~%/\\:;,= <>"\'`{}[]()!$&*+?#@|^\u00e9\u4e2d\ud83d\ude00';
      return Array.from({ length: Math.floor(random() * 40) }, () => pick([...alphabet])).join('');
    };
    const segment = () =>
      pick([
        () => pick(ids),
        () => encodeURIComponent(junk()),
        () => '..%2F..%2Fvictim',
        () => '%00',
        () => 'a'.repeat(Math.floor(random() * 3_000)),
        () => '%',
        () => '%ZZ',
        () => pick(ids) + pick(['%2F..', '/..', '/', '?x=1', '#frag']),
      ])();
    const paths = [
      () => '/files/',
      () => `/files/${segment()}`,
      () => `/api/jobs/${segment()}`,
      () => `/api/jobs/${segment()}/retry`,
      () => `/api/jobs?${pick(['state', 'kind', 'limit', 'cursor', 'x'])}=${encodeURIComponent(junk())}`,
      () => '/api/imports',
      () => '/api/imports/batch',
      () => `/api/${segment()}`,
      () => `/dashboard/assets/${segment()}`,
      () => `/admin/queues/api/queues?${encodeURIComponent(junk())}`,
      () => '/metrics',
      () => `/${segment()}`,
    ];
    const numbers = () =>
      pick(['0', '1', '-1', '100', '1000', '1e3', '0x10', ' 5', '', '18446744073709551616', 'NaN', junk()]);
    const headers = (): Record<string, string> => {
      const h: Record<string, string> = {};
      const put = (name: string, value: string) => {
        // Node refuses to send header values with control characters or non-Latin-1; so would a proxy.
        if (/^[\t\x20-\x7e]*$/.test(value)) h[name] = value;
      };
      if (random() < 0.85)
        put(
          'Authorization',
          random() < 0.9 ? AUTH : pick(['Bearer', 'Bearer x', `Basic ${b64(`u:${TOKEN}`)}`, junk()]),
        );
      if (random() < 0.7) put('Tus-Resumable', random() < 0.8 ? '1.0.0' : junk());
      if (random() < 0.5) put('Upload-Length', numbers());
      if (random() < 0.5) put('Upload-Offset', numbers());
      if (random() < 0.2) put('Upload-Defer-Length', numbers());
      if (random() < 0.5) {
        put(
          'Upload-Metadata',
          pick([
            () => meta,
            () => `filename ${b64(junk())}`,
            () => `${junk()} ${b64(junk())}`,
            () => junk(),
            () => `filename ${b64('a.mp4')},priority ${b64(junk())},callback_url ${b64(junk())}`,
          ])(),
        );
      }
      if (random() < 0.6) {
        put(
          'Content-Type',
          pick(['application/offset+octet-stream', 'application/json', 'text/plain', junk()]),
        );
      }
      if (random() < 0.1) put('X-HTTP-Method-Override', pick(['DELETE', 'PATCH', junk()]));
      if (random() < 0.1) put('Origin', pick(['https://evil.example', junk()]));
      return h;
    };
    const body = (): Buffer | string => {
      const n = random();
      if (n < 0.3) return '';
      if (n < 0.5)
        return Buffer.from(
          Array.from({ length: Math.floor(random() * 4_000) }, () => Math.floor(random() * 256)),
        );
      if (n < 0.7)
        return JSON.stringify({ origin_url: pick(['https://a.example/x.mp4', junk()]), name: junk() });
      if (n < 0.8)
        return JSON.stringify({
          items: Array.from({ length: Math.floor(random() * 5) }, () => ({ origin_url: junk() })),
        });
      return junk();
    };
    const methods = ['GET', 'POST', 'PATCH', 'HEAD', 'DELETE', 'OPTIONS', 'PUT'];

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const deadline = Date.now() + 20_000;
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < 3_000 && Date.now() < deadline) {
        sent++;
        const request: Sent = {
          method: pick(methods),
          path: pick(paths)(),
          headers: headers(),
          body: body(),
        };
        let res: Answer;
        try {
          res = await send(relay.url, request, agent);
        } catch (error) {
          problems.push(`${request.method} ${request.path}: ${String(error)}`);
          continue;
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const what = `${request.method} ${request.path.slice(0, 120)} ${JSON.stringify(request.headers).slice(0, 300)} → ${res.status} ${res.text.slice(0, 200)}`;
        if (res.status >= 500) problems.push(what);
        else if (res.status >= 400 && request.method !== 'HEAD' && !res.json?.error?.code)
          problems.push(`not JSON: ${what}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    agent.destroy();
    console.log(`fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThan(500);
    expect(relay.child.exitCode).toBeNull();
    // Nothing the relay did not expect: no error-level log line, no unhandled rejection.
    expect(
      relay
        .output()
        .split('\n')
        .filter((l) => /"level":(50|60)|Unhandled|TypeError/.test(l)),
    ).toEqual([]);
    const ready = await send(relay.url, { method: 'GET', path: '/readyz' });
    expect([ready.status, ready.json]).toEqual([
      200,
      { ready: true, checks: { redis: 'ok', upload_dir: 'ok' } },
    ]);
  }, 60_000);

  it('wrote nothing outside the upload dir and removed nothing there', async () => {
    expect(await tree(tmp, uploadDir)).toEqual(before);
    expect(await fs.readFile(path.join(dataDir, 'victim'), 'utf8')).toBe('precious');
    for (const name of await fs.readdir(uploadDir)) {
      expect(name).toMatch(/^[0-9a-f]{32}(\.json|\.relay\.json)?$/);
    }
  });
});
