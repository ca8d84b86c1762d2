import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { configSchema, type PublicJob } from '@gtr/core';
import { waitFor, writeVideoFile } from '@gtr/core/testing';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import { Validator } from '@seriousme/openapi-schema-validator';
import request from 'supertest';
import {
  checkedResponses,
  compileEverySchema,
  expectCallbackMatchesSpec,
  expectResponseMatchesSpec,
  expectSpec,
  HTTP_METHODS,
  OPENAPI_FILE,
  spec,
} from './support/openapi.js';
import { type Origin, sendFile, startOrigin } from './support/origin.js';
import { type Stack, startStack } from './support/stack.js';

const MB = 1024 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');

type Layer = {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
};

/** `METHOD template` of every route the relay's Express app declares (routers mounted at `/` included). */
function declaredRoutes(t: TestRelay): string[] {
  const out = new Set<string>();
  const walk = (layers: Layer[]) => {
    for (const layer of layers) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          const template = p.replace(/:(\w+)/g, '{$1}');
          for (const method of Object.keys(layer.route.methods))
            out.add(`${method.toUpperCase()} ${template}`);
        }
      } else if (layer.handle?.stack && layer.slash) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((t.relay.app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...out];
}

const documented = (): string[] =>
  Object.entries(spec.paths).flatMap(([template, item]) =>
    HTTP_METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${template}`),
  );

describe('docs/openapi.json', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ imports: { preflight: false, allowPrivate: false } });
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.1 document, and every schema in it compiles under strict Ajv', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(spec) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect([result.valid, validator.version]).toEqual([true, '3.1']);
    expect(compileEverySchema().length).toBeGreaterThan(40);
  });

  it('documents every route under /api/ the relay declares, and none it does not', () => {
    const routes = declaredRoutes(t);
    const api = routes.filter((r) => r.split(' ')[1]!.startsWith('/api/'));
    expect(api.length).toBeGreaterThanOrEqual(8);
    const docApi = documented().filter((r) => r.split(' ')[1]!.startsWith('/api/'));
    expect(api.filter((r) => !docApi.includes(r))).toEqual([]);
    expect(docApi.filter((r) => !api.includes(r))).toEqual([]);
    for (const route of ['GET /healthz', 'GET /readyz', 'GET /metrics']) {
      expect([route, routes.includes(route), documented().includes(route)]).toEqual([route, true, true]);
    }
    // TUS is one app.all() route handed to @tus/server: the document spells out what it answers.
    expect(routes).toEqual(
      expect.arrayContaining([
        'OPTIONS /files',
        'POST /files',
        'OPTIONS /files/{*splat}',
        'HEAD /files/{*splat}',
        'GET /files/{*splat}',
        'PATCH /files/{*splat}',
        'DELETE /files/{*splat}',
      ]),
    );
    expect(documented()).toEqual(
      expect.arrayContaining([
        'OPTIONS /files/',
        'POST /files/',
        'OPTIONS /files/{id}',
        'HEAD /files/{id}',
        'GET /files/{id}',
        'PATCH /files/{id}',
        'DELETE /files/{id}',
      ]),
    );
  });

  it('is what GET /api/openapi.json serves, to a token holder only', async () => {
    const res = expectSpec(
      await request(t.relay.app).get('/api/openapi.json').set('Authorization', `Bearer ${t.token}`),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual(JSON.parse(await fs.readFile(OPENAPI_FILE, 'utf8')));
    const basic = await request(t.relay.app)
      .get('/api/openapi.json')
      .set('Authorization', `Basic ${b64(`ops:${t.token}`)}`);
    expect(basic.status).toBe(200);
    const anonymous = expectSpec(await request(t.relay.app).get('/api/openapi.json'));
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('is named, with every path it has, in docs/contract.md, which also names every environment variable', async () => {
    const contract = await fs.readFile(path.join(path.dirname(OPENAPI_FILE), 'contract.md'), 'utf8');
    const missing = [
      ...Object.keys(configSchema.shape).map((name) => `\`${name}\``),
      ...Object.keys(spec.paths).filter((p) => !p.startsWith('/files/{')),
      'openapi.json',
      'errors.md',
    ].filter((needle) => !contract.includes(needle));
    expect(missing).toEqual([]);
  });

  describe('the response check', () => {
    const job: PublicJob = {
      id: 'abc123',
      kind: 'upload',
      state: 'queued',
      name: 'Talk',
      filename: 'talk.mp4',
      size: 10,
      bytes_received: 10,
      bytes_forwarded: 0,
      origin_url: null,
      video: null,
      attempts: 0,
      error: null,
      owner: 'tool-a',
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
      finished_at: null,
      callback: null,
      sha256: null,
      batch: null,
    };
    const check =
      (body: unknown, status = 200) =>
      () =>
        expectResponseMatchesSpec('GET', '/api/jobs/{id}', status, body);

    it('passes a job as documented', () => {
      expect(check(job)).not.toThrow();
      expect(
        check({
          ...job,
          video: { id: 1, status: 'ready', error: null, hls_url: 'https://x/master.m3u8', slug: 's' },
        }),
      ).not.toThrow();
    });

    it.each([
      [
        'a field the document does not know',
        { ...job, progress: {} },
        /must NOT have additional properties.*progress/,
      ],
      [
        'a missing field',
        (({ finished_at: _, ...rest }) => rest)(job),
        /must have required property 'finished_at'/,
      ],
      [
        'a state outside the enum',
        { ...job, state: 'done' },
        /body\/state must be equal to one of the allowed values/,
      ],
      ['null where it may not be', { ...job, name: null }, /body\/name must be string/],
      [
        'a video status outside the enum',
        { ...job, video: { id: 1, status: 'gone', error: null, hls_url: null, slug: null } },
        /body\/video/,
      ],
      [
        'a date that is not a date',
        { ...job, created_at: 'yesterday' },
        /body\/created_at must match format "date-time"/,
      ],
    ])('fails %s, saying what differs', (_what, body, message) => {
      expect(check(body)).toThrow(message);
    });

    it('fails a status the operation does not list, and an error body of the wrong shape', () => {
      expect(check({ error: { code: 'X', message: 'x' } }, 418)).toThrow(
        /GET \/api\/jobs\/\{id\} → 418 is not documented/,
      );
      expect(check({ error: 'JOB_NOT_FOUND' }, 404)).toThrow(/body\/error must be object/);
      expect(check({ error: { code: 'JOB_NOT_FOUND', message: 'x' } }, 404)).not.toThrow();
      expect(() => expectResponseMatchesSpec('PUT', '/api/jobs/{id}', 200, job)).toThrow(/not documented/);
    });
  });
});

