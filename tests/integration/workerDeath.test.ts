/**
 * A media worker dies mid-session: a new worker takes its place, the session's
 * routers are rebuilt, every participant is told to rejoin, and after they do
 * the program flows again with the floor where it was.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NotificationMessage } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { sleep, waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let room: Room;
const participants: PlainParticipant[] = [];

beforeAll(async () => {
  server = await startServer({ workers: 2 });
  await server.sessions.create({ id: 'crash', title: 'Crash test' });
  room = await server.sessions.room('crash');
});

afterAll(async () => {
  await Promise.all(participants.map((p) => p.stop()));
  await server?.stop();
});

it('recreates the session on a fresh worker and lets everyone rejoin', async () => {
  const studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
  const point = await joinPlain(room, { identity: 'a', role: 'point', send: { pattern: 'smptebars' }, receive: true });
  const viewer = await joinPlain(room, { identity: 'v', role: 'viewer', receive: true });
  participants.push(studio, point, viewer);
  room.goLive();
  await room.giveFloor('a');
  await room.settled();
  expect(viewer.peer.consumers.has(point.videoProducerId!)).toBe(true);

  const notified: NotificationMessage[] = [];
  viewer.peer.on('notification', (m) => notified.push(m));
  const victim = server.pool.slots[point.peer.slotIndex];
  const deadPid = victim.worker.pid;
  process.kill(deadPid, 'SIGKILL');

  await waitFor('a new worker', () => server.pool.slots[victim.index].worker.pid !== deadPid);
  await waitFor('rejoin request', () => notified.some((m) => m.notification === 'media.restart'));
  expect(server.pool.slots[victim.index].worker.closed).toBe(false);
  expect(room.status).toBe('live');
  expect(room.floor).toBe('a');

  // Everyone rejoins, as the browsers do on 'media.restart'.
  await Promise.all(participants.map((p) => p.stop()));
  participants.length = 0;
  const studio2 = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
  const point2 = await joinPlain(room, { identity: 'a', role: 'point', send: { pattern: 'smptebars' }, receive: true });
  const viewer2 = await joinPlain(room, { identity: 'v', role: 'viewer', receive: true });
  participants.push(studio2, point2, viewer2);
  await room.settled();
  expect(room.snapshot().programSource).toBe('a');
  const ssrc = viewer2.ssrcOf(point2.videoProducerId!)!;
  await waitFor('video after the restart', () => viewer2.sink!.count(ssrc) > 0, 8000);
  const before = viewer2.sink!.count(ssrc);
  await sleep(1000);
  expect(viewer2.sink!.count(ssrc) - before).toBeGreaterThan(10);
});
