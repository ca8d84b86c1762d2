import { startTestRelay, type TestRelay } from '@gtr/relay/testing';
import request from 'supertest';
import { b64, OPEN, routeTable } from './support/routes.js';

/*
 * Every route the relay answers, read from its Express router (mounted routers such as
 * bull-board's included, with their mount paths), refuses a request without a token and with
 * each kind of wrong token, for every method it answers. A new route cannot be forgotten: it is
 * in the table as soon as it exists.
 */
const TOKENS = ['first-token-4f1c9a', 'second-token-77be20'];

describe('the auth table: every route, every method, no way in without a token', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: TOKENS, imports: { preflight: false, allowPrivate: false } });
  });
  afterAll(() => t.close());

  const wrong: Array<[string, Record<string, string>]> = [
    ['no Authorization', {}],
    ['an unknown bearer token', { Authorization: 'Bearer not-a-token' }],
    ['an empty bearer token', { Authorization: 'Bearer ' }],
    ['a token missing its last character', { Authorization: `Bearer ${TOKENS[0]!.slice(0, -1)}` }],
    ['a token with a character added', { Authorization: `Bearer ${TOKENS[0]}x` }],
    ['both tokens joined', { Authorization: `Bearer ${TOKENS.join(',')}` }],
    ['the token under another scheme', { Authorization: `Token ${TOKENS[0]}` }],
    ['the token as Basic auth’s user name', { Authorization: `Basic ${b64(`${TOKENS[0]}:`)}` }],
    ['a wrong Basic password', { Authorization: `Basic ${b64('ops:not-a-token')}` }],
    ['Basic auth that is not base64', { Authorization: 'Basic %%%' }],
    ['the token in the query string', {}],
  ];

  it('lists the routes people rely on', () => {
    const paths = routeTable(t).map((e) => `${e.method.toUpperCase()} ${e.path}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'POST /files',
        'PATCH /files/abc123',
        'HEAD /files/abc123',
        'DELETE /files/abc123',
        'GET /api/jobs',
        'GET /api/jobs/abc123',
        'POST /api/jobs/abc123/retry',
        'DELETE /api/jobs/abc123',
        'POST /api/imports',
        'POST /api/imports/batch',
        'GET /api/openapi.json',
        'GET /metrics',
        'GET /dashboard',
        'GET /dashboard/assets/probe',
        'GET /api/dashboard/summary',
        'GET /api/events',
        'GET /admin/queues/api/queues',
        'GET /admin/queues/',
        'GET /admin/queues/api/queues/forward/abc123',
        'PUT /admin/queues/api/queues/forward/retry/failed',
        'PUT /admin/queues/api/queues/forward/clean/failed',
        'PUT /admin/queues/api/queues/forward/abc123/retry',
        'POST /admin/queues/api/queues/forward/add',
        'PUT /admin/queues/api/queues/forward/obliterate',
      ]),
    );
    expect(paths.length).toBeGreaterThan(40);
  });

  it.each(wrong)('refuses %s on every route and method with 401', async (what, headers) => {
    const failures: string[] = [];
    for (const { method, path } of routeTable(t)) {
      if (OPEN.has(path)) continue;
      const target = what.includes('query string')
        ? `${path}?token=${TOKENS[0]}&access_token=${TOKENS[0]}`
        : path;
      const res = await (request(t.relay.app) as unknown as Record<string, (p: string) => request.Test>)[
        method
      ]!(target).set({ 'Tus-Resumable': '1.0.0', ...headers });
      if (res.status !== 401) failures.push(`${method.toUpperCase()} ${path} → ${res.status}`);
      else if (method !== 'head' && res.body?.error?.code !== 'UNAUTHORIZED') {
        failures.push(`${method.toUpperCase()} ${path} → 401 without the JSON error`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers a path no route has with 401 too, so routes cannot be discovered', async () => {
    for (const path of ['/nope', '/api/nope', '/admin/nope', '/files-extra']) {
      expect([path, (await request(t.relay.app).get(path)).status]).toEqual([path, 401]);
    }
  });

  it('lets each configured token in, as Bearer and as Basic password on the operator pages', async () => {
    for (const token of TOKENS) {
      expect(
        (await request(t.relay.app).get('/api/jobs').set('Authorization', `Bearer ${token}`)).status,
      ).toBe(200);
      const page = await request(t.relay.app)
        .get('/dashboard')
        .set('Authorization', `Basic ${b64(`ops:${token}`)}`);
      expect(page.status).toBe(200);
      const board = await request(t.relay.app)
        .get('/admin/queues/api/queues')
        .set('Authorization', `Basic ${b64(`ops:${token}`)}`);
      expect(board.status).toBe(200);
    }
    for (const path of OPEN) expect((await request(t.relay.app).get(path)).status).toBe(200);
  });
});
