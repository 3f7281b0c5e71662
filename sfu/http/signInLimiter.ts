import { isIP, isIPv6 } from 'node:net';
import type { Request } from 'express';
import { RateLimitedError } from '../errors.js';

const minuteMs = 60_000;
/** The longest wait: long enough to make guessing hopeless, short enough not to lock out an office behind one NAT for long. */
const maxWaitMs = 15 * minuteMs;
/** Quiet this long, an address starts afresh; shorter would let one that waits out each 15-minute wait start again at one minute. */
const forgetAfterMs = 60 * minuteMs;
/** Addresses remembered at once; the least recently seen are forgotten first (memory stays bounded under a spread attack). */
const maxEntries = 50_000;

interface Entry {
  windowStart: number;
  count: number;
  /** The current wait, doubled by every attempt made while waiting. */
  waitMs: number;
  until: number;
  lastAt: number;
}

/**
 * The address a request came from: the socket's, or the client a trusted
 * proxy names in X-Forwarded-For (express's `trust proxy`, set from
 * DIEMCAU_TRUST_PROXY, off by default), so an X-Forwarded-For an attacker
 * writes is believed from the deployment's own proxies only. IPv4-mapped
 * IPv6 is plain IPv4; an IPv6 address counts by its /64, which one
 * subscriber usually holds whole.
 */
export function clientAddress(req: Request): string {
  // A trusted hop that forwards something other than an address (a header made up
  // behind it) names nobody: the socket's address counts, not a key of the sender's choosing.
  const named = req.ip !== undefined && isIP(req.ip) !== 0 ? req.ip : req.socket.remoteAddress;
  const raw = (named ?? 'unknown').toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (!isIPv6(raw)) return raw;
  const [head, tail = ''] = raw.split('::');
  const groups = [...head.split(':').filter(Boolean), ...Array<string>(8).fill('0')].slice(0, 8);
  if (raw.includes('::')) {
    const right = tail.split(':').filter(Boolean);
    groups.splice(8 - right.length, right.length, ...right);
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * Sign-in attempts per address: `perMinute` in a minute; past that the
 * address waits until its minute is over, and every attempt made while
 * waiting, and every further lockout, doubles the wait (up to 15 minutes;
 * forgotten after an hour of quiet). A person who mistypes a few
 * times waits about a minute; a script that keeps trying locks itself out and
 * costs only this check, never a password hash. Success does not reset the
 * count (signing in to one's own account must not buy guesses at another's).
 */
export class SignInLimiter {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Addresses remembered now: those seen in the last hour (forgotten at the next attempt after that). */
  get size(): number {
    return this.#entries.size;
  }

  /** Counts an attempt; throws RateLimitedError (429, Retry-After) when the address must wait. */
  attempt(address: string): void {
    const now = this.now();
    this.#forget(now);
    let entry = this.#entries.get(address);
    if (!entry || now - entry.lastAt > forgetAfterMs) entry = { windowStart: now, count: 0, waitMs: 0, until: 0, lastAt: now };
    // Moved to the end: the map stays in the order addresses were last seen.
    this.#entries.delete(address);
    this.#entries.set(address, entry);
    entry.lastAt = now;
    if (now >= entry.until && now - entry.windowStart >= minuteMs) {
      entry.windowStart = now;
      entry.count = 0;
    }
    if (now < entry.until || entry.count >= this.perMinute) {
      entry.waitMs = Math.min(maxWaitMs, Math.max(entry.windowStart + minuteMs - now, entry.waitMs * 2, 1000));
      entry.until = now + entry.waitMs;
      throw new RateLimitedError('too many sign-in attempts from this address: wait and try again', Math.ceil(entry.waitMs / 1000));
    }
    entry.count++;
  }

  /**
   * Drops the addresses quiet for an hour, and past `maxEntries` the least
   * recently seen; both are at the front of the map. An address forgotten
   * only when it came back would stay in memory for good: after an attack
   * from many addresses the map would never shrink again.
   */
  #forget(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size < maxEntries && now - entry.lastAt <= forgetAfterMs) return;
      this.#entries.delete(key);
    }
  }
}
