import express, { type Request, type Response } from 'express';
import { parse as parseCookie } from 'cookie';
import {
  passwordChangeSchema,
  sessionTokenBodySchema,
  signInSchema,
  type SessionToken,
  type SignedIn,
  type TokenHolder,
} from '../../protocol/index.js';
import { signInClaims, type OperatorAccount, type OperatorAccounts } from '../auth/OperatorAccounts.js';
import type { TokenService } from '../auth/TokenService.js';
import { ForbiddenError } from '../errors.js';
import { operatorCookie, parseBody, tokenOf } from './authorize.js';
import { clientAddress, SignInLimiter } from './signInLimiter.js';

const sessionHours = 12;

export interface AuthApiDeps {
  accounts: OperatorAccounts;
  tokens: TokenService;
  secureCookies: boolean;
  /** Password checks (sign-in, password change) per minute from one address. */
  maxSignInPerMinute: number;
}

/**
 * Operator sign-in with a name and password; the session is an HttpOnly
 * cookie. Sign-out and a password change end every session of the account
 * (its token generation is raised), not only the one making the call: a
 * shared or lost device is signed out with the rest.
 */
export function createAuthApi(deps: AuthApiDeps): express.Router {
  const router = express.Router();
  // Every password check costs a scrypt hash: counted per address before any is computed.
  const limiter = new SignInLimiter(deps.maxSignInPerMinute);

  /** A sign-in token for the account's current generation, set as the cookie. */
  const issue = async (res: Response, account: OperatorAccount): Promise<string> => {
    const token = await deps.tokens.sign(signInClaims(account), sessionHours * 3600);
    res.cookie(operatorCookie, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: deps.secureCookies,
      path: '/',
      maxAge: sessionHours * 3600 * 1000,
    });
    return token;
  };

  /** The claims of an account's own sign-in (any account role): not a link minted for someone. */
  const signedInAccount = async (req: Request) => {
    const claims = await deps.tokens.verify(tokenOf(req));
    if (claims.sid !== '*' || claims.gen === undefined) throw new ForbiddenError('this needs a signed-in operator account');
    return claims;
  };

  router.post('/sign-in', async (req, res) => {
    limiter.attempt(clientAddress(req));
    const { username, password } = parseBody(signInSchema, req.body);
    const account = await deps.accounts.signIn(username, password);
    const token = await issue(res, account);
    // The token is returned too, for the signaling socket and API clients (it is never handed out again).
    res.json({ username: account.username, displayName: account.displayName, token } satisfies SignedIn);
  });

  router.post('/password', async (req, res) => {
    const claims = await signedInAccount(req);
    const { current, next } = parseBody(passwordChangeSchema, req.body);
    limiter.attempt(clientAddress(req));
    const account = await deps.accounts.changePassword(claims.sub, current, next);
    // Every earlier token is void now; the browser that made the change stays signed in with a fresh cookie.
    if (parseCookie(req.get('cookie') ?? '')[operatorCookie]) await issue(res, account);
    res.status(204).end();
  });

  router.post('/sign-out', async (req, res) => {
    // A token that no longer admits (expired, already signed out) has nothing left to end.
    const claims = await deps.tokens.verify(tokenOf(req)).catch(() => undefined);
    if (claims?.sid === '*' && claims.gen !== undefined) await deps.accounts.signOutEverywhere(claims.sub);
    res.clearCookie(operatorCookie, { path: '/' });
    res.status(204).end();
  });

  router.get('/me', async (req, res) => {
    const claims = await deps.tokens.verify(tokenOf(req));
    // Never the token itself: the cookie is HttpOnly so that page scripts cannot read it.
    res.json({
      username: claims.sub,
      displayName: claims.name,
      role: claims.role,
      ...(claims.accountRole ? { accountRole: claims.accountRole } : {}),
    } satisfies TokenHolder);
  });

  /**
   * The signed-in account's token for one session: the control room's
   * signaling socket, under the account's name and token role (an observer
   * joins as a viewer). It carries the account's generation, so disabling
   * the account or signing out ends that socket too.
   */
  router.post('/session-token', async (req, res) => {
    const claims = await signedInAccount(req);
    const { sessionId } = parseBody(sessionTokenBodySchema, req.body);
    const token = await deps.tokens.sign(
      { sid: sessionId, sub: claims.sub, role: claims.role, name: claims.name, gen: claims.gen },
      sessionHours * 3600,
    );
    res.status(201).json({ token } satisfies SessionToken);
  });

  return router;
}
