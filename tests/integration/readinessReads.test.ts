import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadinessFigures } from '../../protocol/index.js';
import { createLogger } from '../../sfu/logger.js';
import { ReadinessService } from '../../sfu/readiness/ReadinessService.js';
import { EmbeddedStore } from '../../sfu/store/EmbeddedStore.js';

const figures: ReadinessFigures = {
  camera: true,
  micLevel: 0.4,
  speakers: 'heard',
  transport: 'udp',
  rttMs: 20,
  uploadKbps: 2000,
  downloadKbps: 3000,
  loss: 0,
};

/** The embedded store with its reads counted: every control room's poll must not become one read per point. */
function countedStore(): { store: EmbeddedStore; reads: () => number; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-readiness-'));
  const store = new EmbeddedStore(dir);
  let reads = 0;
  const get = store.get.bind(store);
  store.get = async <T>(...args: Parameters<EmbeddedStore['get']>) => {
    reads++;
    return await get<T>(...args);
  };
  return { store, reads: () => reads, dir };
}

describe("the points' readiness read by roll calls and session lists", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  it('answers many control rooms polling at once with one read per point, and shows a new result at once', async () => {
    const { store, reads, dir } = countedStore();
    cleanup.push(async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    // Long enough that the test's own pace cannot expire the reuse.
    const readiness = new ReadinessService({ store, logger: createLogger('silent'), reuseReadsMs: 60_000 });
    const points = Array.from({ length: 20 }, (_, i) => `xa-${i + 1}`);
    await readiness.finish('s1', 'xa-3', figures);
    const before = reads();

    // Twenty control rooms poll together, then again.
    const first = await Promise.all(Array.from({ length: 20 }, () => readiness.forPoints('s1', points)));
    await Promise.all(Array.from({ length: 20 }, () => readiness.forPoints('s1', points)));
    expect(reads() - before).toBe(points.length);
    for (const states of first) {
      expect([...states.keys()]).toEqual(['xa-3']);
      expect(states.get('xa-3')?.latest?.verdict).toBe('ready');
    }

    // A new check's result and an operator's request are seen by the next poll, not a second later.
    await readiness.finish('s1', 'xa-7', { ...figures, camera: false });
    expect((await readiness.forPoints('s1', points)).get('xa-7')?.latest?.verdict).toBe('problem');
    const requestedAt = await readiness.request('s1', 'xa-9');
    expect((await readiness.forPoints('s1', points)).get('xa-9')?.requestedAt).toBe(requestedAt);

    // A point the last read did not cover is read, not reported as never checked.
    await readiness.finish('s1', 'xa-21', figures);
    readiness.forPoints('s1', points).catch(() => {});
    expect((await readiness.forPoints('s1', [...points, 'xa-21'])).get('xa-21')?.latest?.verdict).toBe('ready');

    // Another session is read apart.
    expect((await readiness.forPoints('s2', points)).size).toBe(0);
  });
});
