import type { NextFunction, Request, Response } from 'express';
import { can, type Action, type TokenClaims } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { ForbiddenError } from '../errors.js';
import { tokenOf } from './authorize.js';

/** The bearer token or the sign-in cookie, else `?token=` (links a calendar app or a PDF viewer opens). */
export function tokenOrQueryOf(req: Request): string | undefined {
  return tokenOf(req) ?? (typeof req.query.token === 'string' ? req.query.token : undefined);
}

/**
 * Express guard for deployment-wide management (points, groups, the whole
 * schedule): an operator signed in for every session (`sid: '*'`). An
 * operator link minted for one session runs that session only.
 */
export function authorizeAll(tokens: TokenService, action: Action, options: { queryToken?: boolean } = {}) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const claims = await tokens.verify(options.queryToken ? tokenOrQueryOf(req) : tokenOf(req));
    if (!can(claims.role, action)) throw new ForbiddenError(`a ${claims.role} may not ${action}`);
    if (claims.sid !== '*') throw new ForbiddenError('this needs an operator signed in for every session');
    res.locals.claims = claims satisfies TokenClaims;
    next();
  };
}
