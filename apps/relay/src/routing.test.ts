import request from 'supertest';
import { startTestRelay, type TestRelay } from './testing.js';

/*
 * One resource, one spelling: every router of the relay (the API, TUS, the dashboard, bull-board,
 * the webhook, health, the OpenAPI document) is case-sensitive and strict about trailing slashes.
 */
const ADMIN = { name: 'root', role: 'admin' as const, token: 'root-token-0123456789abcdef' };
const SECRET = 'hook-secret-0123456789abcdef';

describe('strict routing', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay({ tokens: [ADMIN], gcoreWebhooks: { pathSecret: SECRET } });
  });
  afterAll(() => t.close());

  const send = (method: 'get' | 'post', path: string) =>
    request(t.relay.app)
      [method](path)
      .set('Authorization', `Bearer ${ADMIN.token}`)
      .set('Tus-Resumable', '1.0.0');

  it.each([
    ['get', '/healthz', ['/healthz/', '/HEALTHZ', '/Healthz']],
    ['get', '/api/jobs', ['/api/jobs/', '/API/jobs', '/api/Jobs']],
    ['get', '/api/openapi.json', ['/api/openapi.json/', '/api/OpenAPI.json', '/API/openapi.json']],
    ['get', '/api/dashboard/summary', ['/api/dashboard/summary/', '/api/Dashboard/summary']],
    ['get', '/metrics', ['/metrics/', '/Metrics', '/METRICS']],
    ['get', '/dashboard', ['/dashboard/', '/Dashboard', '/DASHBOARD']],
    [
      'get',
      '/admin/queues/api/queues',
      [
        '/admin/queues/api/queues/',
        '/admin/queues/API/queues',
        '/Admin/queues/api/queues',
        '/admin/Queues/api/queues',
        '/admin/queues/api/Queues',
      ],
    ],
    [
      'post',
      `/hooks/gcore/${SECRET}`,
      [`/hooks/gcore/${SECRET}/`, `/Hooks/Gcore/${SECRET}`, `/hooks/GCORE/${SECRET}`],
    ],
  ] as const)('%s %s answers, and only so spelled', async (method, path, others) => {
    const status = (await send(method, path)).status;
    expect([path, status]).toEqual([path, method === 'post' ? 202 : 200]);
    for (const other of others) {
      expect([other, (await send(method, other)).status]).toEqual([other, 404]);
    }
  });
});
