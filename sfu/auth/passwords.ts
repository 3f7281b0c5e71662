import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { BusyError } from '../errors.js';

const scryptRaw = promisify(scryptCb) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** scrypt cost: about 50 ms per check on a small server, per OWASP's minimums. */
const params = { N: 2 ** 15, r: 8, p: 1, keylen: 32 };

/**
 * scrypt runs on libuv's thread pool (4 threads by default), which file
 * serving (HLS, documents) and token checks (WebCrypto) need too: a burst of
 * sign-ins once filled it and stalled everyone. One computation runs at a
 * time (there is one pool per process, so one limit per process); a few wait
 * their turn (about 50–200 ms each); more are refused as busy at once.
 */
const scryptSlots = { running: 0, max: 1, waiting: [] as (() => void)[], maxWaiting: 4 };

async function scrypt(...args: Parameters<typeof scryptRaw>): Promise<Buffer> {
  if (scryptSlots.running >= scryptSlots.max) {
    if (scryptSlots.waiting.length >= scryptSlots.maxWaiting) throw new BusyError('too many sign-ins at once: try again in a moment');
    await new Promise<void>((resolve) => scryptSlots.waiting.push(resolve));
  } else scryptSlots.running++;
  try {
    return await scryptRaw(...args);
  } finally {
    // The slot passes straight to the next in line (running stays counted), else it is freed.
    const next = scryptSlots.waiting.shift();
    if (next) next();
    else scryptSlots.running--;
  }
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

/** A password to hand to a new account: 16 random characters (96 bits), shown to the admin once. */
export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}
