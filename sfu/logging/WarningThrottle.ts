import type { Logger } from '../logger.js';

interface Window {
  since: number;
  /** Warnings of this key not written since `since`. */
  held: number;
}

/**
 * Writes a warning that can come in floods (a refused connection, each of
 * thousands an attacker opens) once per key and window, then, with the next
 * one after the window, how many were held back: the log says what happens
 * without an attacker filling the disk through it. Bounded: beyond `maxKeys`
 * keys in a window, the rest share one key.
 */
export class WarningThrottle {
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(log: Logger, { windowMs = 60_000, maxKeys = 1024 }: { windowMs?: number; maxKeys?: number } = {}) {
    this.#log = log;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  /** Warns with `fields` and `message`, unless a warning of `key` was written less than a window ago. Returns whether it was written. */
  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now()): boolean {
    const slot = this.#slot(key, now);
    const window = this.#windows.get(slot);
    if (window && now - window.since < this.#windowMs) {
      window.held++;
      return false;
    }
    this.#windows.set(slot, { since: now, held: 0 });
    this.#log.warn(window?.held ? { ...fields, heldBack: window.held } : fields, message);
    return true;
  }

  /** The key a warning is counted under: its own, or the shared one when too many keys are in their window. */
  #slot(key: string, now: number): string {
    if (this.#windows.has(key) || this.#windows.size < this.#maxKeys) return key;
    for (const [k, w] of this.#windows) if (now - w.since >= this.#windowMs && w.held === 0) this.#windows.delete(k);
    return this.#windows.size < this.#maxKeys ? key : '\u0000many';
  }
}
