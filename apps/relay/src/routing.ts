import { type Express, Router } from 'express';

/**
 * How every router of the relay matches paths: case-sensitive, and a trailing slash is another
 * path. One resource has one spelling, so that no check keyed on a path can be passed by writing
 * it differently (`/Files/<id>`, `/api/jobs/<id>/`).
 */
export const ROUTING = { caseSensitive: true, strict: true } as const;

/** `Router()` with the relay's ROUTING. */
export const strictRouter = (): Router => Router(ROUTING);

/** The same ROUTING for an Express app's own router (set before its first route). */
export function strictRouting<T extends Express>(app: T): T {
  app.set('case sensitive routing', ROUTING.caseSensitive);
  app.set('strict routing', ROUTING.strict);
  return app;
}
