import type { Request, RequestHandler } from 'express';
import { parse as parseCookie } from 'cookie';
import { ForbiddenError } from '../errors.js';
import { operatorCookie } from './authorize.js';

const stateChanging = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The origin (scheme://host:port) of an Origin or Referer header; undefined for "null" or anything unparseable. */
function originOf(value: string): URL | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses cross-site state changes made with the operator's cookie (CSRF).
 * SameSite=Strict alone is not enough: an older browser ignores it, and a
 * sibling subdomain is "same site". A browser always names the page that
 * sent a POST/PUT/PATCH/DELETE in `Origin` (else `Referer`), and a page
 * cannot forge either; the request must come from this server's own origin:
 * its public URL, or the host it was reached at. A cookie request naming no
 * origin at all is refused too (browsers name one; scripts use a bearer
 * token). Bearer-token requests are not affected: a browser never adds that
 * header by itself. A sign-in from another site (login CSRF) is refused too.
 */
export function refuseCrossSite(publicUrl: string): RequestHandler {
  const own = new URL(publicUrl).origin;
  const sameOrigin = (req: Request, from: URL) => from.origin === own || from.host === req.get('host');
  return (req, _res, next) => {
    if (!stateChanging.has(req.method) || req.get('authorization')?.startsWith('Bearer ')) return next();
    const withCookie = !!parseCookie(req.get('cookie') ?? '')[operatorCookie];
    const named = req.get('origin') ?? req.get('referer');
    if (named === undefined) {
      if (withCookie) throw new ForbiddenError('a request with the sign-in cookie must come from this site (no Origin or Referer)');
      return next();
    }
    const from = originOf(named);
    if (!from || !sameOrigin(req, from)) throw new ForbiddenError('a cross-site request is refused');
    next();
  };
}
