import { randomUUID } from 'node:crypto';
import type { SessionStatus } from '../../protocol/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Room } from './Room.js';

export interface SessionRecord {
  id: string;
  title: string;
  createdAt: number;
  status: SessionStatus;
}

/**
 * The sessions this server knows and the live Room of each. A Room is made
 * when the first participant arrives and dropped when the session ends.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #rooms = new Map<string, Promise<Room>>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly logger: Logger,
    private readonly maxIncomingBitrate: number,
  ) {}

  create(input: { id?: string; title: string }): SessionRecord {
    const id = input.id ?? randomUUID().slice(0, 8);
    if (this.#sessions.has(id)) throw new ConflictError(`session ${id} already exists`);
    const record: SessionRecord = { id, title: input.title, createdAt: Date.now(), status: 'waiting' };
    this.#sessions.set(id, record);
    return record;
  }

  list(): SessionRecord[] {
    return [...this.#sessions.values()];
  }

  get(id: string): SessionRecord {
    const record = this.#sessions.get(id);
    if (!record) throw new NotFoundError(`no session ${id}`);
    return record;
  }

  /** The running Room of a session, created on first use. */
  async room(id: string): Promise<Room> {
    const record = this.get(id);
    if (record.status === 'ended') throw new ConflictError('the session has ended');
    let pending = this.#rooms.get(id);
    if (!pending) {
      pending = Room.create({
        id,
        title: record.title,
        pool: this.pool,
        logger: this.logger,
        maxIncomingBitrate: this.maxIncomingBitrate,
      });
      this.#rooms.set(id, pending);
      pending.then(
        (room) => {
          room.on('snapshot', (s) => (record.status = s.status));
          room.once('close', () => this.#rooms.delete(id));
        },
        () => this.#rooms.delete(id),
      );
    }
    return pending;
  }

  /** The Room if it is running, without creating one. */
  async runningRoom(id: string): Promise<Room | undefined> {
    return this.#rooms.get(id);
  }

  async close(): Promise<void> {
    for (const pending of this.#rooms.values()) (await pending.catch(() => undefined))?.close();
    this.#rooms.clear();
  }
}
