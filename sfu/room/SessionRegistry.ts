import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  defaultTimeZone,
  identityPattern,
  type AgendaItem,
  type SessionInput,
  type SessionRecord,
  sessionInputSchema,
} from '../../protocol/index.js';
import { ConflictError, MovedError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import type { Store, Unsubscribe } from '../store/Store.js';
import { Room, type RoomControls } from './Room.js';

export type { SessionRecord };

/**
 * Where a session's Room may run when several nodes share a deployment: the
 * registry claims a session before it opens its Room here, and releases it
 * when the Room closes. `cluster/RoomDirectory` is the implementation.
 */
export interface RoomPlacement {
  /** This node's name. */
  readonly node: string;
  claim(sessionId: string): Promise<{ node: string; url: string }>;
  release(sessionId: string): Promise<void>;
}

/** Where the operator's start and stop of a session's recording go (the recording service). */
export interface SessionRecording {
  /** Whether the session has a recorder here (one that could not start leaves it without). */
  has(sessionId: string): boolean;
  start(sessionId: string, actor: string): Promise<void>;
  stop(sessionId: string, actor: string): Promise<void>;
}

export interface SessionRegistryOptions {
  store: Store;
  pool: WorkerPool;
  logger: Logger;
  /** The most a browser may send, in bits per second. */
  maxIncomingBitrate: number;
  /** Which node runs which session's Room (several nodes on Redis). */
  directory?: RoomPlacement;
  /** Absent where this server cannot record (no ffmpeg). */
  recording?: SessionRecording;
}

export interface SessionRegistryEvents {
  /** A session's Room was created (first participant, opened on schedule, or restored). */
  room: [room: Room, record: SessionRecord];
  /** A session record was created or changed (here or on another node). */
  changed: [record: SessionRecord];
}

/**
 * The sessions this deployment knows — scheduled, on air, ended — and the
 * live Room of each on this node. Records live in the store (so a restarted
 * server, or another node, knows them); this node keeps a copy for quick
 * reads and refreshes it when another node announces a change.
 */
export class SessionRegistry extends EventEmitter<SessionRegistryEvents> {
  readonly #records = new Map<string, SessionRecord>();
  readonly #rooms = new Map<string, Promise<Room>>();
  #unsubscribe: Unsubscribe | undefined;
  #stopFollowingStore: (() => void) | undefined;

  private readonly store: Store;
  private readonly pool: WorkerPool;
  private readonly logger: Logger;
  private readonly maxIncomingBitrate: number;
  private readonly directory?: RoomPlacement;
  readonly #recording?: SessionRecording;

  constructor(options: SessionRegistryOptions) {
    super();
    this.store = options.store;
    this.pool = options.pool;
    this.logger = options.logger;
    this.maxIncomingBitrate = options.maxIncomingBitrate;
    this.directory = options.directory;
    this.#recording = options.recording;
  }

  /** Reads every session from the store and listens for other nodes' changes. */
  async load(): Promise<void> {
    for (const record of await this.store.list<SessionRecord>('sessions')) {
      // A record written before the identity rule was tightened (an id such as
      // '.x') would become a hidden or parent folder: it is left out, loudly.
      if (!identityPattern.test(record.id)) {
        this.logger.error({ session: record.id }, 'a stored session has an invalid id; it is not loaded');
        continue;
      }
      this.#records.set(record.id, record);
    }
    this.#unsubscribe = await this.store.subscribe('sessions', (message) => {
      const id = (message as { id?: string }).id;
      if (id) void this.refresh(id);
    });
    // Changes announced while this node could not hear (Redis away) are read again once it is back.
    // A Redis that came back empty has lost the records: what this node knows is kept.
    this.#stopFollowingStore = this.store.onRestored(({ emptied }) => void (emptied ? undefined : this.#resync()));
  }

  async #resync(): Promise<void> {
    try {
      for (const record of await this.store.list<SessionRecord>('sessions')) {
        if (!identityPattern.test(record.id) || this.#records.get(record.id)?.updatedAt === record.updatedAt) continue;
        await this.refresh(record.id);
      }
    } catch (error) {
      this.logger.error({ err: error }, 'could not read the sessions again after Redis returned');
    }
  }

  /**
   * Creates a session. It is visible here at once; the returned promise
   * resolves once the store holds it.
   */
  create(input: SessionInput, createdBy?: string): Promise<SessionRecord> {
    const parsed = sessionInputSchema.parse(input);
    const id = parsed.id ?? randomUUID().slice(0, 8);
    if (this.#records.has(id)) return Promise.reject(new ConflictError(`session ${id} already exists`));
    const now = Date.now();
    const record: SessionRecord = {
      id,
      title: parsed.title,
      description: parsed.description,
      startsAt: parsed.startsAt,
      endsAt: parsed.endsAt,
      timeZone: parsed.timeZone ?? defaultTimeZone,
      agenda: withIds(parsed.agenda),
      invitedPoints: parsed.invitedPoints,
      invitedGroups: parsed.invitedGroups,
      public: parsed.public,
      autoOnAir: parsed.autoOnAir,
      status: parsed.startsAt ? 'scheduled' : 'waiting',
      createdAt: now,
      updatedAt: now,
      createdBy,
    };
    this.#records.set(id, record);
    return this.store.insert('sessions', id, record).then(async (inserted) => {
      if (!inserted) {
        this.#records.delete(id);
        throw new ConflictError(`session ${id} already exists`);
      }
      await this.store.publish('sessions', { id });
      this.emit('changed', record);
      return record;
    });
  }

  /** Changes a session record in the store and here; `change` must be pure. */
  async update(id: string, change: (record: SessionRecord) => SessionRecord): Promise<SessionRecord> {
    this.get(id);
    const updated = await this.store.update<SessionRecord>('sessions', id, (current) => {
      if (!current) throw new NotFoundError(`no session ${id}`);
      return { ...change(current), id, updatedAt: Date.now() };
    });
    this.#records.set(id, updated!);
    await this.store.publish('sessions', { id });
    this.emit('changed', updated!);
    return updated!;
  }

  async refresh(id: string): Promise<SessionRecord | undefined> {
    const record = await this.store.get<SessionRecord>('sessions', id);
    if (record) {
      this.#records.set(id, record);
      this.emit('changed', record);
      // Another node's operator moved the agenda: the Room here shows it.
      const room = await this.#rooms.get(id)?.catch(() => undefined);
      if (room && room.agendaItem?.id !== record.currentAgendaItem) {
        const item = record.agenda.find((i) => i.id === record.currentAgendaItem);
        room.setAgendaItem(item ? { id: item.id, title: item.title } : null);
      }
    } else this.#records.delete(id);
    return record;
  }

  has(id: string): boolean {
    return this.#records.has(id);
  }

  list(): SessionRecord[] {
    return [...this.#records.values()];
  }

  get(id: string): SessionRecord {
    const record = this.#records.get(id);
    if (!record) throw new NotFoundError(`no session ${id}`);
    return record;
  }

  /**
   * The running Room of a session, created on first use — on this node, unless
   * another live node already runs it: then MovedError names that node.
   */
  async room(id: string): Promise<Room> {
    const record = this.get(id);
    if (record.status === 'ended') throw new ConflictError('the session has ended');
    if (record.status === 'cancelled') throw new ConflictError('the session was cancelled');
    if (!this.#rooms.has(id) && this.directory) {
      const owner = await this.directory.claim(id);
      if (owner.node !== this.directory.node) throw new MovedError(owner.node, owner.url);
    }
    let pending = this.#rooms.get(id);
    if (!pending) {
      pending = Room.create({
        id,
        title: record.title,
        pool: this.pool,
        logger: this.logger,
        maxIncomingBitrate: this.maxIncomingBitrate,
        controls: this.#controlsFor(id),
      });
      this.#rooms.set(id, pending);
      pending.then(
        (room) => {
          room.on('snapshot', (s) => {
            const current = this.#records.get(id);
            if (!current || current.status === s.status) return;
            // A room waiting for the studio does not undo "scheduled".
            if (s.status === 'waiting' && current.status === 'scheduled') return;
            void this.update(id, (r) => ({ ...r, status: s.status })).catch((error) =>
              this.logger.error({ err: error, session: id }, 'could not save the session status'),
            );
          });
          room.once('close', () => {
            this.#rooms.delete(id);
            void this.directory?.release(id).catch(() => undefined);
          });
          const current = record.agenda.find((i) => i.id === record.currentAgendaItem);
          if (current) room.setAgendaItem({ id: current.id, title: current.title });
          this.emit('room', room, this.#records.get(id)!);
        },
        () => this.#rooms.delete(id),
      );
    }
    return pending;
  }

  /** What the operator's live actions on a session's Room reach beside it. */
  #controlsFor(id: string): RoomControls {
    const recording = this.#recording;
    const recorder = () => {
      if (!recording?.has(id)) throw new ConflictError('recording is not available on this server');
      return recording;
    };
    return {
      agenda: (itemId) => this.setAgendaItem(id, itemId),
      recording: { start: (actor) => recorder().start(id, actor), stop: (actor) => recorder().stop(id, actor) },
    };
  }

  /** Marks the agenda item under discussion (null: none); every participant sees it. */
  async setAgendaItem(id: string, itemId: string | null): Promise<void> {
    const record = this.get(id);
    const item = itemId === null ? undefined : record.agenda.find((i) => i.id === itemId);
    if (itemId !== null && !item) throw new NotFoundError(`no agenda item ${itemId}`);
    await this.update(id, (r) => ({ ...r, currentAgendaItem: item?.id }));
    const room = await this.#rooms.get(id);
    room?.setAgendaItem(item ? { id: item.id, title: item.title } : null);
  }

  /** Puts back on air the sessions that were live when the server stopped. */
  async restoreLive(): Promise<Room[]> {
    const rooms: Room[] = [];
    for (const record of this.#records.values()) {
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
    this.#stopFollowingStore?.();
    await this.#unsubscribe?.();
    for (const pending of this.#rooms.values()) (await pending.catch(() => undefined))?.close();
    this.#rooms.clear();
  }
}

function withIds(items: (Omit<AgendaItem, 'id'> & { id?: string })[]): AgendaItem[] {
  return items.map((item, i) => ({ ...item, id: item.id ?? `item-${i + 1}` }));
}
