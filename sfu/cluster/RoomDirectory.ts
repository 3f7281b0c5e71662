import { DiemcauError } from '../errors.js';
import type { Store, StoreRestored } from '../store/Store.js';

/** Which node runs a session's Room: the node that first needed it, while it is alive. */
export interface RoomOwner {
  sessionId: string;
  node: string;
  /** Where browsers reach that node (its public URL). */
  url: string;
  heartbeat: number;
}

export interface RoomDirectoryOptions {
  node: string;
  url: string;
  /** An owner silent for longer than this is gone; another node may take over. */
  ttlMs?: number;
  heartbeatMs?: number;
}

const keyOf = (sessionId: string) => `room:${sessionId}`;

/**
 * Redis came back empty a moment ago and no node has written this session
 * again yet: the node that runs it may not have reconnected. The browser
 * tries again (it is told `unavailable`, close code 4503) instead of
 * starting a second Room of the same meeting here.
 */
export class PlacementRecoveringError extends DiemcauError {
  constructor(sessionId: string) {
    super('unavailable', `where session ${sessionId} runs is being learnt again: try again in a few seconds`);
    this.name = 'PlacementRecoveringError';
  }
}

/**
 * The room → node map that lets several nodes share one deployment: a
 * session's Room runs on one node only; the others send its participants
 * and its control actions there. Kept in the store (Redis when several
 * nodes run; with the embedded store there is one node and it owns all).
 */
export class RoomDirectory {
  #node: string;
  #url: string;
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #owned = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  readonly #stopFollowingStore: () => void;
  /**
   * When the store last came back after an outage (0: never away). Nobody
   * could beat while it was away, so silence is counted from then: a node is
   * not judged gone for Redis's own absence.
   */
  #restoredAt = 0;
  /** When the store last came back empty (0: never). */
  #emptiedAt = 0;

  constructor(store: Store, options: RoomDirectoryOptions) {
    this.#store = store;
    this.#node = options.node;
    this.#url = options.url;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#timer = setInterval(() => void this.#beat(), this.#heartbeatMs);
    this.#timer.unref();
    this.#stopFollowingStore = store.onRestored((event) => this.#restored(event));
  }

  get node(): string {
    return this.#node;
  }

  get url(): string {
    return this.#url;
  }

  /** How long an owner may stay silent before another node may take its sessions. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Names this node once its address is known (after it listens). */
  identify(node: string, url: string): void {
    this.#node = node;
    this.#url = url;
  }

  /** Takes the session for this node unless a live node already has it; returns the owner. */
  async claim(sessionId: string): Promise<RoomOwner> {
    const now = Date.now();
    // Within a heartbeat of Redis coming back empty, every live node writes its sessions again.
    const relearning = now - this.#emptiedAt < this.#heartbeatMs && !this.#owned.has(sessionId);
    const owner = await this.#store.update<RoomOwner>('presence', keyOf(sessionId), (current) => {
      if (current && current.node !== this.node && this.#alive(current, now)) return current;
      if (!current && relearning) throw new PlacementRecoveringError(sessionId);
      return { sessionId, node: this.node, url: this.url, heartbeat: now };
    });
    if (owner!.node === this.node) this.#owned.add(sessionId);
    return owner!;
  }

  /** The live owner of a session, if any. */
  async owner(sessionId: string): Promise<RoomOwner | undefined> {
    const owner = await this.#store.get<RoomOwner>('presence', keyOf(sessionId));
    return owner && this.#alive(owner, Date.now()) ? owner : undefined;
  }

  /** This node no longer runs the session (it ended, or the node shuts down). */
  async release(sessionId: string): Promise<void> {
    this.#owned.delete(sessionId);
    await this.#store.update<RoomOwner>('presence', keyOf(sessionId), (current) => (current?.node === this.node ? undefined : current));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopFollowingStore();
    await Promise.all([...this.#owned].map((sid) => this.release(sid).catch(() => undefined)));
  }

  #alive(owner: RoomOwner, now: number): boolean {
    return now - Math.max(owner.heartbeat, this.#restoredAt) < this.#ttlMs;
  }

  /** Redis is back: this node's sessions are written again at once, in case it lost them or judges them stale. */
  #restored(event: StoreRestored): void {
    this.#restoredAt = Date.now();
    if (event.emptied) this.#emptiedAt = this.#restoredAt;
    void this.#beat();
  }

  async #beat(): Promise<void> {
    const now = Date.now();
    for (const sessionId of this.#owned) {
      await this.#store
        .update<RoomOwner>('presence', keyOf(sessionId), (current) =>
          !current || current.node === this.node ? { sessionId, node: this.node, url: this.url, heartbeat: now } : current,
        )
        .catch(() => undefined);
    }
  }
}
