import { atLeast, type Role, type TokenEntry } from '@gtr/core';
import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import request from 'supertest';
import { b64, OPEN, routeTable, tokenEntry } from './support/routes.js';

/*
 * Least privilege, read from the router itself: every route the relay answers (bull-board's
 * included) × {no token, tool A, tool B, operator, admin}. A route nobody put in the gates below
 * is a tools' route: it still needs a token, and the matrix shows who gets in.
 */
const entry = tokenEntry;
const TOOL_A = entry('tool-a', 'tool');
const TOOL_B = entry('tool-b', 'tool');
const OPERATOR = entry('ops', 'operator');
const ADMIN = entry('root', 'admin');
const WHO = {
  'no token': null,
  'tool A': TOOL_A,
  'tool B': TOOL_B,
  operator: OPERATOR,
  admin: ADMIN,
} as const;

/** The least role a route needs. */
function gate(method: string, path: string): Role {
  if (path.startsWith('/admin/queues')) return method === 'get' || method === 'head' ? 'operator' : 'admin';
  if (
    path === '/metrics' ||
    path.startsWith('/dashboard') ||
    path === '/api/dashboard/summary' ||
    path === '/api/events'
  )
    return 'operator';
  return 'tool';
}

const bearer = (e: TokenEntry) => ({ Authorization: `Bearer ${e.token}` });

/** The status only: the answer is dropped once its headers arrive (the live feed never ends). */
async function statusOf(t: TestRelay, method: string, path: string, headers: Record<string, string>) {
  const res = await fetch(`${t.url}${path}`, {
    method: method.toUpperCase(),
    // A same-origin browser request, so the Basic-auth CSRF guard does not decide the outcome.
    headers: { 'Tus-Resumable': '1.0.0', 'Sec-Fetch-Site': 'same-origin', ...headers },
  });
  await res.body?.cancel();
  return res.status;
}

