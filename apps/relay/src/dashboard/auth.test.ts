import request from 'supertest';
import { startTestRelay, type TestRelay } from '../testing.js';

const basic = (password: string, user = 'ops') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Every route the dashboard adds, as a browser reaches them. */
const ROUTES = [
  '/dashboard',
  '/dashboard/assets/js/main.js',
  '/dashboard/assets/dashboard.css',
  '/api/dashboard/summary',
  '/api/events',
  '/admin/queues',
  '/admin/queues/api/queues',
];

describe('dashboard auth', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay();
  });
  afterAll(() => t.close());

  /** Status and headers only: /api/events never ends by itself. */
  async function head(path: string, authorization?: string) {
    const abort = new AbortController();
    const res = await fetch(`${t.url}${path}`, {
      headers: authorization ? { Authorization: authorization } : {},
      signal: abort.signal,
    });
    abort.abort();
    return { status: res.status, challenge: res.headers.get('www-authenticate') };
  }

  it.each(ROUTES)('%s refuses requests without a valid token, with a Basic challenge', async (path) => {
    for (const authorization of [undefined, 'Bearer wrong', basic('wrong'), 'Basic not-base64-at-all']) {
      const res = await head(path, authorization);
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(res.challenge).toMatch(/^Basic realm="gcore-tus-relay"/);
    }
  });

  it.each(ROUTES)('%s accepts the token as Bearer or as the Basic password', async (path) => {
    expect((await head(path, `Bearer ${t.token}`)).status).toBe(200);
    expect((await head(path, basic(t.token))).status).toBe(200);
  });

  it('lets the page call the jobs API with its Basic login, without prompting API clients', async () => {
    const listed = await request(t.relay.app).get('/api/jobs').set('Authorization', basic(t.token));
    expect(listed.status).toBe(200);
    const refused = await request(t.relay.app).get('/api/jobs');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBeUndefined();
    expect((await request(t.relay.app).get('/api/jobs').set('Authorization', basic('nope'))).status).toBe(
      401,
    );
  });

  it('refuses changes made with Basic auth from another site, but not from its own page', async () => {
    const retry = () =>
      request(t.relay.app).post('/api/jobs/some-job/retry').set('Authorization', basic(t.token));
    const crossSite = await retry().set('Sec-Fetch-Site', 'cross-site');
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.error.code).toBe('CROSS_SITE_REQUEST');
    expect((await retry().set('Origin', 'https://evil.example')).status).toBe(403);
    const bullBoard = await request(t.relay.app)
      .put('/admin/queues/api/queues/forward/pause')
      .set('Authorization', basic(t.token))
      .set('Sec-Fetch-Site', 'same-site');
    expect(bullBoard.status).toBe(403);
    // Reaching the handler: the job does not exist.
    expect((await retry().set('Sec-Fetch-Site', 'same-origin')).status).toBe(404);
    const sameOrigin = await fetch(`${t.url}/api/jobs/some-job/retry`, {
      method: 'POST',
      headers: { Authorization: basic(t.token), Origin: t.url },
    });
    expect(sameOrigin.status).toBe(404);
    // A bearer token is never sent by a browser on its own, so its origin does not matter.
    const bearer = await request(t.relay.app)
      .post('/api/jobs/some-job/retry')
      .set('Authorization', `Bearer ${t.token}`)
      .set('Sec-Fetch-Site', 'cross-site');
    expect(bearer.status).toBe(404);
  });
});
