/**
 * One contract for both stores: the embedded one (files in the data folder)
 * and Redis (a real redis-server started here on a free port).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../sfu/store/EmbeddedStore.js';
import { RedisStore } from '../../sfu/store/RedisStore.js';
import type { Store } from '../../sfu/store/Store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/rtp.js';

interface Point {
  id: string;
  name: string;
  visits: number;
}

let redis: RedisServer;
const dirs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const backends: { name: string; open(): Promise<{ store: Store; reopen: () => Promise<Store> }> }[] = [
  {
    name: 'embedded',
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-store-'));
      dirs.push(dir);
      return { store: new EmbeddedStore(dir), reopen: async () => new EmbeddedStore(dir) };
    },
  },
  {
    name: 'redis',
    async open() {
      const store = await RedisStore.connect(redis.url);
      // Each run starts clean: the contract assumes an empty store.
      for (const c of ['points', 'sessions'] as const) for (const p of await store.list<Point>(c)) await store.delete(c, p.id);
      return { store, reopen: () => RedisStore.connect(redis.url) };
    },
  },
];

describe.each(backends)('$name store', (backend) => {
  let store: Store;
  let reopen: () => Promise<Store>;

  beforeAll(async () => {
    ({ store, reopen } = await backend.open());
  });

  afterAll(async () => {
    await store?.close();
  });

  it('stores, lists and deletes documents', async () => {
    await store.put<Point>('points', 'tan-phu', { id: 'tan-phu', name: 'Xã Tân Phú', visits: 0 });
    await store.put<Point>('points', 'an-binh', { id: 'an-binh', name: 'Xã An Bình', visits: 0 });
    expect(await store.get<Point>('points', 'tan-phu')).toEqual({ id: 'tan-phu', name: 'Xã Tân Phú', visits: 0 });
    expect((await store.list<Point>('points')).map((p) => p.id).sort()).toEqual(['an-binh', 'tan-phu']);
    expect(await store.delete('points', 'an-binh')).toBe(true);
    expect(await store.delete('points', 'an-binh')).toBe(false);
    expect(await store.get('points', 'an-binh')).toBeUndefined();
  });

  it('hands out copies: changing a returned object changes nothing stored', async () => {
    const point = (await store.get<Point>('points', 'tan-phu'))!;
    point.name = 'changed';
    expect((await store.get<Point>('points', 'tan-phu'))!.name).toBe('Xã Tân Phú');
  });

  it('inserts only when the id is free', async () => {
    expect(await store.insert('sessions', 's1', { id: 's1' })).toBe(true);
    expect(await store.insert('sessions', 's1', { id: 's1', other: true })).toBe(false);
    expect(await store.get('sessions', 's1')).toEqual({ id: 's1' });
  });

  it('loses no update when many writers change one document at once', async () => {
    await Promise.all(
      Array.from({ length: 40 }, () => store.update<Point>('points', 'tan-phu', (p) => ({ ...p!, visits: p!.visits + 1 }))),
    );
    expect((await store.get<Point>('points', 'tan-phu'))!.visits).toBe(40);
  });

  // The embedded store has one owner process by design; several nodes share Redis.
  it.runIf(backend.name === 'redis')('loses no update between two connections (two nodes)', async () => {
    const other = await reopen();
    await Promise.all([
      ...Array.from({ length: 20 }, () => store.update<Point>('points', 'tan-phu', (p) => ({ ...p!, visits: p!.visits + 1 }))),
      ...Array.from({ length: 20 }, () => other.update<Point>('points', 'tan-phu', (p) => ({ ...p!, visits: p!.visits + 1 }))),
    ]);
    expect((await store.get<Point>('points', 'tan-phu'))!.visits).toBe(80);
    await other.close();
  });

  it('deletes through update when the change returns nothing', async () => {
    await store.put('sessions', 'gone', { id: 'gone' });
    await store.update('sessions', 'gone', () => undefined);
    expect(await store.get('sessions', 'gone')).toBeUndefined();
  });

  it('keeps an append-only log in order', async () => {
    for (let i = 0; i < 5; i++) await store.append('audit', { i, at: Date.now() });
    const entries = await store.readLog<{ i: number }>('audit', 3);
    expect(entries.map((e) => e.i)).toEqual([2, 3, 4]);
  });

  it('delivers control events to subscribers', async () => {
    const received: unknown[] = [];
    const unsubscribe = await store.subscribe('floor', (m) => received.push(m));
    await store.publish('floor', { session: 's1', identity: 'tan-phu' });
    await waitFor('event', () => received.length === 1);
    expect(received[0]).toEqual({ session: 's1', identity: 'tan-phu' });
    await unsubscribe();
    await store.publish('floor', { again: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toHaveLength(1);
  });

  it('survives a restart with everything it held', async () => {
    await store.close();
    store = await reopen();
    expect((await store.get<Point>('points', 'tan-phu'))!.name).toBe('Xã Tân Phú');
    expect(await store.get('sessions', 's1')).toEqual({ id: 's1' });
    expect((await store.readLog('audit')).length).toBeGreaterThanOrEqual(5);
  });
});

describe('embedded store after a crash mid-write', () => {
  it('keeps the last complete version and skips a torn log line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-store-'));
    dirs.push(dir);
    const store = new EmbeddedStore(dir);
    await store.put('points', 'a', { id: 'a', name: 'A' });
    await store.append('audit', { n: 1 });
    // What a crash leaves behind: a temp file never renamed, a half-written log line.
    fs.writeFileSync(path.join(dir, 'store', 'points.json.999.tmp'), '{"a": {"id": "a", "na');
    fs.appendFileSync(path.join(dir, 'store', 'audit.jsonl'), '{"n": 2, "trunc');
    const reopened = new EmbeddedStore(dir);
    expect(await reopened.get('points', 'a')).toEqual({ id: 'a', name: 'A' });
    expect(await reopened.readLog('audit')).toEqual([{ n: 1 }]);
  });

  it('keeps every change written after a torn one, and across the folding of its changes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-store-'));
    dirs.push(dir);
    const first = new EmbeddedStore(dir);
    await first.put('sessions', 's1', { id: 's1', title: 'Một' });
    fs.appendFileSync(path.join(dir, 'store', 'sessions.changes.jsonl'), '{"id": "s2", "doc": {"id": "s2", "ti');
    const second = new EmbeddedStore(dir);
    await second.put('sessions', 's3', { id: 's3', title: 'Ba' });
    await second.append('audit', { n: 1 });
    // Enough writes to fold the changes into a new snapshot more than once.
    for (let i = 0; i < 1200; i++) await second.put('sessions', `n${i % 7}`, { id: `n${i % 7}`, i });
    await second.delete('sessions', 'n0');
    await second.close();
    const third = new EmbeddedStore(dir);
    expect(await third.get('sessions', 's1')).toEqual({ id: 's1', title: 'Một' });
    expect(await third.get('sessions', 's2')).toBeUndefined();
    expect(await third.get('sessions', 's3')).toEqual({ id: 's3', title: 'Ba' });
    expect(await third.get('sessions', 'n6')).toEqual({ id: 'n6', i: 1196 });
    expect(await third.get('sessions', 'n0')).toBeUndefined();
    expect((await third.list('sessions')).length).toBe(8);
  });
});