describe('roles: tools own their uploads, operators watch, admins repair', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({
      tokens: [TOOL_A, TOOL_B, OPERATOR, ADMIN],
      imports: { preflight: false, allowPrivate: false },
    });
  });
  afterAll(() => t.close());

  it('the matrix: every route × every kind of caller', async () => {
    const table = routeTable(t);
    expect(table.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const { method, path } of table) {
      if (OPEN.has(path)) continue;
      for (const [who, e] of Object.entries(WHO)) {
        // Operator pages take Basic auth too: check them the way a browser logs in.
        const headers: Record<string, string> = e
          ? path.startsWith('/dashboard') || path.startsWith('/admin/queues')
            ? { Authorization: `Basic ${b64(`${e.name}:${e.token}`)}` }
            : bearer(e)
          : {};
        const status = await statusOf(t, method, path, headers);
        const expected = e === null ? 401 : atLeast(e.role, gate(method, path)) ? 'in' : 403;
        const ok = expected === 'in' ? status !== 401 && status !== 403 : status === expected;
        if (!ok) failures.push(`${method.toUpperCase()} ${path} as ${who} → ${status}, expected ${expected}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("gives another tool's upload and job a 404 on every method, and the owner its own", async () => {
    const created = await request(t.relay.app)
      .post('/files/')
      .set({ ...bearer(TOOL_A), 'Tus-Resumable': '1.0.0', 'Upload-Length': '20' })
      .set('Upload-Metadata', `filename ${b64('a.mp4')}`);
    expect(created.status).toBe(201);
    const id = created.headers.location!.split('/').pop()!;
    const tus = (who: TokenEntry, method: 'head' | 'patch' | 'delete', body?: Buffer) => {
      const req = request(t.relay.app)
        [method](`/files/${id}`)
        .set({ ...bearer(who), 'Tus-Resumable': '1.0.0' });
      return body
        ? req.set({ 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }).send(body)
        : req;
    };
    expect((await tus(TOOL_B, 'head')).status).toBe(404);
    expect((await tus(TOOL_B, 'patch', Buffer.from('EVIL'))).status).toBe(404);
    expect((await tus(TOOL_B, 'delete')).status).toBe(404);
    const head = await tus(TOOL_A, 'head');
    expect([head.status, head.headers['upload-offset']]).toEqual([200, '0']);

    const api = (who: TokenEntry) => ({
      get: () => request(t.relay.app).get(`/api/jobs/${id}`).set(bearer(who)),
      retry: () => request(t.relay.app).post(`/api/jobs/${id}/retry`).set(bearer(who)),
      cancel: () => request(t.relay.app).delete(`/api/jobs/${id}`).set(bearer(who)),
    });
    for (const action of ['get', 'retry', 'cancel'] as const) {
      expect([action, (await api(TOOL_B)[action]()).status]).toEqual([action, 404]);
    }
    const mine = await api(TOOL_A).get();
    expect([mine.status, mine.body.owner, mine.body.state]).toEqual([200, 'tool-a', 'receiving']);
    expect((await api(OPERATOR).get()).body.owner).toBe('tool-a');

    // Nothing tool B did touched the upload: the bytes it sent were never written.
    expect((await tus(TOOL_A, 'patch', Buffer.alloc(20, 0x61))).status).toBe(204);
    expect((await api(TOOL_A).get()).body).toMatchObject({ state: 'queued', bytes_received: 20 });
  });

  it('lists only its own jobs to a tool, and every job (with an owner filter) to operators', async () => {
    const imported = async (who: TokenEntry, url: string) => {
      const res = await request(t.relay.app).post('/api/imports').set(bearer(who)).send({ origin_url: url });
      expect(res.status).toBe(202);
      return res.body as { id: string; owner: string };
    };
    const a = await imported(TOOL_A, 'https://media.example.com/list-a.mp4');
    const b = await imported(TOOL_B, 'https://media.example.com/list-b.mp4');
    expect([a.owner, b.owner]).toEqual(['tool-a', 'tool-b']);
    // The same URL from another tool is that tool's own job, not a window into the first one's.
    const again = await imported(TOOL_B, 'https://media.example.com/list-a.mp4');
    expect(again.id).not.toBe(a.id);

    const ids = async (who: TokenEntry, query = '') =>
      (
        (await request(t.relay.app).get(`/api/jobs?kind=import${query}`).set(bearer(who))).body
          .items as Array<{
          id: string;
        }>
      ).map((j) => j.id);
    expect(await ids(TOOL_A)).toEqual([a.id]);
    expect((await ids(TOOL_B)).sort()).toEqual([b.id, again.id].sort());
    // A tool cannot widen its view by asking for another owner.
    expect(await ids(TOOL_B, '&owner=tool-a')).not.toContain(a.id);
    expect((await ids(OPERATOR)).sort()).toEqual([a.id, b.id, again.id].sort());
    expect(await ids(OPERATOR, '&owner=tool-a')).toEqual([a.id]);
    const summary = await request(t.relay.app).get('/api/dashboard/summary').set(bearer(OPERATOR));
    expect(summary.body.owners).toEqual(['ops', 'root', 'tool-a', 'tool-b']);
    expect(JSON.stringify(summary.body)).not.toContain(TOOL_A.token);
  });

  it("gives another tool's batch a 404 on every route, never lets it join, and shows operators every batch", async () => {
    const made = await request(t.relay.app)
      .post('/api/imports/batch')
      .set(bearer(TOOL_A))
      .send({ name: 'A migration', items: [{ origin_url: 'https://media.example.com/batch-a.mp4' }] });
    expect(made.status).toBe(202);
    const id = made.body.batch.id as string;
    expect(made.body.batch.owner).toBe('tool-a');
    const as = (who: TokenEntry) => ({
      get: () => request(t.relay.app).get(`/api/batches/${id}`).set(bearer(who)),
      retry: () => request(t.relay.app).post(`/api/batches/${id}/retry`).set(bearer(who)),
      cancel: () => request(t.relay.app).delete(`/api/batches/${id}`).set(bearer(who)),
      export: () => request(t.relay.app).get(`/api/batches/${id}/export`).set(bearer(who)),
      jobs: () => request(t.relay.app).get(`/api/jobs?batch=${id}`).set(bearer(who)),
    });
    for (const action of ['get', 'retry', 'cancel', 'export'] as const) {
      expect([action, (await as(TOOL_B)[action]()).status]).toEqual([action, 404]);
    }
    expect((await as(TOOL_B).jobs()).body.items).toEqual([]);
    const listed = async (who: TokenEntry) =>
      (
        (await request(t.relay.app).get('/api/batches').set(bearer(who))).body.items as Array<{ id: string }>
      ).map((b) => b.id);
    expect(await listed(TOOL_B)).not.toContain(id);
    expect(await listed(TOOL_A)).toContain(id);
    expect(await listed(OPERATOR)).toContain(id);
    expect((await as(OPERATOR).get()).body.owner).toBe('tool-a');
    expect((await as(TOOL_A).jobs()).body.items).toHaveLength(1);
    // Tool B cannot put its imports or uploads into A's batch.
    const join = await request(t.relay.app)
      .post('/api/imports/batch')
      .set(bearer(TOOL_B))
      .send({ batch: id, items: [{ origin_url: 'https://media.example.com/batch-b.mp4' }] });
    expect([join.status, join.body.error.code]).toEqual([404, 'BATCH_NOT_FOUND']);
    const upload = await request(t.relay.app)
      .post('/files/')
      .set({ ...bearer(TOOL_B), 'Tus-Resumable': '1.0.0', 'Upload-Length': '20' })
      .set('Upload-Metadata', `filename ${b64('b.mp4')},batch ${b64(id)}`);
    expect(upload.status).toBe(400);
    expect((await as(TOOL_A).get()).body.total).toBe(1);
  });

  it('refuses forged callbacks and video deletions through bull-board to tools and operators', async () => {
    const forged = {
      name: 'deliver',
      data: { id: 'forged', url: 'http://127.0.0.1:9/cb', job: { id: 'forged', state: 'ready' } },
    };
    for (const who of [TOOL_A, OPERATOR]) {
      const auth = { Authorization: `Basic ${b64(`x:${who.token}`)}`, 'Sec-Fetch-Site': 'same-origin' };
      const add = await request(t.relay.app)
        .post('/admin/queues/api/queues/notify/add')
        .set(auth)
        .send(forged);
      expect([who.name, add.status]).toEqual([who.name, 403]);
      const del = await request(t.relay.app)
        .post('/admin/queues/api/queues/forward/add')
        .set(auth)
        .send({ name: 'delete-video', data: { id: 'someone-elses-job' } });
      expect([who.name, del.status]).toEqual([who.name, 403]);
    }
    expect(await t.queues.notify.getJobs(['waiting', 'delayed'])).toEqual([]);
    const forward = await t.queues.forward.getJobs(['waiting', 'delayed']);
    expect(forward.filter((job) => job.name === 'delete-video')).toEqual([]);
    const read = await request(t.relay.app)
      .get('/admin/queues/api/queues')
      .set({ Authorization: `Basic ${b64(`x:${OPERATOR.token}`)}` });
    expect(read.status).toBe(200);
  });
});

describe('roles: compatibility without operator tokens', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: ['legacy-tool-token-0123456789abcdef'] });
  });
  afterAll(() => t.close());

  it("keeps a tool token's old rights — the dashboard and every job — but never bull-board's writes", async () => {
    const auth = {
      Authorization: `Basic ${b64('x:legacy-tool-token-0123456789abcdef')}`,
      'Sec-Fetch-Site': 'same-origin',
    };
    expect((await request(t.relay.app).get('/dashboard').set(auth)).status).toBe(200);
    expect((await request(t.relay.app).get('/admin/queues/api/queues').set(auth)).status).toBe(200);
    const write = await request(t.relay.app).put('/admin/queues/api/queues/forward/clean/failed').set(auth);
    expect(write.status).toBe(403);
  });
});
