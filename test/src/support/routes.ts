import type { Role, TokenEntry } from '@gtr/core';
import type { TestRelay } from '@gtr/relay/testing';

export const b64 = (s: string) => Buffer.from(s).toString('base64');
/** A configured token of `role` named `name` (the token is long enough for the relay). */
export const tokenEntry = (name: string, role: Role): TokenEntry => ({
  name,
  role,
  token: `${name}-token-0123456789abcdef`,
});
export const OPEN = new Set(['/healthz', '/readyz']);
// Methods an app.all() route (TUS) is probed with; OPTIONS is the CORS preflight, open by design.
export const ALL_VERBS = ['get', 'post', 'patch', 'put', 'delete', 'head'];
const SAMPLE: Record<string, string> = { queueName: 'forward', queueStatus: 'failed' };

type Layer = {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  /** A router (`stack`) or a mounted Express app (`router.stack`, e.g. bull-board's). */
  handle?: { stack?: Layer[]; router?: { stack?: Layer[] } };
  rawPath?: string | string[];
  slash?: boolean;
};

export interface Entry {
  method: string;
  path: string;
}

/** Every (method, path) of the app; paths under a plain middleware mount get one probe each. */
export function routeTable(t: TestRelay): Entry[] {
  const out: Entry[] = [];
  const concrete = (p: string) =>
    p.replace(/\{\*\w+\}/g, 'abc123').replace(/:(\w+)\??/g, (_m, name: string) => SAMPLE[name] ?? 'abc123');
  const walk = (layers: Layer[], prefix: string) => {
    for (const layer of layers) {
      const raw = Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath ?? '/'];
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        const declared = Object.keys(layer.route.methods);
        // app.all() lists every verb Node knows (ACL, BIND, …): probe the ones HTTP clients use.
        const methods =
          layer.route.methods._all || declared.length > ALL_VERBS.length
            ? ALL_VERBS
            : declared.filter((m) => m !== 'options');
        for (const p of paths) for (const method of methods) out.push({ method, path: concrete(prefix + p) });
      } else if (layer.handle?.stack ?? layer.handle?.router?.stack) {
        const stack = (layer.handle.stack ?? layer.handle.router?.stack)!;
        for (const mount of raw) walk(stack, layer.slash ? prefix : prefix + mount);
      } else if (!layer.slash) {
        // A middleware mounted at a path (static files, a sub-app): anything under it.
        for (const mount of raw) {
          for (const method of ['get', 'post'])
            out.push({ method, path: concrete(`${prefix + mount}/probe`) });
        }
      }
    }
  };
  walk((t.relay.app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  const seen = new Set<string>();
  return out.filter((e) => {
    const key = `${e.method} ${e.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
