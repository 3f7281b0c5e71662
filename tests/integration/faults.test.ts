/**
 * Faults from outside the code's control: media workers dying one after
 * another, a server killed outright, records no longer valid. The server
 * keeps serving, and leaves nothing running behind it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { EmbeddedStore } from '../../sfu/store/EmbeddedStore.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { sleep, waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { startServerProcess } from '../helpers/serverProcess.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Rejections nobody handled while `body` ran (each is a crash of a real server). */
async function unhandledDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const record = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', record);
  try {
    await body();
    // Rejections surface a turn after they happen.
    await sleep(50);
  } finally {
    process.off('unhandledRejection', record);
  }
  return seen;
}

describe('a media worker that dies again while sessions are rebuilt on its replacement', () => {
  it('leaves every session working and the server serving', async () => {
    const server = await startServer({ workers: 2 });
    cleanups.push(() => server.stop());
    const rooms: Room[] = [];
    for (let i = 0; i < 25; i++) {
      await server.sessions.create({ id: `s${i}`, title: `Phiên ${i}` });
      rooms.push(await server.sessions.room(`s${i}`));
    }
    const slot = server.pool.slots[1];
    const replacements: number[] = [];
    server.pool.on('workerReplaced', (index) => replacements.push(index));

    const unhandled = await unhandledDuring(async () => {
      const first = slot.worker.pid;
      process.kill(first, 'SIGKILL');
      await waitFor('a replacement worker', () => replacements.length === 1, 20_000);
      // The replacement dies while 25 sessions build their routers on it.
      process.kill(server.pool.slots[1].worker.pid, 'SIGKILL');
      await waitFor('a second replacement', () => replacements.length === 2, 20_000);
      await waitFor(
        'every session has a router on the new worker',
        () => rooms.every((room) => room.router(1) && !room.router(1)!.closed),
        20_000,
      );
    });
    expect(unhandled).toEqual([]);

    const health = await fetch(`${server.url}/api/health`);
    expect(health.status).toBe(200);
    // A session rebuilt twice carries media again: a point's picture reaches a viewer on the new worker.
    const room = rooms[7];
    const participants: PlainParticipant[] = [];
    cleanups.push(() => Promise.all(participants.map((p) => p.stop())).then(() => undefined));
    participants.push(await joinPlain(room, { identity: 'studio', role: 'studio', send: {} }));
    const viewer = await joinPlain(room, { identity: 'v', role: 'viewer', receive: true });
    participants.push(viewer);
    room.goLive();
    await room.settled();
    const ssrc = viewer.ssrcOf(participants[0].videoProducerId!)!;
    await waitFor('the studio reaches the viewer', () => viewer.sink!.count(ssrc) > 10, 15_000);
  });
});

describe('a session id that would be a hidden folder', () => {
  it('is refused by the API with a typed error', async () => {
    const server = await startServer({ workers: 1 });
    cleanups.push(() => server.stop());
    const operator = await tokenFor(server, '*', 'chanh-vp', 'operator');
    for (const id of ['.x', '..', '.', '.hidden']) {
      const res = await fetch(`${server.url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
        body: JSON.stringify({ id, title: 'Phiên' }),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('bad-request');
    }
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });

  it('stored before the rule, scheduled to open now, is left out and the server starts and serves', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-badid-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const store = new EmbeddedStore(dataDir);
    const now = Date.now();
    const record = {
      id: '.x',
      title: 'Phiên cũ',
      startsAt: now - 60_000,
      endsAt: now + 3_600_000,
      timeZone: 'Asia/Ho_Chi_Minh',
      agenda: [],
      invitedPoints: [],
      invitedGroups: [],
      public: true,
      autoOnAir: true,
      status: 'scheduled',
      createdAt: now,
      updatedAt: now,
    } as unknown as SessionRecord;
    await store.put('sessions', '.x', record);
    await store.put('sessions', 'ok', { ...record, id: 'ok', title: 'Phiên tốt' });
    await store.close();

    const unhandled = await unhandledDuring(async () => {
      const server = await startServer({ workers: 1, dataDir, autoRecord: true });
      cleanups.push(() => server.stop());
      await waitFor('the good session on air', async () => (await server.sessions.room('ok')).status === 'live', 20_000);
      expect(server.sessions.has('.x')).toBe(false);
      expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
      expect(fs.existsSync(path.join(dataDir, 'recordings', '.x'))).toBe(false);
    });
    expect(unhandled).toEqual([]);
  });
});

/** Encoders (ffmpeg) whose command line names `dir`. */
function encodersWriting(dir: string): number[] {
  const r = spawnSync('pgrep', ['-f', `ffmpeg.*${dir}`], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

describe('a server killed outright (SIGKILL)', () => {
  it('takes its encoders with it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-kill-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    // A session on air, left so by a server that stopped.
    const first = await startServer({ workers: 1, dataDir, autoRecord: false });
    await first.sessions.create({ id: 'kill', title: 'Phiên' });
    (await first.sessions.room('kill')).goLive();
    await first.stop();

    // The real server restores it on air and records it (a slate, nobody sends).
    const { child } = await startServerProcess({ dataDir, env: { DIEMCAU_WORKERS: '1' } });
    cleanups.push(() => void child.kill('SIGKILL'));
    await waitFor('an encoder recording the session', () => encodersWriting(dataDir).length > 0, 30_000);
    const encoders = encodersWriting(dataDir);
    child.kill('SIGKILL');
    await waitFor('the encoders gone with the server', () => encoders.every((pid) => !fs.existsSync(`/proc/${pid}`)), 10_000);
    expect(encodersWriting(dataDir)).toEqual([]);
  });
});
