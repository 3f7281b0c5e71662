import { MovedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';

export type Clock = () => number;

export interface SchedulerOptions {
  sessions: SessionRegistry;
  logger: Logger;
  /** Injectable for tests; Date.now by default. */
  clock?: Clock;
  /** How often the schedule is checked. */
  intervalMs?: number;
}

/**
 * Opens scheduled sessions at their start time (they go on air, and the
 * recorder starts with them) and closes them at their end time. Extending a
 * session is moving its end. Cancelled sessions never open.
 */
export class Scheduler {
  readonly #o: Required<SchedulerOptions>;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;

  constructor(options: SchedulerOptions) {
    this.#o = { clock: Date.now, intervalMs: 1000, ...options };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.intervalMs);
    void this.tick();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One look at the schedule; tests call it after moving the clock. */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = null));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const now = this.#o.clock();
    for (const record of this.#o.sessions.list()) {
      try {
        const due = record.startsAt !== undefined && record.startsAt <= now;
        const over = record.endsAt !== undefined && record.endsAt <= now;
        if ((record.status === 'scheduled' || record.status === 'waiting') && due && !over) {
          this.#o.logger.info({ session: record.id }, 'opening scheduled session');
          (await this.#o.sessions.room(record.id)).goLive('scheduler');
        } else if (record.status === 'live' && over) {
          this.#o.logger.info({ session: record.id }, 'closing session at its scheduled end');
          const room = await this.#o.sessions.runningRoom(record.id);
          if (room) await room.end('scheduler');
          else await this.#o.sessions.update(record.id, (r) => ({ ...r, status: 'ended' }));
        } else if (record.status === 'scheduled' && over) {
          // Its whole slot passed while the server was down: it never took place.
          await this.#o.sessions.update(record.id, (r) => ({ ...r, status: 'ended' }));
        }
      } catch (error) {
        // Another node runs this session and its own scheduler acts on it.
        if (error instanceof MovedError) continue;
        this.#o.logger.error({ err: error, session: record.id }, 'scheduler could not act on a session');
      }
    }
  }
}
