/**
 * The sign-in limit per address: what it remembers of an attack from many
 * addresses goes once the attack is over, as a lockout's hour of memory ends.
 */
import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../sfu/errors.js';
import { SignInLimiter } from '../../sfu/http/signInLimiter.js';

const minute = 60_000;

describe('the sign-in limit per address', () => {
  it('forgets the addresses of an attack an hour after it ended, though they never come back', () => {
    let now = Date.parse('2031-03-02T01:00:00Z');
    const limiter = new SignInLimiter(5, () => now);
    // Wrong passwords from a thousand addresses (a botnet, or the /64s of one IPv6 network).
    for (let i = 0; i < 1000; i++) {
      for (let n = 0; n < 7; n++) {
        try {
          limiter.attempt(`2001:db8:${i.toString(16)}::/64`);
        } catch (error) {
          expect(error).toBeInstanceOf(RateLimitedError);
        }
      }
    }
    expect(limiter.size).toBe(1000);
    // Half an hour later, an operator signs in: the attackers' lockouts still hold.
    now += 30 * minute;
    limiter.attempt('10.0.0.7');
    expect(limiter.size).toBe(1001);
    // An hour and a minute after the attack: only the operator's address is left.
    now += 31 * minute;
    limiter.attempt('10.0.0.7');
    expect(limiter.size).toBe(1);
  });

  it('still makes an address that keeps trying wait, and lets it start afresh after an hour of quiet', () => {
    let now = Date.parse('2031-03-02T01:00:00Z');
    const limiter = new SignInLimiter(2, () => now);
    limiter.attempt('198.51.100.4');
    limiter.attempt('198.51.100.4');
    expect(() => limiter.attempt('198.51.100.4')).toThrow(RateLimitedError);
    now += 61 * minute;
    expect(() => limiter.attempt('198.51.100.4')).not.toThrow();
  });
});
