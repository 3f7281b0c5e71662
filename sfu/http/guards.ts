import type { NextFunction, Request, Response } from 'express';
import { allows, type Action, type TokenClaims } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { ForbiddenError } from '../errors.js';
import { bearerName, tokenOf } from './authorize.js';

/** The bearer token or the sign-in cookie, else `?token=` (links a calendar app or a PDF viewer opens). */
export function tokenOrQueryOf(req: Request): string | undefined {
  return tokenOf(req) ?? (typeof req.query.token === 'string' ? req.query.token : undefined);
}

/**
 * Express guard for deployment-wide management (points, groups, the whole
 * schedule, accounts): a token for every session (`sid: '*'`) whose role, or
 * account role (protocol/roles.ts `allows`), allows `action`. An operator
 * link minted for one session runs that session only.
 */
export function authorizeAll(tokens: TokenService, action: Action, options: { queryToken?: boolean } = {}) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const claims = await tokens.verify(options.queryToken ? tokenOrQueryOf(req) : tokenOf(req));
    if (!allows(claims, action)) throw new ForbiddenError(`${bearerName(claims)} may not ${action}`);
    if (claims.sid !== '*') throw new ForbiddenError('this needs an operator signed in for every session');
    res.locals.claims = claims satisfies TokenClaims;
    next();
  };
}
