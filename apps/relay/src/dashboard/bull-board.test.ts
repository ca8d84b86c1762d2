import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import type { Role } from '../principal.js';
import { startTestRelay, type TestRelay } from '../testing.js';
import {
  BULL_BOARD_PATH,
  bullBoardRouter,
  bullBoardWriteGuard,
  withoutThirdPartyAssets,
} from './bull-board.js';

const ROLES: Role[] = ['tool', 'operator', 'admin'];
const WRITES = ['post', 'put', 'patch', 'delete'] as const;

/** Plays the relay's token guard: the principal's role comes from a test header. */
function asRole(req: Request, res: Response, next: NextFunction): void {
  const role = req.headers['x-test-role'];
  if (typeof role === 'string') res.locals.principal = { name: `a-${role}`, role };
  next();
}

describe('the bull-board write guard', () => {
  const app = express();
  app.use(asRole, bullBoardWriteGuard, (_req, res) => {
    res.json({ reached: true });
  });

  it.each(ROLES)('lets a %s read', async (role) => {
    for (const path of ['/api/queues', '/', '/static/x.js']) {
      expect((await request(app).get(path).set('X-Test-Role', role)).status).toBe(200);
      expect((await request(app).head(path).set('X-Test-Role', role)).status).toBe(200);
    }
  });

  it.each(['tool', 'operator', undefined])(
    'refuses every change by a %s with 403 FORBIDDEN',
    async (role) => {
      for (const method of WRITES) {
        for (const path of [
          '/api/queues/forward/pause',
          '/api/queues/forward/retry/failed',
          '/api/anything',
        ]) {
          let req = request(app)[method](path);
          if (role) req = req.set('X-Test-Role', role);
          const res = await req;
          expect([method, path, res.status, res.body.error?.code]).toEqual([method, path, 403, 'FORBIDDEN']);
          expect(res.headers.connection).toBe('close');
        }
      }
    },
  );

  it('lets an admin change things', async () => {
    for (const method of WRITES) {
      const res = await request(app)[method]('/api/queues/forward/pause').set('X-Test-Role', 'admin');
      expect([method, res.status]).toEqual([method, 200]);
    }
  });
});

describe('bull-board by role', () => {
  let t: TestRelay;
  let app: express.Express;
  beforeAll(async () => {
    t = await startTestRelay();
    app = express();
    app.use(BULL_BOARD_PATH, asRole, express.json(), bullBoardRouter(t.queues));
  });
  afterAll(() => t.close());

  const readOnlyFlags = async (role: Role) => {
    const res = await request(app).get(`${BULL_BOARD_PATH}/api/queues`).set('X-Test-Role', role);
    expect(res.status).toBe(200);
    return (res.body.queues as Array<{ readOnlyMode: boolean }>).map((q) => q.readOnlyMode);
  };

  it('shows tools and operators the read-only board (no buttons) and admins the full one', async () => {
    expect(await readOnlyFlags('tool')).toEqual([true, true, true, true]);
    expect(await readOnlyFlags('operator')).toEqual([true, true, true, true]);
    expect(await readOnlyFlags('admin')).toEqual([false, false, false, false]);
  });

  it('does not let an operator pause a queue, and lets an admin', async () => {
    const pause = (role: Role) =>
      request(app).put(`${BULL_BOARD_PATH}/api/queues/forward/pause`).set('X-Test-Role', role);
    expect((await pause('operator')).status).toBe(403);
    expect(await t.queues.forward.isPaused()).toBe(false);
    expect((await pause('admin')).status).toBe(200);
    expect(await t.queues.forward.isPaused()).toBe(true);
    await t.queues.forward.resume();
  });
});

