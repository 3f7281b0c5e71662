import type { Express } from 'express';

/** What express 5 keeps of a mounted router or a route (not in its types). */
interface ExpressLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: ExpressLayer[] };
  rawPath?: unknown;
}

/**
 * Every route an express app serves with a plain string path, as
 * `METHOD /full/path` (mount paths joined), for checking the OpenAPI
 * document (sfu/http/openapi.ts) against the server. Regular-expression routes (the web app) are skipped.
 */
export function expressRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const walk = (stack: ExpressLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') continue;
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method, path: join(prefix, layer.route.path) });
        }
      } else if (layer.handle.stack) {
        const at = typeof layer.rawPath === 'string' ? layer.rawPath : '/';
        walk(layer.handle.stack, join(prefix, at));
      }
    }
  };
  walk((app as unknown as { router: { stack: ExpressLayer[] } }).router.stack, '');
  return out;
}

function join(a: string, b: string): string {
  const joined = `${a.replace(/\/$/, '')}/${b.replace(/^\//, '')}`;
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}
