import express from 'express';
import { z } from 'zod';
import type { OperatorAccounts } from '../auth/OperatorAccounts.js';
import type { TokenService } from '../auth/TokenService.js';
import { ForbiddenError } from '../errors.js';
import { operatorCookie, parseBody, tokenOf } from './authorize.js';

const signInBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) });
const sessionHours = 12;
export const changePasswordBody = z.object({
  current: z.string().min(1).max(200),
  next: z.string().min(10, 'at least 10 characters').max(200),
});

/** Operator sign-in with a name and password; the session is an HttpOnly cookie. */
export function createAuthApi(deps: { accounts: OperatorAccounts; tokens: TokenService; secureCookies: boolean }): express.Router {
  const router = express.Router();

  router.post('/sign-in', async (req, res) => {
    const { username, password } = parseBody(signInBody, req.body);
    const account = await deps.accounts.signIn(username, password);
    const token = await deps.tokens.sign(
      { sid: '*', sub: account.username, role: 'operator', name: account.displayName },
      sessionHours * 3600,
    );
    res.cookie(operatorCookie, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: deps.secureCookies,
      path: '/',
      maxAge: sessionHours * 3600 * 1000,
    });
    // The token is returned too, for the signaling socket and API clients.
    res.json({ username: account.username, displayName: account.displayName, token });
  });

  router.post('/password', async (req, res) => {
    const claims = await deps.tokens.verify(tokenOf(req));
    if (claims.role !== 'operator' || claims.sid !== '*') throw new ForbiddenError('only a signed-in operator has a password');
    const { current, next } = parseBody(changePasswordBody, req.body);
    await deps.accounts.changePassword(claims.sub, current, next);
    res.status(204).end();
  });

  router.post('/sign-out', (_req, res) => {
    res.clearCookie(operatorCookie, { path: '/' });
    res.status(204).end();
  });

  router.get('/me', async (req, res) => {
    const claims = await deps.tokens.verify(tokenOf(req));
    res.json({ username: claims.sub, displayName: claims.name, role: claims.role, token: tokenOf(req) });
  });

  return router;
}
