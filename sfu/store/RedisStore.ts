import { randomUUID } from 'node:crypto';
import {
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  WatchError,
  type RedisClientType,
} from 'redis';
import type { Logger } from '../logger.js';
import { StoreError, StoreUnavailableError, type Collection, type Log, type Store, type StoreRestored, type Unsubscribe } from './Store.js';

const prefix = 'diemcau';
const key = (collection: Collection) => `${prefix}:c:${collection}`;
const logKey = (log: Log) => `${prefix}:log:${log}`;
/**
 * A value written once into an empty Redis and never changed: a node that
 * finds it gone or different after an outage knows Redis lost what it held.
 */
const datasetKey = `${prefix}:dataset`;
/** Logs keep their newest entries only. */
const logCap = 100_000;

/**
 * How long a command may wait for its turn to be sent (node-redis's
 * `timeout` covers that wait only). With the offline queue off, this bounds
 * the wait while a connection is being set up; with the library's defaults
 * (offline queue, 5 s) every request waited 5 s for a Redis that was away,
 * then failed as an untyped 500.
 */
const commandTimeoutMs = 3000;
/** Between attempts to reach Redis again: short, so that all nodes are back soon after it, and the same for every node. */
const maxReconnectDelayMs = 1000;
/** How long closing waits for replies still due before it drops the connection. */
const closeWaitMs = 2000;
/** How soon a Redis that answers but cannot serve yet (loading its file) is asked again. */
const restoreRetryMs = 200;

/** Errors that say Redis cannot be reached now, not that the command is wrong. */
const unreachable = [
  AbortError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
];
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** Replies of a Redis that is starting (loading its file), cannot write its file, or is a replica for now. */
const transientReply = /^(LOADING|BUSY|MISCONF|READONLY|MASTERDOWN|TRYAGAIN)\b/;

/** A Redis failure as callers should see it: unreachable is a typed 503, anything else stays what it is (a defect). */
function asStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (error instanceof ErrorReply) return transientReply.test(error.message) ? new StoreUnavailableError(error.message) : error;
  if (unreachable.some((kind) => error instanceof kind)) return new StoreUnavailableError((error as Error).name);
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && networkCodes.has(code)) return new StoreUnavailableError(code);
  return error;
}

