import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../recorder/atomicWrite.js';
import type { Collection, Log, Store, Unsubscribe } from './Store.js';

/**
 * The default store: one JSON file per collection and one JSON-lines file
 * per log under `<dataDir>/store`. A collection file is replaced atomically
 * (write, fsync, rename), so a crash mid-write leaves the previous version;
 * a log's torn last line is skipped when read. One process owns the folder.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly #dir: string;
  readonly #collections = new Map<Collection, Map<string, unknown>>();
  /** Writes to one collection happen one after another. */
  readonly #queues = new Map<Collection, Promise<unknown>>();
  readonly #bus = new EventEmitter();

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'store');
    fs.mkdirSync(this.#dir, { recursive: true });
    this.#bus.setMaxListeners(0);
  }

  async get<T>(collection: Collection, id: string): Promise<T | undefined> {
    return structuredClone(this.#load(collection).get(id)) as T | undefined;
  }

  async list<T>(collection: Collection): Promise<T[]> {
    return [...this.#load(collection).values()].map((v) => structuredClone(v) as T);
  }

  put<T>(collection: Collection, id: string, value: T): Promise<void> {
    return this.#write(collection, (docs) => {
      docs.set(id, structuredClone(value));
    });
  }

  insert<T>(collection: Collection, id: string, value: T): Promise<boolean> {
    return this.#write(collection, (docs) => {
      if (docs.has(id)) return false;
      docs.set(id, structuredClone(value));
      return true;
    });
  }

  delete(collection: Collection, id: string): Promise<boolean> {
    return this.#write(collection, (docs) => docs.delete(id));
  }

  update<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    return this.#write(collection, (docs) => {
      const next = change(structuredClone(docs.get(id)) as T | undefined);
      if (next === undefined) docs.delete(id);
      else docs.set(id, structuredClone(next));
      return structuredClone(next);
    });
  }

  async append<T extends object>(log: Log, entry: T): Promise<void> {
    const fd = fs.openSync(path.join(this.#dir, `${log}.jsonl`), 'a');
    try {
      fs.writeSync(fd, JSON.stringify(entry) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  async readLog<T>(log: Log, limit = 1000): Promise<T[]> {
    let text = '';
    try {
      text = fs.readFileSync(path.join(this.#dir, `${log}.jsonl`), 'utf8');
    } catch {
      return [];
    }
    const out: T[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // a line torn by a crash
      }
    }
    return out.slice(-limit);
  }

  async publish(channel: string, message: unknown): Promise<void> {
    // Delivered asynchronously, as Redis would.
    const copy = structuredClone(message);
    setImmediate(() => this.#bus.emit(channel, copy));
  }

  async subscribe(channel: string, handler: (message: unknown) => void): Promise<Unsubscribe> {
    this.#bus.on(channel, handler);
    return async () => void this.#bus.off(channel, handler);
  }

  async close(): Promise<void> {
    await Promise.all(this.#queues.values());
    this.#bus.removeAllListeners();
  }

  #file(collection: Collection): string {
    return path.join(this.#dir, `${collection}.json`);
  }

  #load(collection: Collection): Map<string, unknown> {
    let docs = this.#collections.get(collection);
    if (!docs) {
      docs = new Map();
      try {
        const stored = JSON.parse(fs.readFileSync(this.#file(collection), 'utf8')) as Record<string, unknown>;
        for (const [id, value] of Object.entries(stored)) docs.set(id, value);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      this.#collections.set(collection, docs);
    }
    return docs;
  }

  #write<R>(collection: Collection, mutate: (docs: Map<string, unknown>) => R): Promise<R> {
    const previous = this.#queues.get(collection) ?? Promise.resolve();
    const next = previous.then(() => {
      const docs = this.#load(collection);
      const before = new Map(docs);
      const result = mutate(docs);
      try {
        writeFileAtomic(this.#file(collection), JSON.stringify(Object.fromEntries(docs)));
      } catch (error) {
        // Nothing is half-applied: memory goes back to what the disk holds.
        this.#collections.set(collection, before);
        throw error;
      }
      return result;
    });
    this.#queues.set(
      collection,
      next.catch(() => undefined),
    );
    return next;
  }
}
