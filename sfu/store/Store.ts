import { DiemcauError } from '../errors.js';

/**
 * Where Diemcau keeps what must outlive a process: connection points,
 * scheduled sessions, documents' records, attendance, the audit log, and the
 * control events several nodes exchange. Two implementations: the embedded
 * store (files under the data folder, the default) and Redis (REDIS_URL).
 * Both pass the same contract suite (tests/integration/store.test.ts).
 */

/** A named set of JSON documents, each under an id. */
export type Collection =
  | 'points'
  | 'groups'
  | 'sessions'
  | 'operators'
  | 'documents'
  | 'attendance'
  | 'webhooks'
  | 'presence'
  | 'ingest'
  /** The latest readiness check of each point in each session. */
  | 'readiness';

/** An append-only log: entries are never changed, only added. */
export type Log = 'audit' | 'webhook-deliveries';

export type Unsubscribe = () => Promise<void>;

/** The store is reachable again after an outage. */
export interface StoreRestored {
  /**
   * It came back without what it held before (a Redis restarted without its
   * append-only file, or flushed): what only lives in the nodes' memory, such
   * as which node runs which session, must be written again.
   */
  emptied: boolean;
}

export interface Store {
  readonly kind: 'embedded' | 'redis';
  get<T>(collection: Collection, id: string): Promise<T | undefined>;
  list<T>(collection: Collection): Promise<T[]>;
  put<T>(collection: Collection, id: string, value: T): Promise<void>;
  /** Creates the document only if the id is free; false when it exists. */
  insert<T>(collection: Collection, id: string, value: T): Promise<boolean>;
  delete(collection: Collection, id: string): Promise<boolean>;
  /**
   * Read-modify-write without losing a concurrent writer's change: `change`
   * may run more than once (Redis retries on conflict) and must be pure.
   * Returning undefined deletes the document.
   */
  update<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined>;
  append<T extends object>(log: Log, entry: T): Promise<void>;
  /** The newest `limit` entries, oldest first. */
  readLog<T>(log: Log, limit?: number): Promise<T[]>;
  /** Control events between nodes (and within one). */
  publish(channel: string, message: unknown): Promise<void>;
  subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe>;
  /**
   * Called each time the store is reachable again after an outage, once every
   * connection (subscriptions included) is back. Messages published during
   * the outage are lost: what depends on them reads the store again here.
   */
  onRestored(listener: (event: StoreRestored) => void): () => void;
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/**
 * The shared store (Redis) cannot be reached now. The caller is told at once
 * that its change may not have been made and to try again shortly (503
 * `unavailable`), rather than kept waiting until Redis returns.
 */
export class StoreUnavailableError extends DiemcauError {
  constructor(readonly reason: string) {
    super('unavailable', 'the shared store cannot be reached: try again in a few seconds');
    this.name = 'StoreUnavailableError';
  }
}
