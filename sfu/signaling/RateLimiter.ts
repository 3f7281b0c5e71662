/** What the limiter says of one more request. */
export type RateDecision = 'admitted' | 'limited' | 'flooding';

/**
 * A token bucket for one connection's requests: `perSecond` on average, a
 * burst of twice that (a browser joining sends a handful at once). A client
 * that keeps sending after it was told to slow down — another whole burst
 * refused since its last admitted request — is flooding, and is let go.
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;
  #refusedInARow = 0;

  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = 2 * perSecond;
    this.#now = now;
    this.#tokens = this.#burst;
    this.#refilledAt = now();
  }

  take(): RateDecision {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#perSecond);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#refusedInARow = 0;
      return 'admitted';
    }
    this.#refusedInARow++;
    return this.#refusedInARow > this.#burst ? 'flooding' : 'limited';
  }
}
