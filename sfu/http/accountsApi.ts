import express from 'express';
import { accountCreateSchema, accountPatchSchema, type AccountCreated, type AccountPatch } from '../../protocol/index.js';
import type { AuditLog } from '../audit/AuditLog.js';
import { describeAccount, roleOf, type OperatorAccount, type OperatorAccounts } from '../auth/OperatorAccounts.js';
import { generatePassword } from '../auth/passwords.js';
import type { TokenService } from '../auth/TokenService.js';
import type { Logger } from '../logger.js';
import { claimsOf, parseBody } from './authorize.js';
import { authorizeAll } from './guards.js';
import { auditor } from './pointsApi.js';

export interface AccountsApiDeps {
  accounts: OperatorAccounts;
  tokens: TokenService;
  audit: AuditLog;
  logger: Logger;
  /** Closes this node's signaling sockets of an account whose sessions end; returns how many. */
  endSockets(username: string, reason: string): number;
}

/** The audit entries one change makes: each field changed is its own action, so the log reads plainly. */
function changesOf(before: OperatorAccount, patch: AccountPatch): { action: string; details: Record<string, unknown> }[] {
  const out: { action: string; details: Record<string, unknown> }[] = [];
  if (patch.role !== undefined && patch.role !== roleOf(before)) {
    out.push({ action: 'account.role', details: { from: roleOf(before), to: patch.role } });
  }
  if (patch.disabled !== undefined && patch.disabled !== (before.disabled ?? false)) {
    out.push({ action: patch.disabled ? 'account.disable' : 'account.enable', details: {} });
  }
  if (patch.displayName !== undefined && patch.displayName !== before.displayName) {
    out.push({ action: 'account.rename', details: { from: before.displayName, to: patch.displayName } });
  }
  return out;
}

/**
 * Operator accounts (`/api/accounts`): a signed-in admin lists, creates,
 * changes (role, name, disabled) and deletes them. Every change is in the
 * audit log with the admin who made it. Disabling, a new role and deletion
 * end the account's sessions at once: its tokens are refused from the next
 * request (generation raised, or no account) and its sockets here are closed.
 */
export function createAccountsApi(deps: AccountsApiDeps): express.Router {
  const router = express.Router();
  const record = auditor(deps.audit, deps.logger);
  router.use(authorizeAll(deps.tokens, 'accounts.manage'));

  const endSessions = (username: string, reason: string) => {
    const closed = deps.endSockets(username, reason);
    if (closed) deps.logger.info({ username, closed, reason }, "closed an account's signaling sockets");
  };

  router.get('/', async (_req, res) => {
    res.json({ accounts: (await deps.accounts.list()).map(describeAccount) });
  });

  router.post('/', async (req, res) => {
    const body = parseBody(accountCreateSchema, req.body);
    const password = body.password ?? generatePassword();
    const actor = claimsOf(res).sub;
    const account = await deps.accounts.create({ ...body, password, createdBy: actor });
    await record({
      actor,
      action: 'account.create',
      target: account.username,
      details: { role: body.role, displayName: account.displayName, generatedPassword: body.password === undefined },
    });
    const reply: AccountCreated = { account: describeAccount(account), password };
    // The password travels once, to the admin who set it; nothing may keep a copy of this reply.
    res.set('Cache-Control', 'no-store').status(201).json(reply);
  });

  router.get('/:username', async (req, res) => {
    res.json(describeAccount(await deps.accounts.get(String(req.params.username))));
  });

  router.patch('/:username', async (req, res) => {
    const patch = parseBody(accountPatchSchema, req.body);
    const { before, after } = await deps.accounts.update(String(req.params.username), patch);
    const actor = claimsOf(res).sub;
    for (const change of changesOf(before, patch)) await record({ actor, target: after.username, ...change });
    if (roleOf(after) !== roleOf(before)) endSessions(after.username, 'the account’s role was changed: sign in again');
    if (after.disabled && !before.disabled) endSessions(after.username, 'the account was disabled');
    res.json(describeAccount(after));
  });

  router.delete('/:username', async (req, res) => {
    const account = await deps.accounts.delete(String(req.params.username));
    await record({ actor: claimsOf(res).sub, action: 'account.delete', target: account.username, details: { role: roleOf(account) } });
    endSessions(account.username, 'the account was deleted');
    res.status(204).end();
  });

  return router;
}
