import type { Store } from '../store/Store.js';

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
  readonly #owned = new Set<string>();
  readonly #timer: NodeJS.Timeout;

  constructor(store: Store, options: RoomDirectoryOptions) {
    this.#store = store;
    this.#node = options.node;
    this.#url = options.url;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#timer = setInterval(() => void this.#beat(), options.heartbeatMs ?? 5000);
    this.#timer.unref();
  }

  get node(): string {
    return this.#node;
  }

  get url(): string {
    return this.#url;
  }

  /** Names this node once its address is known (after it listens). */
  identify(node: string, url: string): void {
    this.#node = node;
    this.#url = url;
  }

  /** Takes the session for this node unless a live node already has it; returns the owner. */
  async claim(sessionId: string): Promise<RoomOwner> {
    const now = Date.now();
    const owner = await this.#store.update<RoomOwner>('presence', keyOf(sessionId), (current) =>
      current && current.node !== this.node && now - current.heartbeat < this.#ttlMs
        ? current
        : { sessionId, node: this.node, url: this.url, heartbeat: now },
    );
    if (owner!.node === this.node) this.#owned.add(sessionId);
    return owner!;
  }

  /** The live owner of a session, if any. */
  async owner(sessionId: string): Promise<RoomOwner | undefined> {
    const owner = await this.#store.get<RoomOwner>('presence', keyOf(sessionId));
    return owner && Date.now() - owner.heartbeat < this.#ttlMs ? owner : undefined;
  }

  /** This node no longer runs the session (it ended, or the node shuts down). */
  async release(sessionId: string): Promise<void> {
    this.#owned.delete(sessionId);
    await this.#store.update<RoomOwner>('presence', keyOf(sessionId), (current) => (current?.node === this.node ? undefined : current));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([...this.#owned].map((sid) => this.release(sid).catch(() => undefined)));
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
