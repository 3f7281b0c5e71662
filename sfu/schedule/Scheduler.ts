import { MovedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { scheduleAction } from './scheduleAction.js';

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
 * Opens scheduled sessions at their start time — in pre-show, or on air
 * (the recorder starting with it) where the operator let the scheduler do
 * it — and closes them at their end time (scheduleAction.ts). Extending a
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
        const { sessions, logger } = this.#o;
        switch (scheduleAction(record, now)) {
          case 'go-on-air':
            logger.info({ session: record.id }, 'putting a scheduled session on air');
            (await sessions.room(record.id)).goLive('scheduler');
            break;
          case 'open-pre-show':
            logger.info({ session: record.id }, 'opening a scheduled session in pre-show: on air waits for the studio or an operator');
            await sessions.room(record.id);
            await sessions.update(record.id, (r) => (r.status === 'scheduled' ? { ...r, status: 'waiting' } : r));
            break;
          case 'end': {
            logger.info({ session: record.id }, 'closing session at its scheduled end');
            const room = await sessions.runningRoom(record.id);
            if (room) await room.end('scheduler');
            else await sessions.update(record.id, (r) => ({ ...r, status: 'ended' }));
            break;
          }
          case 'mark-ended':
            // Its whole slot passed while the server was down: it never took place.
            await sessions.update(record.id, (r) => ({ ...r, status: 'ended' }));
            break;
          case null:
            break;
        }
      } catch (error) {
        // Another node runs this session and its own scheduler acts on it.
        if (error instanceof MovedError) continue;
        this.#o.logger.error({ err: error, session: record.id }, 'scheduler could not act on a session');
      }
    }
  }
}
