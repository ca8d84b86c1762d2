import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { AppControllerRoute, AppViewRoute } from '@bull-board/api/typings/app';
import { ExpressAdapter } from '@bull-board/express';
import type { RelayQueues } from '@gtr/core';
import type { Express, NextFunction, Request, Response, Router } from 'express';
import { sendAuthError } from '../auth-failures.js';
import { isAdmin } from '../principal.js';
import { strictRouter, strictRouting } from '../routing.js';
import { redactBoardData } from './bull-board-redact.js';

export const BULL_BOARD_PATH = '/admin/queues';

type BoardQueues = Pick<RelayQueues, 'forward' | 'import' | 'track' | 'notify'>;

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * bull-board over the forward, import, track and notify queues, behind the relay's token guard
 * (which sets the principal). Admins get the full board (retry, clean, remove, pause…); everyone
 * else a read-only one: bull-board's own `readOnlyMode` hides the buttons, and any request that
 * would change something (not GET/HEAD) is refused 403 `FORBIDDEN` before bull-board sees it.
 * Its pages cannot be framed and load nothing from other hosts; job data shows callback URLs
 * without their query strings and secret-named parameters of other URLs redacted.
 */
export function bullBoardRouter(queues: BoardQueues): Router {
  const full = board(queues, { readOnly: false });
  const readOnly = board(queues, { readOnly: true });
  const router = strictRouter();
  router.use(
    boardHeaders,
    bullBoardWriteGuard,
    (req: Request, res: Response, next: NextFunction) => {
      if (isAdmin(res)) {
        next();
        return;
      }
      // What the read-only board does not answer leaves bull-board, as it would past `full`.
      readOnly(req, res, (error?: unknown) => next(error ?? 'router'));
    },
    // Mounted (not called) so that the auth table finds every bull-board route.
    full,
  );
  return router;
}

/** Anything but GET/HEAD under bull-board is for admins only: 403 `FORBIDDEN` for other principals. */
export function bullBoardWriteGuard(req: Request, res: Response, next: NextFunction): void {
  if (READ_METHODS.has(req.method) || isAdmin(res)) {
    next();
    return;
  }
  sendAuthError(req, res, 'FORBIDDEN', 'bull-board is read-only for this token: changes need an admin token');
}

function board(queues: BoardQueues, { readOnly }: { readOnly: boolean }): Express {
  const serverAdapter = new LocalAssetsExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: [queues.forward, queues.import, queues.track, queues.notify].map((queue) => {
      const adapter = new BullMQAdapter(queue, { readOnlyMode: readOnly });
      adapter.setFormatter('data', redactBoardData);
      adapter.setFormatter('returnValue', redactBoardData);
      return adapter;
    }),
    serverAdapter,
    options: {
      // No link to bull-board's documentation site: the page names no other host.
      uiConfig: { boardTitle: 'gcore-tus-relay', hideDocsLink: true },
      // Failure reasons, stack traces and logs can quote a URL too.
      handlerHooks: {
        after: (_context, result) => ({ ...result, body: redactBoardData(result.body) as never }),
      },
    },
  });
  const app = serverAdapter.getRouter() as Express;
  // bull-board's own Express app would announce itself on every answer.
  app.disable('x-powered-by');
  return app;
}

/** The dashboard's framing and referrer rules, for bull-board's pages and its API alike. */
function boardHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
      "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; " +
      "frame-ancestors 'none'",
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}

/**
 * bull-board's page links its fonts from a third-party CDN (its `index.ejs`): every visit would
 * tell that host who looks at the relay's queues, and when. Its entry page is rendered as usual
 * and then stripped of every stylesheet, script or icon on another host (the fonts fall back to
 * the browser's; everything else bull-board serves from the relay itself).
 */
class LocalAssetsExpressAdapter extends ExpressAdapter {
  constructor() {
    super();
    // Its static files and pages: the relay's routing (the app's router is made at its first route).
    strictRouting(this.app);
  }

  /**
   * bull-board's API router is its own `Router()`, matching any case and a trailing slash: only
   * the exact spelling of one of its routes reaches it, anything else leaves bull-board (404).
   */
  override setApiRoutes(routes: AppControllerRoute[]): ExpressAdapter {
    const exact = strictRouter();
    const spelled = new WeakSet<Request>();
    for (const route of routes) {
      for (const method of [route.method].flat()) {
        exact[method](route.route, (req: Request, _res: Response, next: NextFunction) => {
          spelled.add(req);
          next('router');
        });
      }
    }
    this.app.use((req: Request, res: Response, next: NextFunction) => {
      exact(req, res, (error?: unknown) => {
        if (error) next(error);
        else next(spelled.has(req) ? undefined : 'router');
      });
    });
    return super.setApiRoutes(routes);
  }

  override setEntryRoute(routeDef: AppViewRoute): ExpressAdapter {
    const view = (_req: Request, res: Response, next: NextFunction) => {
      const { name, params } = routeDef.handler({ basePath: this.basePath, uiConfig: this.uiConfig });
      res.render(name, params, (error: Error | null, html?: string) => {
        if (error) next(error);
        else res.type('html').send(withoutThirdPartyAssets(html ?? ''));
      });
    };
    this.app[routeDef.method](routeDef.route, view);
    return this;
  }
}

/** `<link>` and `<script>` elements whose URL is absolute (another host) or protocol-relative, removed. */
export function withoutThirdPartyAssets(html: string): string {
  return html
    .replace(/<link\b[^>]*\bhref\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>/gi, '')
    .replace(/<script\b[^>]*\bsrc\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>\s*<\/script>/gi, '');
}
