import {
  accountRoles,
  passwordSchema,
  usernameSchema,
  type Account,
  type AccountPatch,
  type AccountRole,
  type TokenClaims,
} from '../../protocol/index.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/Store.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';

export { hashPassword, verifyPassword } from './passwords.js';
export { passwordSchema, usernameSchema } from '../../protocol/index.js';

export interface OperatorAccount {
  username: string;
  displayName: string;
  /** scrypt$N$r$p$salt$hash (base64url) */
  passwordHash: string;
  /** Absent on accounts stored before there were roles: see `admin`. */
  role?: AccountRole;
  /** Accounts stored before there were roles: true for the first admin. */
  admin?: boolean;
  /** A disabled account cannot sign in, and every token it holds is refused. */
  disabled?: boolean;
  createdAt: number;
  updatedAt?: number;
  createdBy?: string;
  /**
   * Raised by sign-out, a password change, and an admin disabling the account
   * or changing its role: its tokens carry it (`gen`), older ones are refused.
   * Absent = 0.
   */
  tokenGeneration?: number;
}

export const generationOf = (account: OperatorAccount): number => account.tokenGeneration ?? 0;

export const roleOf = (account: OperatorAccount): AccountRole => account.role ?? (account.admin ? 'admin' : 'operator');

const isEnabledAdmin = (account: OperatorAccount): boolean => roleOf(account) === 'admin' && !account.disabled;

/** The account as the API lists it: never its password hash or generation. */
export function describeAccount(account: OperatorAccount): Account {
  return {
    username: account.username,
    displayName: account.displayName,
    role: roleOf(account),
    disabled: account.disabled ?? false,
    createdAt: account.createdAt,
    updatedAt: account.updatedAt ?? account.createdAt,
    ...(account.createdBy ? { createdBy: account.createdBy } : {}),
  };
}

/** The claims an account's sign-in token carries: its token role for every session, and its account role. */
export function signInClaims(account: OperatorAccount): TokenClaims {
  const accountRole = roleOf(account);
  return {
    sid: '*',
    sub: account.username,
    role: accountRoles[accountRole].tokenRole,
    name: account.displayName,
    gen: generationOf(account),
    accountRole,
  };
}

/**
 * Operator accounts in the store, with scrypt password hashes. On the first
 * start an admin is created from DIEMCAU_ADMIN_USER/PASSWORD (or with a
 * generated password printed once in the log); admins create the others.
 */
export class OperatorAccounts {
  /** Changes that must see each other (the last-admin rule) run one at a time on this node. */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  async bootstrap(username: string, password?: string): Promise<{ username: string; generatedPassword?: string } | undefined> {
    if ((await this.store.list<OperatorAccount>('operators')).length > 0) return undefined;
    const generatedPassword = password ? undefined : generatePassword();
    await this.create({ username, displayName: 'Quản trị', password: password ?? generatedPassword!, role: 'admin' });
    this.logger.warn({ username }, 'created the first operator account');
    return { username, generatedPassword };
  }

  async list(): Promise<OperatorAccount[]> {
    const all = await this.store.list<OperatorAccount>('operators');
    return all.sort((a, b) => a.createdAt - b.createdAt || a.username.localeCompare(b.username));
  }

  async get(username: string): Promise<OperatorAccount> {
    const account = await this.store.get<OperatorAccount>('operators', username);
    if (!account) throw new NotFoundError(`no operator account ${username}`);
    return account;
  }