/**
 * The store for several nodes: a Redis hash per collection (field = id,
 * value = JSON), a capped list per log, and Redis pub/sub for control events.
 * `update` is optimistic: WATCH the hash, compute, MULTI/EXEC, retry on conflict.
 *
 * When Redis goes away (restarted, killed, unreachable), every command fails
 * at once with StoreUnavailableError; node-redis reconnects by itself and
 * subscribes again, and `onRestored` listeners learn when every connection
 * is back and whether Redis came back empty.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly #client: RedisClientType;
  /** WATCH belongs to a connection: updates run one at a time on their own. */
  readonly #tx: RedisClientType;
  #txQueue: Promise<unknown> = Promise.resolve();
  #subscriber: RedisClientType | undefined;
  #subscriberReady: Promise<void> = Promise.resolve();
  /** The handlers of each subscribed channel (one Redis subscription per channel). */
  readonly #handlers = new Map<string, Set<(message: unknown) => void>>();
  readonly #logger: Logger | undefined;
  readonly #restoredListeners = new Set<(event: StoreRestored) => void>();
  /** Set once the first connection is made: retries before that are connect()'s own. */
  #connected = false;
  /**
   * From a connection's drop until every connection is back and the restored
   * listeners have run: meanwhile commands are refused, so nothing this node
   * does reaches Redis before it has re-learnt what the outage changed.
   */
  #down = false;
  /** Connections dropped so far (a drop during the return check starts it again). */
  #drops = 0;
  #restoring = false;
  /** The dataset marker this node last saw (see datasetKey). */
  #dataset: string | undefined;
  #closing = false;

  private constructor(client: RedisClientType, tx: RedisClientType, logger: Logger | undefined) {
    this.#client = client;
    this.#tx = tx;
    this.#logger = logger;
  }

  static async connect(url: string, options: { logger?: Logger } = {}): Promise<RedisStore> {
    const client = createClient({
      url,
      // While Redis is away, a command fails at once instead of waiting for it in a queue:
      // an operator gets a 503 now rather than a request that hangs, and a MULTI/EXEC is
      // never replayed on a new connection that has lost the WATCH guarding it.
      disableOfflineQueue: true,
      commandOptions: { timeout: commandTimeoutMs },
      socket: {
        // node-redis reconnects by itself forever; this keeps its backoff short and jittered.
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, maxReconnectDelayMs) + Math.floor(Math.random() * 100),
      },
    }) as RedisClientType;
    const tx = client.duplicate() as RedisClientType;
    const store = new RedisStore(client, tx, options.logger);
    store.#watch(client, 'commands');
    store.#watch(tx, 'updates');
    await client.connect();
    await tx.connect();
    store.#dataset = await store.#readDataset();
    store.#connected = true;
    store.#down = false;
    return store;
  }

  async get<T>(collection: Collection, id: string): Promise<T | undefined> {
    const raw = await this.#call(() => this.#client.hGet(key(collection), id));
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  async list<T>(collection: Collection): Promise<T[]> {
    const all = await this.#call(() => this.#client.hGetAll(key(collection)));
    return Object.values(all).map((raw) => JSON.parse(raw) as T);
  }

  async put<T>(collection: Collection, id: string, value: T): Promise<void> {
    await this.#call(() => this.#client.hSet(key(collection), id, JSON.stringify(value)));
  }

  async insert<T>(collection: Collection, id: string, value: T): Promise<boolean> {
    return (await this.#call(() => this.#client.hSetNX(key(collection), id, JSON.stringify(value)))) === 1;
  }

  async delete(collection: Collection, id: string): Promise<boolean> {
    return (await this.#call(() => this.#client.hDel(key(collection), id))) === 1;
  }

  update<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const run = this.#txQueue.then(() => this.#updateWatched(collection, id, change));
    this.#txQueue = run.catch(() => undefined);
    return run;
  }

  async #updateWatched<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const tx = this.#tx;
    for (let attempt = 0; attempt < 50; attempt++) {
      await this.#call(() => tx.watch(key(collection)));
      const raw = await this.#call(() => tx.hGet(key(collection), id));
      let next: T | undefined;
      try {
        next = change(raw == null ? undefined : (JSON.parse(raw) as T));
      } catch (error) {
        // The caller's refusal (a NotFoundError…) passes through as it is; the WATCH must not outlive it.
        await tx.unwatch().catch(() => undefined);
        throw error;
      }
      const multi = tx.multi();
      if (next === undefined) multi.hDel(key(collection), id);
      else multi.hSet(key(collection), id, JSON.stringify(next));
      try {
        await multi.exec();
        return next;
      } catch (error) {
        // Another node changed the collection meanwhile: read again and retry.
        if (!(error instanceof WatchError)) throw asStoreError(error);
      }
    }
    throw new StoreError(`too many concurrent updates of ${collection}/${id}`);
  }

  async append<T extends object>(log: Log, entry: T): Promise<void> {
    await this.#call(() => this.#client.multi().rPush(logKey(log), JSON.stringify(entry)).lTrim(logKey(log), -logCap, -1).exec());
  }

  async readLog<T>(log: Log, limit = 1000): Promise<T[]> {
    const raw = await this.#call(() => this.#client.lRange(logKey(log), -limit, -1));
    return raw.map((r) => JSON.parse(r) as T);
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.#call(() => this.#client.publish(`${prefix}:${channel}`, JSON.stringify(message)));
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    const subscriber = await this.#subscriberConnection();
    const name = `${prefix}:${channel}`;
    let handlers = this.#handlers.get(name);
    if (!handlers) {
      const set = new Set<(message: unknown) => void>();
      await this.#call(() => subscriber.subscribe(name, (raw: string) => this.#deliver(channel, set, raw)));
      // Another subscribe to the same channel may have won the race meanwhile: theirs is kept, ours added to it.
      handlers = this.#handlers.get(name) ?? set;
      this.#handlers.set(name, handlers);
    }
    handlers.add(handler);
    const subscribed = handlers;
    return async () => {
      // Local first, so that it holds even while Redis is away (a node shutting down during an outage).
      subscribed.delete(handler);
      if (subscribed.size > 0 || this.#handlers.get(name) !== subscribed) return;
      this.#handlers.delete(name);
      await this.#call(() => subscriber.unsubscribe(name)).catch(() => {
        // Still subscribed in Redis: its messages reach an empty set; the connection's close ends it.
      });
    };
  }

  async #subscriberConnection(): Promise<RedisClientType> {
    if (!this.#subscriber) {
      const subscriber = this.#client.duplicate();
      this.#watch(subscriber, 'subscriptions');
      this.#subscriber = subscriber;
      this.#subscriberReady = this.#call(() => subscriber.connect()).then(
        () => undefined,
        (error: unknown) => {
          this.#subscriber = undefined;
          subscriber.destroy();
          throw error;
        },
      );
    }
    await this.#subscriberReady;
    return this.#subscriber;
  }

  #deliver(channel: string, handlers: Set<(message: unknown) => void>, raw: string): void {
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      // Whatever arrives on a channel (another version's message, a hand-typed PUBLISH) costs that message only.
      this.#logger?.error({ err: error, channel }, 'a message on a store channel is not JSON');
      return;
    }
    for (const handler of handlers) {
      try {
        handler(message);
      } catch (error) {
        this.#logger?.error({ err: error, channel }, 'a message on a store channel could not be handled');
      }
    }
  }

  onRestored(listener: (event: StoreRestored) => void): () => void {
    this.#restoredListeners.add(listener);
    return () => void this.#restoredListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#restoredListeners.clear();
    await this.#txQueue;
    for (const client of [this.#subscriber, this.#tx, this.#client]) {
      if (!client?.isOpen) continue;
      // close() waits for replies still due; a Redis that stopped answering must not hold the shutdown.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, closeWaitMs)));
      await Promise.race([client.close().catch(() => undefined), late]);
      clearTimeout(timer);
      if (client.isOpen) client.destroy();
    }
  }

  /** A command of the store's callers: refused while Redis is away or not yet re-learnt. */
  async #call<R>(command: () => Promise<R>): Promise<R> {
    if (this.#down) throw new StoreUnavailableError('reconnecting');
    return this.#redis(command);
  }

  async #redis<R>(command: () => Promise<R>): Promise<R> {
    try {
      return await command();
    } catch (error) {
      throw asStoreError(error);
    }
  }

  #clients(): RedisClientType[] {
    return [this.#client, this.#tx, this.#subscriber].filter((c) => c !== undefined);
  }

  /** Follows one connection: an outage is logged once, and its end announced once every connection is back. */
  #watch(client: RedisClientType, role: string): void {
    let lastError: unknown;
    // node-redis emits 'error' on every failed attempt: unhandled, it would end the process.
    client.on('error', (error: unknown) => (lastError = error));
    // A connection that dropped and is being set up again: Redis is away.
    client.on('reconnecting', () => {
      if (this.#closing) return;
      if (!this.#connected) {
        // A node starting while Redis is away waits for it (connect() retries): say why it does not start yet.
        if (!this.#down) this.#logger?.warn({ err: lastError }, 'waiting for Redis to start this node');
        this.#down = true;
        return;
      }
      this.#drops++;
      if (this.#down) return;
      this.#down = true;
      this.#logger?.warn(
        { err: lastError, connection: role },
        'Redis cannot be reached: sessions on this node go on; changes are refused (503) until it returns',
      );
    });
    client.on('ready', () => void this.#maybeRestored());
  }

  /** Once every connection is ready again: looks whether Redis kept its data, then tells the listeners. */
  async #maybeRestored(): Promise<void> {
    if (this.#restoring) return;
    this.#restoring = true;
    try {
      // Before the first connection is made there is nothing to re-learn: connect() reads the marker itself.
      while (this.#connected && this.#down && !this.#closing && this.#clients().every((c) => c.isReady)) {
        const drops = this.#drops;
        let dataset: string | undefined;
        try {
          dataset = await this.#readDataset();
        } catch (error) {
          if (error instanceof StoreUnavailableError) {
            // A Redis still loading its file answers LOADING: ask again shortly (a new drop waits for its 'ready').
            if (drops === this.#drops) await new Promise((resolve) => setTimeout(resolve, restoreRetryMs));
            continue;
          }
          // Redis answers but the marker cannot be read (a defect, or a hand-made key): serve, unable to tell.
          this.#logger?.error({ err: error }, 'cannot tell whether Redis kept its data');
        }
        if (drops !== this.#drops) continue;
        const emptied = dataset !== undefined && dataset !== this.#dataset;
        this.#dataset = dataset ?? this.#dataset;
        this.#down = false;
        if (emptied) {
          this.#logger?.error(
            'Redis came back without the data it held (no append-only file?): what was written before is lost; run Redis with `appendonly yes` (see README)',
          );
        } else this.#logger?.info('Redis is reachable again');
        for (const listener of this.#restoredListeners) {
          try {
            listener({ emptied });
          } catch (error) {
            this.#logger?.error({ err: error }, 'a store-restored listener failed');
          }
        }
      }
    } finally {
      this.#restoring = false;
    }
  }

  /** The dataset marker, written first if Redis holds none (a new or an emptied Redis). */
  async #readDataset(): Promise<string> {
    await this.#redis(() => this.#client.set(datasetKey, randomUUID(), { condition: 'NX' }));
    const dataset = await this.#redis(() => this.#client.get(datasetKey));
    if (dataset == null) throw new StoreUnavailableError('the dataset marker vanished');
    return dataset;
  }
}
