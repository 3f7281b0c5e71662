import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { writeFileAtomic } from '../../recorder/atomicWrite.js';
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
  /** Members may watch the live stream and the archive without a token. */
  public: boolean;
}

export interface SessionRegistryEvents {
  /** A session's Room was created (first participant, or restored after a restart). */
  room: [room: Room, record: SessionRecord];
}

/**
 * The sessions this server knows and the live Room of each. Records are kept
 * in a file under the data folder, so a restarted server knows which
 * sessions were on air and puts them back on air.
 */
export class SessionRegistry extends EventEmitter<SessionRegistryEvents> {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #rooms = new Map<string, Promise<Room>>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly logger: Logger,
    private readonly maxIncomingBitrate: number,
    private readonly file?: string,
  ) {
    super();
    if (file && fs.existsSync(file)) {
      for (const record of JSON.parse(fs.readFileSync(file, 'utf8')) as SessionRecord[]) {
        this.#sessions.set(record.id, { ...record, public: record.public ?? true });
      }
    }
  }

  create(input: { id?: string; title: string; public?: boolean }): SessionRecord {
    const id = input.id ?? randomUUID().slice(0, 8);
    if (this.#sessions.has(id)) throw new ConflictError(`session ${id} already exists`);
    const record: SessionRecord = {
      id,
      title: input.title,
      createdAt: Date.now(),
      status: 'waiting',
      public: input.public ?? true,
    };
    this.#sessions.set(id, record);
    this.#save();
    return record;
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
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
          room.on('snapshot', (s) => {
            if (record.status === s.status) return;
            record.status = s.status;
            this.#save();
          });
          room.once('close', () => this.#rooms.delete(id));
          this.emit('room', room, record);
        },
        () => this.#rooms.delete(id),
      );
    }
    return pending;
  }

  /** Puts back on air the sessions that were live when the server stopped. */
  async restoreLive(): Promise<Room[]> {
    const rooms: Room[] = [];
    for (const record of this.#sessions.values()) {
      if (record.status !== 'live') continue;
      const room = await this.room(record.id);
      room.goLive();
      this.logger.info({ session: record.id }, 'session restored on air after restart');
      rooms.push(room);
    }
    return rooms;
  }

  /** The Room if it is running, without creating one. */
  async runningRoom(id: string): Promise<Room | undefined> {
    return this.#rooms.get(id);
  }

  async close(): Promise<void> {
    for (const pending of this.#rooms.values()) (await pending.catch(() => undefined))?.close();
    this.#rooms.clear();
  }

  #save(): void {
    if (this.file) writeFileAtomic(this.file, JSON.stringify([...this.#sessions.values()], null, 2));
  }
}