describe('bull-board in the relay', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay();
  });
  afterAll(() => t.close());

  const get = (path: string) => request(t.relay.app).get(path).set('Authorization', `Bearer ${t.token}`);

  /** Every (method, path) the relay's router has, mounted routers and apps (bull-board's) included. */
  function routes(): Array<{ method: string; path: string }> {
    type Layer = {
      route?: { path: string | string[]; methods: Record<string, boolean> };
      handle?: { stack?: Layer[]; router?: { stack?: Layer[] } };
      rawPath?: string | string[];
      slash?: boolean;
    };
    const found: Array<{ method: string; path: string }> = [];
    const concrete = (p: string) =>
      p
        .replace(/\{\*\w+\}/g, 'x')
        .replace(/:queueName/g, 'notify')
        .replace(/:queueStatus/g, 'failed')
        .replace(/:(\w+)\??/g, 'abc123');
    const walk = (layers: Layer[], prefix: string) => {
      for (const layer of layers) {
        const mounts = [layer.rawPath ?? '/'].flat();
        if (layer.route) {
          for (const p of [layer.route.path].flat()) {
            for (const method of Object.keys(layer.route.methods)) {
              if (method !== '_all') found.push({ method, path: concrete(prefix + p) });
            }
          }
        } else {
          const inner = layer.handle?.stack ?? layer.handle?.router?.stack;
          if (inner) for (const mount of mounts) walk(inner, layer.slash ? prefix : prefix + mount);
        }
      }
    };
    walk((t.relay.app as unknown as { router: { stack: Layer[] } }).router.stack, '');
    return found;
  }

  it('never says X-Powered-By, on any route of bull-board or the relay', async () => {
    const board = routes().filter((r) => r.path.startsWith(BULL_BOARD_PATH));
    expect(board.filter((r) => r.path.startsWith(`${BULL_BOARD_PATH}/api/`)).length).toBeGreaterThan(20);
    const paths = [
      ...board,
      { method: 'get', path: `${BULL_BOARD_PATH}/` },
      { method: 'get', path: `${BULL_BOARD_PATH}/static/favicon-32x32.png` },
      { method: 'get', path: `${BULL_BOARD_PATH}/static/nope.js` },
      { method: 'get', path: '/dashboard' },
      { method: 'get', path: '/api/jobs' },
      { method: 'get', path: '/nope' },
      { method: 'get', path: '/healthz' },
    ];
    const leaks: string[] = [];
    for (const { method, path } of paths) {
      const res = await (request(t.relay.app) as unknown as Record<string, (p: string) => request.Test>)[
        method
      ]!(path)
        .set('Authorization', `Bearer ${t.token}`)
        .set('Content-Type', 'application/json')
        .send(method === 'get' ? undefined : '{}');
      if (res.headers['x-powered-by'] !== undefined) leaks.push(`${method} ${path} → ${res.status}`);
    }
    expect(leaks).toEqual([]);
  });

  it('refuses to be framed, on its pages and its API', async () => {
    for (const path of [`${BULL_BOARD_PATH}`, `${BULL_BOARD_PATH}/`, `${BULL_BOARD_PATH}/api/queues`]) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 200]);
      expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('serves a page and stylesheets that name no host but the relay', async () => {
    const page = await get(`${BULL_BOARD_PATH}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const html = page.text;
    expect(html).toContain('static/css/');
    const sheets = [...html.matchAll(/<link\b[^>]*href="([^"]+\.css)"/g)].map((m) => m[1]!);
    expect(sheets.length).toBeGreaterThan(0);
    const texts = [html];
    for (const sheet of sheets) {
      const css = await get(`${BULL_BOARD_PATH}/${sheet}`);
      expect([sheet, css.status]).toEqual([sheet, 200]);
      texts.push(css.text);
    }
    const relayHost = new URL(t.url).host;
    const hosts = texts.flatMap((text) =>
      [...text.matchAll(/(?:https?:)?\/\/([a-z0-9.-]+\.[a-z]{2,}|[\d.]+(?::\d+)?)/gi)].map((m) => m[1]!),
    );
    expect(hosts.filter((host) => host !== relayHost)).toEqual([]);
  });

  it('strips links to other hosts from a page, and keeps its own', () => {
    const html =
      '<head><link href="https://fonts.example.com/css2?family=X" rel="stylesheet">' +
      '<link rel="preconnect" href="//cdn.example.net"><link href="static/css/main.css" rel="stylesheet">' +
      '<script src="https://cdn.example.net/x.js"></script><script defer src="static/js/main.js"></script></head>';
    expect(withoutThirdPartyAssets(html)).toBe(
      '<head><link href="static/css/main.css" rel="stylesheet"><script defer src="static/js/main.js"></script></head>',
    );
  });

  it('shows job data with callback query strings and secret parameters redacted', async () => {
    const callback = 'https://tool.example/hook?token=CALLBACK-SECRET&tenant=acme-private';
    const origin = 'https://bucket.example/a.mp4?quality=hd&X-Amz-Signature=SIGNATURE-SECRET';
    await t.queues.notify.add(
      'notify',
      {
        id: 'job-1',
        url: callback,
        job: { id: 'job-1', origin_url: origin, callback_url: callback } as never,
      },
      { jobId: 'notify-job-1' },
    );
    const list = await get(
      `${BULL_BOARD_PATH}/api/queues?activeQueue=notify&status=latest&page=1&jobsPerPage=50`,
    );
    const one = await get(`${BULL_BOARD_PATH}/api/queues/notify/notify-job-1`);
    for (const res of [list, one]) {
      expect(res.status).toBe(200);
      expect(res.text).toContain('https://tool.example/hook?');
      expect(res.text).not.toContain('CALLBACK-SECRET');
      expect(res.text).not.toContain('acme-private');
      expect(res.text).not.toContain('SIGNATURE-SECRET');
      expect(res.text).toContain('a.mp4?quality=hd&X-Amz-Signature=[redacted]');
    }
    // Only what bull-board shows: the queue keeps the real URL for the worker.
    expect((await t.queues.notify.getJob('notify-job-1'))?.data.url).toBe(callback);
  });
});