  /** A new account (an operator unless said otherwise); a name already taken, in any letter case, is a conflict. */
  async create(input: {
    username: string;
    displayName: string;
    password: string;
    role?: AccountRole;
    createdBy?: string;
  }): Promise<OperatorAccount> {
    const username = usernameSchema.parse(input.username);
    const passwordHash = await hashPassword(passwordSchema.parse(input.password));
    return this.#serially(async () => {
      // "Nguyen" and "nguyen" signing in as two people would only confuse the audit log.
      const lower = username.toLowerCase();
      if ((await this.list()).some((a) => a.username.toLowerCase() === lower)) throw new ConflictError(`the username ${username} is taken`);
      const now = Date.now();
      const account: OperatorAccount = {
        username,
        displayName: input.displayName,
        passwordHash,
        role: input.role ?? 'operator',
        createdAt: now,
        updatedAt: now,
        ...(input.createdBy ? { createdBy: input.createdBy } : {}),
      };
      // insert() refuses an existing key atomically: two nodes creating the same name at once cannot both win.
      if (!(await this.store.insert('operators', username, account))) throw new ConflictError(`the username ${username} is taken`);
      return account;
    });
  }

  /**
   * An admin's change. Disabling or a new role ends every session of the
   * account (its generation is raised): the next request of any of its
   * tokens is refused. Returns the account before and after.
   */
  async update(username: string, patch: AccountPatch): Promise<{ before: OperatorAccount; after: OperatorAccount }> {
    return this.#serially(async () => {
      const before = await this.get(username);
      const wanted: OperatorAccount = {
        ...before,
        ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
        ...(patch.role !== undefined ? { role: patch.role } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      };
      const losesAdmin = isEnabledAdmin(before) && !isEnabledAdmin(wanted);
      if (losesAdmin) await this.#refuseLastAdmin(username, patch.disabled ? 'disabled' : 'demoted');
      const endsSessions = roleOf(wanted) !== roleOf(before) || (!before.disabled && !!wanted.disabled);
      const after = await this.store.update<OperatorAccount>('operators', username, (stored) =>
        stored
          ? {
              ...stored,
              displayName: wanted.displayName,
              role: roleOf(wanted),
              disabled: wanted.disabled ?? false,
              updatedAt: Date.now(),
              tokenGeneration: generationOf(stored) + (endsSessions ? 1 : 0),
            }
          : stored,
      );
      if (!after) throw new NotFoundError(`no operator account ${username}`);
      if (losesAdmin)
        await this.#undoIfNoAdminLeft(() =>
          this.store.put('operators', username, { ...after, role: roleOf(before), disabled: before.disabled ?? false }),
        );
      return { before, after };
    });
  }

  /** Deletes an account: its tokens stop admitting at once (checkClaims finds no account). */
  async delete(username: string): Promise<OperatorAccount> {
    return this.#serially(async () => {
      const account = await this.get(username);
      const losesAdmin = isEnabledAdmin(account);
      if (losesAdmin) await this.#refuseLastAdmin(username, 'deleted');
      if (!(await this.store.delete('operators', username))) throw new NotFoundError(`no operator account ${username}`);
      if (losesAdmin) await this.#undoIfNoAdminLeft(() => this.store.put('operators', username, account));
      return account;
    });
  }

  /**
   * Replaces an operator's password after checking the current one; every
   * token signed in before stops working. Returns the account as changed
   * (its new generation, for the caller's fresh token).
   */
  async changePassword(username: string, current: string, next: string): Promise<OperatorAccount> {
    const account = await this.signIn(username, current);
    const passwordHash = await hashPassword(passwordSchema.parse(next));
    return this.#bump(account.username, { passwordHash });
  }

  /** Signs the operator out everywhere: every token signed in so far stops working. */
  async signOutEverywhere(username: string): Promise<void> {
    await this.#bump(username, {});
  }

  /**
   * The check every request's token gets (TokenService.check): an account's
   * token (one with `gen`) admits only while its account exists, is enabled
   * and has not signed out, changed its password or its role since. Read from
   * the store each time, so a change on one node holds on every node.
   */
  async checkClaims(claims: TokenClaims): Promise<void> {
    if (claims.gen === undefined) return;
    const account = await this.store.get<OperatorAccount>('operators', claims.sub);
    if (!account) throw new UnauthorizedError('this operator account no longer exists');
    if (account.disabled) throw new UnauthorizedError('this operator account is disabled');
    if (generationOf(account) !== claims.gen) throw new UnauthorizedError('signed out: sign in again');
    if (claims.accountRole !== undefined && claims.accountRole !== roleOf(account)) {
      throw new UnauthorizedError("the account's role has changed: sign in again");
    }
  }

  /** Checks a sign-in; the same error for an unknown name and a wrong password. */
  async signIn(username: string, password: string): Promise<OperatorAccount> {
    const account = await this.store.get<OperatorAccount>('operators', username);
    // Hash anyway for unknown names, so timing does not reveal which names exist.
    const ok = account ? await verifyPassword(password, account.passwordHash) : (await hashPassword(password), false);
    if (!account || !ok) throw new UnauthorizedError('wrong name or password');
    // Said only to someone who knows the password: the account exists, and an admin disabled it.
    if (account.disabled) throw new ForbiddenError('this operator account is disabled');
    return account;
  }

  async #bump(username: string, change: Partial<OperatorAccount>): Promise<OperatorAccount> {
    const updated = await this.store.update<OperatorAccount>('operators', username, (stored) =>
      stored ? { ...stored, ...change, tokenGeneration: generationOf(stored) + 1 } : stored,
    );
    if (!updated) throw new UnauthorizedError('this operator account no longer exists');
    return updated;
  }

  /** Without another enabled admin, nobody could manage the accounts any more. */
  async #refuseLastAdmin(username: string, what: 'disabled' | 'demoted' | 'deleted'): Promise<void> {
    const others = (await this.list()).filter((a) => a.username !== username && isEnabledAdmin(a));
    if (others.length === 0) throw new ConflictError(`the last enabled admin cannot be ${what}: make another account an admin first`);
  }

  /**
   * Another node (several on one Redis) may have taken away the other admin
   * at the same moment: checked again after the write, and undone if no
   * enabled admin is left. Both changes may then be refused; never both kept.
   */
  async #undoIfNoAdminLeft(undo: () => Promise<void>): Promise<void> {
    if ((await this.list()).some(isEnabledAdmin)) return;
    await undo();
    throw new ConflictError('the last enabled admin cannot be removed: make another account an admin first');
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#changes.then(work, work);
    this.#changes = run.catch(() => undefined);
    return run;
  }
}
