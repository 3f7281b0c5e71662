import type { NextFunction, Request, Response } from 'express';
import { parse as parseCookie } from 'cookie';
import { z } from 'zod';
import { allows, type Action, type TokenClaims } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { DiemcauError, ForbiddenError } from '../errors.js';

/** The cookie that carries a signed-in operator's token. */
export const operatorCookie = 'diemcau_operator';

/**
 * The bearer token, else the operator's sign-in cookie, else — for plain
 * reads a browser opens as a link (a document, a calendar feed) — `?token=`,
 * the same way invitation links carry it.
 */
export function tokenOf(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header?.startsWith('Bearer ')) return header.slice(7);
  const cookie = parseCookie(req.get('cookie') ?? '')[operatorCookie];
  if (cookie) return cookie;
  const query = req.query.token;
  return (req.method === 'GET' || req.method === 'HEAD') && typeof query === 'string' ? query : undefined;
}

/**
 * Express guard: the request's token must allow `action`, for the session in
 * the route's `:sid` when there is one. Puts the claims in res.locals.claims.
 */
export function authorize(tokens: TokenService, action: Action) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const claims = await tokens.verify(tokenOf(req));
    const sid = req.params.sid as string | undefined;
    if (sid && claims.sid !== sid && claims.sid !== '*') throw new ForbiddenError('the token is for another session');
    if (!allows(claims, action)) throw new ForbiddenError(`${bearerName(claims)} may not ${action}`);
    res.locals.claims = claims;
    next();
  };
}

/** How a refusal names who asked: "an observer account", "a point". */
export function bearerName(claims: TokenClaims): string {
  const name = claims.accountRole ? `${claims.accountRole} account` : claims.role;
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
}

export function claimsOf(res: Response): TokenClaims {
  return res.locals.claims as TokenClaims;
}

/** Validates a body against a schema; a bad one is a 400 naming the fields. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    throw new DiemcauError('bad-request', result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  return result.data;
}