describe('a running relay answers every documented operation as documented (emulator as Gcore)', () => {
  let tmp: string;
  let stack: Stack;
  let origin: Origin;
  let hook: http.Server;
  let hookUrl: string;
  const callbacks: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  let auth: Record<string, string>;
  const relay = () => request(stack.relay.url);
  const tus = { 'Tus-Resumable': '1.0.0' };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'openapi-e2e-'));
    await writeVideoFile(path.join(tmp, 'origin.mp4'), 300_000, 21);
    origin = await startOrigin(async (req, res, p) => {
      if (p !== '/origin.mp4') return void res.writeHead(404).end();
      await sendFile(req, res, path.join(tmp, 'origin.mp4'));
    });
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        callbacks.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    stack = await startStack({
      relay: { imports: { preflight: true, allowPrivate: true }, maxUploadSize: 50 * MB },
      worker: { importAllowPrivate: true, callbackSecret: 'callback-secret-for-tests' },
    });
    auth = { Authorization: `Bearer ${stack.relay.token}` };
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
    hook?.closeAllConnections();
    await new Promise((resolve) => (hook ? hook.close(resolve) : resolve(undefined)));
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const job = async (id: string) =>
    expectSpec(await relay().get(`/api/jobs/${id}`).set(auth)).body as PublicJob;
  const waitForJob = async (id: string, states: PublicJob['state'][]) => {
    await stack.waitForState(id, states);
    return job(id);
  };

  it('TUS: discovery, creation, resume, upload, conflicts and refusals', async () => {
    for (const p of ['/files/', `/files/${'0'.repeat(32)}`]) {
      const options = expectSpec(await relay().options(p));
      expect([options.status, options.headers['tus-max-size']]).toEqual([204, String(50 * MB)]);
    }
    const file = await fs.readFile(await writeVideo('tus.mp4', MB, 22));
    const created = expectSpec(
      await relay()
        .post('/files/')
        .set(auth)
        .set(tus)
        .set('Upload-Length', String(file.length))
        .set(
          'Upload-Metadata',
          `filename ${b64('tus.mp4')},name ${b64('Via TUS')},callback_url ${b64(hookUrl)}`,
        ),
    );
    expect(created.status).toBe(201);
    const url = new URL(created.headers.location!);
    const id = url.pathname.split('/').pop()!;
    expect((await job(id)).state).toBe('receiving');

    const half = file.length / 2;
    const first = expectSpec(
      await relay()
        .patch(url.pathname)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(file.subarray(0, half)),
    );
    expect([first.status, first.headers['upload-offset']]).toEqual([204, String(half)]);
    const head = expectSpec(await relay().head(url.pathname).set(auth).set(tus));
    expect([head.status, head.headers['upload-offset']]).toEqual([200, String(half)]);
    const conflict = expectSpec(
      await relay()
        .patch(url.pathname)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(file.subarray(0, 10)),
    );
    expect([conflict.status, conflict.body.error.code]).toEqual([409, 'OFFSET_CONFLICT']);
    const wrongType = expectSpec(
      await relay().patch(url.pathname).set(auth).set(tus).set('Upload-Offset', String(half)).send('text'),
    );
    expect([wrongType.status, wrongType.body.error.code]).toEqual([415, 'INVALID_CONTENT_TYPE']);
    const patchSummed = (checksum: string) =>
      relay()
        .patch(url.pathname)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', String(half))
        .set('Content-Type', 'application/offset+octet-stream')
        .set('Upload-Checksum', checksum)
        .send(file.subarray(half));
    const mismatch = expectSpec(await patchSummed(`sha1 ${Buffer.alloc(20).toString('base64')}`));
    expect([mismatch.status, mismatch.body.error.code]).toEqual([460, 'CHECKSUM_MISMATCH']);
    const unsupported = expectSpec(await patchSummed(`crc32 ${Buffer.alloc(4).toString('base64')}`));
    expect([unsupported.status, unsupported.body.error.code]).toEqual([
      400,
      'CHECKSUM_ALGORITHM_UNSUPPORTED',
    ]);
    const rest = expectSpec(
      await relay()
        .patch(url.pathname)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', String(half))
        .set('Content-Type', 'application/offset+octet-stream')
        .send(file.subarray(half)),
    );
    expect(rest.status).toBe(204);
    const finishedDelete = expectSpec(await relay().delete(url.pathname).set(auth).set(tus));
    expect(finishedDelete.status).toBe(400);

    // A download (GET) of a partial upload: finished, and never forwarded (no job of its own).
    const partial = expectSpec(
      await relay()
        .post('/files/')
        .set(auth)
        .set(tus)
        .set('Upload-Concat', 'partial')
        .set('Upload-Length', '1000')
        .set('Content-Type', 'application/offset+octet-stream')
        .send(file.subarray(0, 1000)),
    );
    expect(partial.status).toBe(201);
    const partialPath = new URL(partial.headers.location!).pathname;
    const download = (range?: string) => {
      const req = relay().get(partialPath).set(auth);
      return range ? req.set('Range', range) : req;
    };
    const whole = expectSpec(await download());
    expect([whole.status, whole.headers['content-length']]).toEqual([200, '1000']);
    const ranged = expectSpec(await download('bytes=100-199'));
    expect([ranged.status, ranged.headers['content-range']]).toEqual([206, 'bytes 100-199/1000']);
    const past = expectSpec(await download('bytes=1000-'));
    expect([past.status, past.body.error.code]).toEqual([416, 'RANGE_NOT_SATISFIABLE']);
    const unknown = expectSpec(
      await relay()
        .get(`/files/${'0'.repeat(32)}`)
        .set(auth),
    );
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);

    // creation-defer-length, then terminated before it is finished.
    const deferred = expectSpec(
      await relay()
        .post('/files')
        .set(auth)
        .set(tus)
        .set('Upload-Defer-Length', '1')
        .set('Upload-Metadata', `filename ${b64('later.mov')}`),
    );
    expect(deferred.status).toBe(201);
    const deferredPath = new URL(deferred.headers.location!).pathname;
    const terminated = expectSpec(await relay().delete(deferredPath).set(auth).set(tus));
    expect(terminated.status).toBe(204);
    expect(expectSpec(await relay().head(deferredPath).set(auth).set(tus)).status).toBe(404);
    const gone = expectSpec(
      await relay()
        .patch(deferredPath)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', '0')
        .set('Content-Type', 'application/offset+octet-stream')
        .send('x'),
    );
    expect([gone.status, gone.body.error.code]).toEqual([404, 'UPLOAD_NOT_FOUND']);
    expect(expectSpec(await relay().delete(deferredPath).set(auth).set(tus)).status).toBe(404);

    const create = (metadata: string, length = '10') =>
      relay()
        .post('/files/')
        .set(auth)
        .set(tus)
        .set('Upload-Length', length)
        .set('Upload-Metadata', metadata);
    const refusals: Array<[request.Test, number, string]> = [
      [create(`name ${b64('x')}`), 400, 'MISSING_FILENAME'],
      [create(`filename ${b64('a.mp4')},priority ${b64('abc')}`), 400, 'INVALID_FIELD'],
      [create(`filename ${b64('live.m3u8')}`), 415, 'UNSUPPORTED_FORMAT'],
      [create(`filename ${b64('big.mp4')}`, String(51 * MB)), 413, 'UPLOAD_TOO_LARGE'],
      [create(`filename ${b64('a.mp4')},description ${b64('x'.repeat(9000))}`), 431, 'METADATA_TOO_LARGE'],
      [relay().post('/files/').set(auth).set('Tus-Resumable', '0.2.2'), 412, 'TUS_VERSION_MISMATCH'],
      [relay().post('/files/').set(tus), 401, 'UNAUTHORIZED'],
      [relay().patch(url.pathname).set(tus), 401, 'UNAUTHORIZED'],
      [relay().delete(url.pathname).set(tus), 401, 'UNAUTHORIZED'],
      [relay().patch(url.pathname).set(auth).set('Tus-Resumable', '2.0.0'), 412, 'TUS_VERSION_MISMATCH'],
      [relay().delete(url.pathname).set(auth).set('Tus-Resumable', '2.0.0'), 412, 'TUS_VERSION_MISMATCH'],
    ];
    for (const [pending, status, code] of refusals) {
      const res = expectSpec(await pending);
      expect([res.status, res.body.error.code]).toEqual([status, code]);
    }
    for (const [pending, status] of [
      [relay().head(url.pathname).set(tus), 401],
      [relay().head(url.pathname).set(auth).set('Tus-Resumable', '2.0.0'), 412],
    ] as const) {
      expect(expectSpec(await pending).status).toBe(status);
    }

    // Forwarded to the emulator and processed: the job with its video, and the callback.
    const ready = await waitForJob(id, ['ready', 'failed']);
    expect(ready).toMatchObject({ state: 'ready', name: 'Via TUS', video: { status: 'ready' } });
    await waitFor(() => (callbacks.some((c) => JSON.parse(c.body).id === id) ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the callback',
    });
    const callback = callbacks.find((c) => JSON.parse(c.body).id === id)!;
    expectCallbackMatchesSpec(callback.headers, JSON.parse(callback.body));
    expect(callback.headers['x-relay-event']).toBe('job.ready');
    expect(() =>
      expectCallbackMatchesSpec(
        { ...callback.headers, 'x-relay-event': 'job.done' },
        JSON.parse(callback.body),
      ),
    ).toThrow(/X-Relay-Event/);

    // Jobs API on the finished job: no retry, no cancel without delete_video, then cancel with it.
    const retry = expectSpec(await relay().post(`/api/jobs/${id}/retry`).set(auth));
    expect([retry.status, retry.body.error.code]).toEqual([409, 'JOB_NOT_FAILED']);
    const keep = expectSpec(await relay().delete(`/api/jobs/${id}`).set(auth));
    expect([keep.status, keep.body.error.code]).toEqual([409, 'JOB_FINISHED']);
    const canceled = expectSpec(await relay().delete(`/api/jobs/${id}?delete_video=true`).set(auth));
    expect([canceled.status, canceled.body.state]).toEqual([202, 'canceled']);
  });

  it('TUS concatenation: partial and final uploads, their HEADs and refusals', async () => {
    const partial = async (body: Buffer, length = body.length) => {
      const res = expectSpec(
        await relay()
          .post('/files/')
          .set(auth)
          .set(tus)
          .set('Upload-Concat', 'partial')
          .set('Upload-Length', String(length))
          .set('Content-Type', 'application/offset+octet-stream')
          .send(body),
      );
      expect(res.status).toBe(201);
      return new URL(res.headers.location!).pathname;
    };
    const final = (paths: string[]) =>
      relay()
        .post('/files/')
        .set(auth)
        .set(tus)
        .set('Upload-Concat', `final;${paths.join(' ')}`)
        .set('Upload-Metadata', `filename ${b64('joined.mp4')}`);
    const video = await fs.readFile(await writeVideo('joined.mp4', 64 * 1024, 23));
    const parts = [await partial(video.subarray(0, 1000)), await partial(video.subarray(1000))];
    const partHead = expectSpec(await relay().head(parts[0]!).set(auth).set(tus));
    expect([partHead.status, partHead.headers['upload-concat']]).toEqual([200, 'partial']);
    const unfinished = await partial(video.subarray(0, 10), 100);

    const refusals: Array<[request.Test, number, string]> = [
      [relay().post('/files/').set(auth).set(tus).set('Upload-Concat', 'final;'), 400, 'CONCAT_INVALID'],
      [final([parts[0]!, unfinished]), 400, 'CONCAT_PARTIAL_UNFINISHED'],
      [final([parts[0]!, '/files/0123456789abcdef']), 404, 'UPLOAD_NOT_FOUND'],
      [
        final(parts).set('Content-Type', 'application/offset+octet-stream').send('x'),
        403,
        'CONCAT_FINAL_IMMUTABLE',
      ],
    ];
    for (const [pending, status, code] of refusals) {
      const res = expectSpec(await pending);
      expect([res.status, res.body.error.code]).toEqual([status, code]);
    }

    const created = expectSpec(await final(parts));
    expect(created.status).toBe(201);
    const finalPath = new URL(created.headers.location!).pathname;
    const head = expectSpec(await relay().head(finalPath).set(auth).set(tus));
    expect([head.status, head.headers['upload-offset'], head.headers['upload-length']]).toEqual([
      200,
      String(video.length),
      String(video.length),
    ]);
    expect(head.headers['upload-concat']).toMatch(
      /^final;http:\/\/\S+\/files\/\w+ http:\/\/\S+\/files\/\w+$/,
    );
    const patch = expectSpec(
      await relay()
        .patch(finalPath)
        .set(auth)
        .set(tus)
        .set('Upload-Offset', String(video.length))
        .set('Content-Type', 'application/offset+octet-stream')
        .send('x'),
    );
    expect([patch.status, patch.body.error.code]).toEqual([403, 'CONCAT_FINAL_IMMUTABLE']);
    const ready = await waitForJob(finalPath.split('/').pop()!, ['ready', 'failed']);
    expect(ready).toMatchObject({ state: 'ready', filename: 'joined.mp4', size: video.length });
  });

  it('jobs API: a failed job with Gcore’s error, retry, lists, filters and refusals', async () => {
    // Not a video inside: the emulator refuses it the way Gcore does.
    const bogus = path.join(tmp, 'bogus.mp4');
    await fs.writeFile(bogus, Buffer.alloc(128 * 1024, 0x41));
    const id = await stack.upload(bogus);
    const failed = await waitForJob(id, ['failed', 'ready']);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'GCORE_REJECTED', retryable: false } });
    const retried = expectSpec(await relay().post(`/api/jobs/${id}/retry`).set(auth));
    expect(retried.status).toBe(202);
    // Gcore holds the bytes already: only its processing is followed again, and fails again.
    expect(['queued', 'processing']).toContain(retried.body.state);
    await waitForJob(id, ['failed']);

    const all = expectSpec(await relay().get('/api/jobs').set(auth));
    expect(all.body.items.length).toBeGreaterThanOrEqual(2);
    const page = expectSpec(await relay().get('/api/jobs?limit=1').set(auth));
    expect(page.body.next).toEqual(expect.any(String));
    expectSpec(await relay().get(`/api/jobs?limit=1&cursor=${page.body.next}`).set(auth));
    const filtered = expectSpec(await relay().get('/api/jobs?state=failed&kind=upload').set(auth));
    expect(filtered.body.items.map((j: PublicJob) => j.id)).toContain(id);

    for (const query of ['state=done', 'kind=file', 'limit=0', 'limit=501', 'cursor=abc']) {
      const bad = expectSpec(await relay().get(`/api/jobs?${query}`).set(auth));
      expect([query, bad.status, bad.body.error.code]).toEqual([query, 400, 'INVALID_QUERY']);
    }
    for (const pending of [
      relay().get('/api/jobs/nope').set(auth),
      relay().post('/api/jobs/nope/retry').set(auth),
      relay().delete('/api/jobs/nope').set(auth),
    ]) {
      const res = expectSpec(await pending);
      expect([res.status, res.body.error.code]).toEqual([404, 'JOB_NOT_FOUND']);
    }
    const badJson = expectSpec(
      await relay()
        .post(`/api/jobs/${id}/retry`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{"x":'),
    );
    expect([badJson.status, badJson.body.error.code]).toEqual([400, 'INVALID_JSON']);
    for (const pending of [
      relay().get('/api/jobs'),
      relay().get(`/api/jobs/${id}`).set('Authorization', 'Bearer wrong'),
      relay().post(`/api/jobs/${id}/retry`),
      relay().delete(`/api/jobs/${id}`),
    ]) {
      const res = expectSpec(await pending);
      expect([res.status, res.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    }
    // Basic credentials from another site may look but not change.
    const crossSite = expectSpec(
      await relay()
        .delete(`/api/jobs/${id}`)
        .set('Authorization', `Basic ${b64(`ops:${stack.relay.token}`)}`)
        .set('Origin', 'https://elsewhere.example'),
    );
    expect([crossSite.status, crossSite.body.error.code]).toEqual([403, 'CROSS_SITE_REQUEST']);
    const canceled = expectSpec(await relay().delete(`/api/jobs/${id}`).set(auth));
    expect([canceled.status, canceled.body.state]).toEqual([202, 'canceled']);
  });

  it('imports: single, again (200), batch with rejected items, and refusals', async () => {
    const body = { origin_url: `${origin.url}/origin.mp4`, name: 'Imported', callback_url: hookUrl };
    const created = expectSpec(await relay().post('/api/imports').set(auth).send(body));
    expect([created.status, created.body.kind]).toEqual([202, 'import']);
    const again = expectSpec(await relay().post('/api/imports').set(auth).send(body));
    expect([again.status, again.body.id]).toEqual([200, created.body.id]);
    const ready = await waitForJob(created.body.id, ['ready', 'failed']);
    expect(ready.state).toBe('ready');

    const batch = expectSpec(
      await relay()
        .post('/api/imports/batch')
        .set(auth)
        .send({
          items: [{ origin_url: `${origin.url}/origin.mp4` }, { origin_url: 'ftp://x/a.mp4' }, 'nope'],
        }),
    );
    expect(batch.status).toBe(202);
    expect([batch.body.created, batch.body.rejected.map((r: { index: number }) => r.index)]).toEqual([
      [false],
      [1, 2],
    ]);

    const refusals: Array<[unknown, number, string]> = [
      [{ origin_url: 'ftp://x/a.mp4' }, 400, 'INVALID_ORIGIN_URL'],
      [{ origin_url: `${origin.url}/live.m3u8` }, 400, 'INVALID_ORIGIN_URL'],
      [{ origin_url: `${origin.url}/a.mp4`, priority: 'abc' }, 400, 'INVALID_FIELD'],
      [['x'], 400, 'INVALID_REQUEST'],
      [{ origin_url: `${origin.url}/missing.mp4` }, 422, 'ORIGIN_UNREACHABLE'],
    ];
    for (const [item, status, code] of refusals) {
      const res = expectSpec(
        await relay()
          .post('/api/imports')
          .set(auth)
          .send(item as object),
      );
      expect([res.status, res.body.error.code]).toEqual([status, code]);
    }
    const badBatch = expectSpec(await relay().post('/api/imports/batch').set(auth).send({ items: 'x' }));
    expect([badBatch.status, badBatch.body.error.code]).toEqual([400, 'INVALID_BATCH']);
    const tooMany = expectSpec(
      await relay()
        .post('/api/imports/batch')
        .set(auth)
        .send({ items: Array.from({ length: 10_001 }, () => ({})) }),
    );
    expect([tooMany.status, tooMany.body.error.code]).toEqual([413, 'BATCH_TOO_LARGE']);
    const badJson = expectSpec(
      await relay().post('/api/imports').set(auth).set('Content-Type', 'application/json').send('{'),
    );
    expect([badJson.status, badJson.body.error.code]).toEqual([400, 'INVALID_JSON']);
    for (const p of ['/api/imports', '/api/imports/batch']) {
      const res = expectSpec(await relay().post(p).send({ items: [] }));
      expect(res.status).toBe(401);
    }

    await waitFor(
      () => (callbacks.some((c) => JSON.parse(c.body).id === created.body.id) ? true : undefined),
      {
        timeoutMs: 20_000,
        what: 'the import’s callback',
      },
    );
    const callback = callbacks.find((c) => JSON.parse(c.body).id === created.body.id)!;
    expectCallbackMatchesSpec(callback.headers, JSON.parse(callback.body));
  });

  it('batches: made by a batch import or for uploads, followed, searched, exported, retried and canceled', async () => {
    const made = expectSpec(
      await relay()
        .post('/api/imports/batch')
        .set(auth)
        .send({ name: 'documented migration', items: [{ origin_url: `${origin.url}/origin.mp4?copy=2` }] }),
    );
    expect([made.status, made.body.batch.name, made.body.jobs[0].batch]).toEqual([
      202,
      'documented migration',
      made.body.batch.id,
    ]);
    const id = made.body.batch.id as string;
    await waitForJob(made.body.jobs[0].id, ['ready', 'failed']);
    const got = expectSpec(await relay().get(`/api/batches/${id}`).set(auth));
    expect(got.body).toMatchObject({ total: 1, counts: { ready: 1 } });
    expect(expectSpec(await relay().get('/api/batches?limit=5').set(auth)).body.items[0].id).toBe(id);
    const found = expectSpec(
      await relay().get(`/api/jobs?q=origin&batch=${id}&since=2020-01-01T00:00:00Z`).set(auth),
    );
    expect(found.body.items.map((j: PublicJob) => j.id)).toEqual([made.body.jobs[0].id]);
    const badQuery = expectSpec(await relay().get('/api/jobs?since=yesterday').set(auth));
    expect([badQuery.status, badQuery.body.error.code]).toEqual([400, 'INVALID_QUERY']);
    const csv = expectSpec(await relay().get(`/api/batches/${id}/export`).set(auth));
    expect(csv.text.split('\r\n')[0]).toMatch(/^index,origin_url,/);
    const json = expectSpec(await relay().get(`/api/batches/${id}/export?format=json`).set(auth));
    expect(JSON.parse(json.text)[0]).toMatchObject({ job_id: made.body.jobs[0].id, state: 'ready' });
    const badFormat = expectSpec(await relay().get(`/api/batches/${id}/export?format=xml`).set(auth));
    expect(badFormat.status).toBe(400);
    const retried = expectSpec(await relay().post(`/api/batches/${id}/retry`).set(auth));
    expect([retried.status, retried.body.retried]).toEqual([202, 0]);
    const canceled = expectSpec(await relay().delete(`/api/batches/${id}`).set(auth));
    expect([canceled.status, canceled.body.canceled]).toEqual([202, 0]);

    const empty = expectSpec(await relay().post('/api/batches').set(auth).send({ name: 'a folder' }));
    expect([empty.status, empty.body.total]).toEqual([201, 0]);
    const unnamed = expectSpec(await relay().post('/api/batches').set(auth).send({}));
    expect([unnamed.status, unnamed.body.error.code]).toEqual([400, 'INVALID_FIELD']);
    const badPage = expectSpec(await relay().get('/api/batches?limit=0').set(auth));
    expect(badPage.status).toBe(400);
    for (const path of [
      `/api/batches/${id}`,
      `/api/batches/${id}/export`,
      '/api/batches/0123456789abcdef/retry',
    ]) {
      const method = path.endsWith('retry') ? 'post' : 'get';
      const missing = expectSpec(await relay()[method](path.replace(id, 'fedcba9876543210')).set(auth));
      expect([missing.status, missing.body.error.code]).toEqual([404, 'BATCH_NOT_FOUND']);
    }
    const missingDelete = expectSpec(await relay().delete('/api/batches/fedcba9876543210').set(auth));
    expect(missingDelete.status).toBe(404);
    for (const [method, path] of [
      ['get', '/api/batches'],
      ['post', '/api/batches'],
      ['get', `/api/batches/${id}`],
      ['delete', `/api/batches/${id}`],
      ['post', `/api/batches/${id}/retry`],
      ['get', `/api/batches/${id}/export`],
    ] as const) {
      expect(expectSpec(await relay()[method](path)).status).toBe(401);
    }
  });

  it('operations: health, readiness, metrics, the dashboard feed and this document', async () => {
    expect(expectSpec(await relay().get('/healthz')).body).toEqual({ ok: true });
    expect(expectSpec(await relay().get('/readyz')).body.ready).toBe(true);
    const metrics = expectSpec(await relay().get('/metrics').set(auth));
    expect(metrics.text).toMatch(/relay_uploads_created_total/);
    expect(expectSpec(await relay().get('/metrics')).status).toBe(401);
    const summary = expectSpec(await relay().get('/api/dashboard/summary').set(auth));
    expect(summary.body.total).toBeGreaterThan(0);
    expect(expectSpec(await relay().get('/api/dashboard/summary')).status).toBe(401);
    const open = expectSpec(await relay().get('/api/open-uploads').set(auth));
    expect(open.body.owners.length).toBeGreaterThan(0);
    expect(expectSpec(await relay().get('/api/open-uploads')).status).toBe(401);
    expect(expectSpec(await relay().get('/api/openapi.json').set(auth)).body.openapi).toMatch(/^3\.1\./);
    expect(expectSpec(await relay().get('/api/openapi.json')).status).toBe(401);
    expect(expectSpec(await relay().get('/api/events')).status).toBe(401);

    // The event stream stays open: check its status and type, then hang up.
    const abort = new AbortController();
    const events = await fetch(`${stack.relay.url}/api/events`, { headers: auth, signal: abort.signal });
    try {
      expectResponseMatchesSpec('GET', '/api/events', events.status, '', {
        headers: Object.fromEntries(events.headers),
      });
      expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    } finally {
      abort.abort();
      await events.body?.cancel().catch(() => {});
    }
  });

  it('drove every documented operation at least once', () => {
    const driven = new Set([...checkedResponses].map((c) => c.split(' ').slice(0, 2).join(' ')));
    expect(documented().filter((op) => !driven.has(op))).toEqual([]);
  });

  async function writeVideo(name: string, size: number, seed: number): Promise<string> {
    const file = path.join(tmp, name);
    await writeVideoFile(file, size, seed);
    return file;
  }
});
