import { randomUUID } from 'node:crypto';
import type { ErrorBody } from '../../protocol/index.js';
import { DiemcauError, errorBodyOf, MovedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Room } from '../room/Room.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { StoreUnavailableError, type Store, type Unsubscribe } from '../store/Store.js';
import type { RoomDirectory } from './RoomDirectory.js';

/** What an operator can do to a running session, wherever its Room runs. */
export type ControlAction =
  | { kind: 'goLive' }
  | { kind: 'end' }
  | { kind: 'floor.give'; identity: string }
  | { kind: 'floor.take' }
  | { kind: 'studio.choose'; identity: string | null }
  | { kind: 'mute'; identity: string; muted: boolean }
  | { kind: 'remove'; identity: string }
  | { kind: 'recording.start' }
  | { kind: 'recording.stop' }
  | { kind: 'rollcall' };

interface ControlRequest {
  id: string;
  sessionId: string;
  action: ControlAction;
  actor: string;
  replyTo: string;
}

interface ControlReply {
  id: string;
  ok: boolean;
  data?: unknown;
  error?: ErrorBody;
}

const timeoutMs = 5000;

/** The node that runs the session did not answer in time: the operator may try again. */
export class NodeUnavailableError extends DiemcauError {
  constructor(readonly node: string) {
    super('unavailable', `node ${node}, which runs the session, did not answer: try again in a few seconds`);
    this.name = 'NodeUnavailableError';
  }
}

/**
 * Runs an operator's action on a session: here when this node runs its Room
 * (or nobody does yet), else on the node that does, over the store's
 * pub/sub, with the answer (or the typed error) coming back the same way.
 */
export class SessionControl {
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #unsubscribe: Unsubscribe[] = [];

  constructor(
    private readonly store: Store,
    private readonly sessions: SessionRegistry,
    private readonly directory: RoomDirectory,
    private readonly logger: Logger,
    private readonly local: { rollCall(sessionId: string): Promise<unknown> },
  ) {}

  async start(): Promise<void> {
    const me = this.directory.node;
    this.#unsubscribe.push(
      await this.store.subscribe(`control:${me}`, (message) => void this.#serve(message as ControlRequest)),
      await this.store.subscribe(`control-reply:${me}`, (message) => this.#settle(message as ControlReply)),
    );
  }

  async run(sessionId: string, action: ControlAction, actor: string): Promise<unknown> {
    this.sessions.get(sessionId);
    let owner: Awaited<ReturnType<RoomDirectory['owner']>>;
    try {
      owner = await this.directory.owner(sessionId);
    } catch (error) {
      // Redis is away: the node that runs the meeting still carries out its operator's actions;
      // any other node cannot know where it runs, and says so (503 `unavailable`).
      if (error instanceof StoreUnavailableError && (await this.sessions.runningRoom(sessionId))) {
        return this.#apply(sessionId, action, actor);
      }
      throw error;
    }
    if (owner && owner.node !== this.directory.node) return this.#forward(owner.node, sessionId, action, actor);
    try {
      return await this.#apply(sessionId, action, actor);
    } catch (error) {
      // Another node took the session between our look and our claim.
      if (error instanceof MovedError) return this.#forward(error.node, sessionId, action, actor);
      throw error;
    }
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) await unsubscribe().catch(() => undefined);
    for (const { reject, timer } of this.#pending.values()) {
      clearTimeout(timer);
      reject(new DiemcauError('internal', 'shutting down'));
    }
    this.#pending.clear();
  }

  async #apply(sessionId: string, action: ControlAction, actor: string): Promise<unknown> {
    if (action.kind === 'rollcall') return this.local.rollCall(sessionId);
    const room: Room = await this.sessions.room(sessionId);
    switch (action.kind) {
      case 'goLive':
        return room.goLive(actor);
      case 'end':
        // Answer now: the session closes once the recorder has its last segment.
        void room.end(actor);
        return;
      case 'floor.give':
        return room.giveFloor(action.identity, actor);
      case 'floor.take':
        return room.takeFloor(actor);
      case 'studio.choose':
        return room.chooseStudio(action.identity, actor);
      case 'mute':
        return room.mute(action.identity, action.muted, actor);
      case 'remove':
        return room.remove(action.identity, actor);
      case 'recording.start':
        if (room.status !== 'live') throw new DiemcauError('conflict', 'the session is not on air');
        return room.controlRecording(true, actor);
      case 'recording.stop':
        return room.controlRecording(false, actor);
    }
  }

  #forward(node: string, sessionId: string, action: ControlAction, actor: string): Promise<unknown> {
    const request: ControlRequest = { id: randomUUID(), sessionId, action, actor, replyTo: this.directory.node };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request.id);
        reject(new NodeUnavailableError(node));
      }, timeoutMs);
      this.#pending.set(request.id, { resolve, reject, timer });
      this.store.publish(`control:${node}`, request).catch((error) => {
        clearTimeout(timer);
        this.#pending.delete(request.id);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  async #serve(request: ControlRequest): Promise<void> {
    let reply: ControlReply;
    try {
      const data = await this.#apply(request.sessionId, request.action, request.actor);
      reply = { id: request.id, ok: true, data: data ?? null };
    } catch (error) {
      reply = { id: request.id, ok: false, error: errorBodyOf(error) };
    }
    await this.store
      .publish(`control-reply:${request.replyTo}`, reply)
      .catch((error) => this.logger.error({ err: error }, 'could not answer a control request'));
  }

  #settle(reply: ControlReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply.data);
    else pending.reject(new DiemcauError(reply.error!.code, reply.error!.message));
  }
}
