import { createClient, WatchError, type RedisClientType } from 'redis';
import { StoreError, type Collection, type Log, type Store, type Unsubscribe } from './Store.js';

const prefix = 'diemcau';
const key = (collection: Collection) => `${prefix}:c:${collection}`;
const logKey = (log: Log) => `${prefix}:log:${log}`;
/** Logs keep their newest entries only. */
const logCap = 100_000;

/**
 * The store for several nodes: a Redis hash per collection (field = id,
 * value = JSON), a capped list per log, and Redis pub/sub for control events.
 * `update` is optimistic: WATCH the hash, compute, MULTI/EXEC, retry on conflict.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly #client: RedisClientType;
  /** WATCH belongs to a connection: updates run one at a time on their own. */
  readonly #tx: RedisClientType;
  #txQueue: Promise<unknown> = Promise.resolve();
  #subscriber: RedisClientType | undefined;

  private constructor(client: RedisClientType, tx: RedisClientType) {
    this.#client = client;
    this.#tx = tx;
  }

  static async connect(url: string): Promise<RedisStore> {
    const client = createClient({ url }) as RedisClientType;
    client.on('error', () => {
      // node-redis reconnects by itself; commands fail meanwhile and callers see that.
    });
    await client.connect();
    const tx = client.duplicate() as RedisClientType;
    tx.on('error', () => {});
    await tx.connect();
    return new RedisStore(client, tx);
  }

  async get<T>(collection: Collection, id: string): Promise<T | undefined> {
    const raw = await this.#client.hGet(key(collection), id);
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  async list<T>(collection: Collection): Promise<T[]> {
    const all = await this.#client.hGetAll(key(collection));
    return Object.values(all).map((raw) => JSON.parse(raw) as T);
  }

  async put<T>(collection: Collection, id: string, value: T): Promise<void> {
    await this.#client.hSet(key(collection), id, JSON.stringify(value));
  }

  async insert<T>(collection: Collection, id: string, value: T): Promise<boolean> {
    return (await this.#client.hSetNX(key(collection), id, JSON.stringify(value))) === 1;
  }

  async delete(collection: Collection, id: string): Promise<boolean> {
    return (await this.#client.hDel(key(collection), id)) === 1;
  }

  update<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const run = this.#txQueue.then(() => this.#updateWatched(collection, id, change));
    this.#txQueue = run.catch(() => undefined);
    return run;
  }

  async #updateWatched<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    const tx = this.#tx;
    for (let attempt = 0; attempt < 50; attempt++) {
      await tx.watch(key(collection));
      const raw = await tx.hGet(key(collection), id);
      const next = change(raw == null ? undefined : (JSON.parse(raw) as T));
      const multi = tx.multi();
      if (next === undefined) multi.hDel(key(collection), id);
      else multi.hSet(key(collection), id, JSON.stringify(next));
      try {
        await multi.exec();
        return next;
      } catch (error) {
        // Another node changed the collection meanwhile: read again and retry.
        if (!(error instanceof WatchError)) throw error;
      }
    }
    throw new StoreError(`too many concurrent updates of ${collection}/${id}`);
  }

  async append<T extends object>(log: Log, entry: T): Promise<void> {
    await this.#client.multi().rPush(logKey(log), JSON.stringify(entry)).lTrim(logKey(log), -logCap, -1).exec();
  }

  async readLog<T>(log: Log, limit = 1000): Promise<T[]> {
    const raw = await this.#client.lRange(logKey(log), -limit, -1);
    return raw.map((r) => JSON.parse(r) as T);
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.#client.publish(`${prefix}:${channel}`, JSON.stringify(message));
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    if (!this.#subscriber) {
      this.#subscriber = this.#client.duplicate();
      this.#subscriber.on('error', () => {});
      await this.#subscriber.connect();
    }
    const listener = (raw: string) => handler(JSON.parse(raw));
    await this.#subscriber.subscribe(`${prefix}:${channel}`, listener);
    return async () => {
      await this.#subscriber?.unsubscribe(`${prefix}:${channel}`, listener);
    };
  }

  async close(): Promise<void> {
    await this.#txQueue;
    await this.#subscriber?.quit().catch(() => {});
    await this.#tx.quit().catch(() => {});
    await this.#client.quit().catch(() => {});
  }
}
