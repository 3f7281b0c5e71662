import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Collection, Log, Store, StoreRestored, Unsubscribe } from './Store.js';

/** One change to a collection, as a line of its journal. */
type Change = { id: string; doc: unknown } | { id: string; deleted: true };

/**
 * The default store, under `<dataDir>/store`, for one process that owns the
 * folder. Each collection is a snapshot (`<name>.json`) plus a journal of the
 * changes made since (`<name>.changes.jsonl`): a write appends one line and
 * syncs it, so its cost follows the size of the document, not of the whole
 * collection, and the disk work happens off the event loop. When the journal
 * outgrows the snapshot, the two are folded into a new snapshot (written to a
 * temp file, synced, renamed), and the journal starts again. A crash at any
 * moment leaves the last synced change readable: a torn last journal line
 * and a temp file never renamed are ignored (and removed at the next start).
 * Logs are JSON-lines files appended the same way.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly #dir: string;
  readonly #collections = new Map<Collection, { docs: Map<string, unknown>; journalLines: number }>();
  /** Writes to one file happen one after another. */
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #bus = new EventEmitter();

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'store');
    fs.mkdirSync(this.#dir, { recursive: true });
    // Temp files of a snapshot a crash interrupted: the renamed file is the truth.
    for (const name of fs.readdirSync(this.#dir)) {
      if (name.endsWith('.tmp')) fs.rmSync(path.join(this.#dir, name), { force: true });
      // A line a crash tore must not swallow the next one appended after it.
      if (name.endsWith('.jsonl')) endWithNewline(path.join(this.#dir, name));
    }
    this.#bus.setMaxListeners(0);
  }

  async get<T>(collection: Collection, id: string): Promise<T | undefined> {
    return structuredClone(this.#load(collection).docs.get(id)) as T | undefined;
  }

  async list<T>(collection: Collection): Promise<T[]> {
    return [...this.#load(collection).docs.values()].map((v) => structuredClone(v) as T);
  }

  put<T>(collection: Collection, id: string, value: T): Promise<void> {
    return this.#write(collection, id, () => ({ next: structuredClone(value), result: undefined }));
  }

  insert<T>(collection: Collection, id: string, value: T): Promise<boolean> {
    return this.#write(collection, id, (current) =>
      current === undefined ? { next: structuredClone(value), result: true } : { unchanged: true, result: false },
    );
  }

  delete(collection: Collection, id: string): Promise<boolean> {
    return this.#write(collection, id, (current) =>
      current === undefined ? { unchanged: true, result: false } : { next: undefined, result: true },
    );
  }

  update<T>(collection: Collection, id: string, change: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    return this.#write(collection, id, (current) => {
      const next = change(structuredClone(current) as T | undefined);
      return { next: structuredClone(next), result: structuredClone(next) };
    });
  }

  append<T extends object>(log: Log, entry: T): Promise<void> {
    const line = JSON.stringify(entry) + '\n';
    return this.#serial(`${log}.jsonl`, () => appendSynced(path.join(this.#dir, `${log}.jsonl`), line));
  }

  async readLog<T>(log: Log, limit = 1000): Promise<T[]> {
    let text = '';
    try {
      text = await fs.promises.readFile(path.join(this.#dir, `${log}.jsonl`), 'utf8');
    } catch {
      return [];
    }
    return parseLines<T>(text).slice(-limit);
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

  /** Files in this process's own folder are never out of reach: there is no outage to recover from. */
  onRestored(_listener: (event: StoreRestored) => void): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.#queues.values());
    this.#bus.removeAllListeners();
  }

  #snapshotFile(collection: Collection): string {
    return path.join(this.#dir, `${collection}.json`);
  }

  #journalFile(collection: Collection): string {
    return path.join(this.#dir, `${collection}.changes.jsonl`);
  }

  /** The collection in memory: its snapshot with the journal's changes on top (read once). */
  #load(collection: Collection): { docs: Map<string, unknown>; journalLines: number } {
    let loaded = this.#collections.get(collection);
    if (loaded) return loaded;
    const docs = new Map<string, unknown>();
    const snapshot = readIfExists(this.#snapshotFile(collection));
    if (snapshot) for (const [id, doc] of Object.entries(JSON.parse(snapshot) as Record<string, unknown>)) docs.set(id, doc);
    const changes = parseLines<Change>(readIfExists(this.#journalFile(collection)) ?? '');
    for (const change of changes) {
      if ('deleted' in change) docs.delete(change.id);
      else docs.set(change.id, change.doc);
    }
    loaded = { docs, journalLines: changes.length };
    this.#collections.set(collection, loaded);
    return loaded;
  }

  /**
   * Applies one document's change: in memory at once (readers see it), then
   * on disk; if the disk refuses it, memory goes back and the caller learns.
   */
  #write<R>(
    collection: Collection,
    id: string,
    decide: (current: unknown) => { next: unknown; result: R } | { unchanged: true; result: R },
  ): Promise<R> {
    return this.#serial(collection, async () => {
      const state = this.#load(collection);
      const had = state.docs.has(id);
      const previous = state.docs.get(id);
      const decision = decide(previous);
      if ('unchanged' in decision) return decision.result;
      const change: Change = decision.next === undefined ? { id, deleted: true } : { id, doc: decision.next };
      if (decision.next === undefined) state.docs.delete(id);
      else state.docs.set(id, decision.next);
      try {
        await appendSynced(this.#journalFile(collection), JSON.stringify(change) + '\n');
      } catch (error) {
        if (had) state.docs.set(id, previous);
        else state.docs.delete(id);
        throw error;
      }
      state.journalLines++;
      if (state.journalLines > Math.max(500, state.docs.size)) await this.#compact(collection, state);
      return decision.result;
    });
  }

  /** Folds the journal into a new snapshot; the journal then starts empty. */
  async #compact(collection: Collection, state: { docs: Map<string, unknown>; journalLines: number }): Promise<void> {
    const file = this.#snapshotFile(collection);
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await fs.promises.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(Object.fromEntries(state.docs)));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
    // A crash between the rename and here replays changes the snapshot holds: harmless.
    await fs.promises.truncate(this.#journalFile(collection), 0);
    state.journalLines = 0;
  }

  #serial<R>(key: string, task: () => Promise<R>): Promise<R> {
    const next = (this.#queues.get(key) ?? Promise.resolve()).then(task);
    this.#queues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }
}

async function appendSynced(file: string, text: string): Promise<void> {
  const handle = await fs.promises.open(file, 'a');
  try {
    await handle.appendFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

function endWithNewline(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const { size } = fs.fstatSync(fd);
    const last = Buffer.alloc(1);
    if (size > 0 && fs.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) fs.writeSync(fd, '\n', size);
  } finally {
    fs.closeSync(fd);
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** JSON lines, skipping a line a crash tore (only ever the last). */
function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a line torn by a crash
    }
  }
  return out;
}
