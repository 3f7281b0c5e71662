import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/Store.js';

const scrypt = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt cost: about 50 ms per check on a small server, per OWASP's minimums. */
const params = { N: 2 ** 15, r: 8, p: 1, keylen: 32 };

export const usernameSchema = z
  .string()
  .trim()
  .min(2)
  .max(64)
  .regex(/^[a-zA-Z0-9_.-]+$/);
export const passwordSchema = z.string().min(10, 'at least 10 characters').max(200);

export interface OperatorAccount {
  username: string;
  displayName: string;
  /** scrypt$N$r$p$salt$hash (base64url) */
  passwordHash: string;
  admin: boolean;
  createdAt: number;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, params.keylen, { N: params.N, r: params.r, p: params.p, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(actual, expected);
}

/**
 * Operator sign-in: accounts in the store with scrypt password hashes. On the
 * first start an admin is created from DIEMCAU_ADMIN_USER/PASSWORD (or with a
 * generated password printed once in the log).
 */
export class OperatorAccounts {
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  async bootstrap(username: string, password?: string): Promise<{ username: string; generatedPassword?: string } | undefined> {
    if ((await this.store.list<OperatorAccount>('operators')).length > 0) return undefined;
    const generatedPassword = password ? undefined : randomBytes(12).toString('base64url');
    await this.create({ username, displayName: 'Quản trị', password: password ?? generatedPassword!, admin: true });
    this.logger.warn({ username }, 'created the first operator account');
    return { username, generatedPassword };
  }

  async create(input: { username: string; displayName: string; password: string; admin?: boolean }): Promise<OperatorAccount> {
    const username = usernameSchema.parse(input.username);
    const account: OperatorAccount = {
      username,
      displayName: input.displayName,
      passwordHash: await hashPassword(passwordSchema.parse(input.password)),
      admin: input.admin ?? false,
      createdAt: Date.now(),
    };
    await this.store.put('operators', username, account);
    return account;
  }

  /** Replaces an operator's password after checking the current one. */
  async changePassword(username: string, current: string, next: string): Promise<void> {
    const account = await this.signIn(username, current);
    const passwordHash = await hashPassword(passwordSchema.parse(next));
    await this.store.update<OperatorAccount>('operators', account.username, (stored) => (stored ? { ...stored, passwordHash } : stored));
  }

  /** Checks a sign-in; the same error for an unknown name and a wrong password. */
  async signIn(username: string, password: string): Promise<OperatorAccount> {
    const account = await this.store.get<OperatorAccount>('operators', username);
    // Hash anyway for unknown names, so timing does not reveal which names exist.
    const ok = account ? await verifyPassword(password, account.passwordHash) : (await hashPassword(password), false);
    if (!account || !ok) throw new UnauthorizedError('wrong name or password');
    return account;
  }
}
