/**
 * A session with more sockets than Node's listener warning allows (10): the
 * signaling server follows the session's Room with one 'close' listener
 * whatever its audience, gives it back when the last socket leaves, and
 * still ends every socket — joined or not — when the session ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

let server: Awaited<ReturnType<typeof startServer>>;
const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

const open = async (sid: string, sub: string) =>
  SignalingProbe.open(`${server.url.replace('http', 'ws')}/ws?token=${await tokenFor(server, sid, sub, 'point')}`);

beforeAll(async () => {
  process.on('warning', onWarning);
  server = await startServer({ workers: 1 });
});

afterAll(async () => {
  await server?.stop();
  process.off('warning', onWarning);
});

describe("a Room's close", () => {
  it('is followed with one listener for all of its sockets, given back when the last one leaves', async () => {
    await server.sessions.create({ id: 'ra-vao', title: 'Ra vào' });
    const room: Room = await server.sessions.room('ra-vao');
    const services = room.listenerCount('close');
    const probes = await Promise.all(Array.from({ length: 15 }, (_, i) => open('ra-vao', `xa-${i}`)));
    expect(room.listenerCount('close')).toBe(services + 1);
    await Promise.all(probes.map((p) => p.close()));
    await waitFor('the server to see the sockets go', () => server.signaling.connections.size === 0);
    expect(room.listenerCount('close')).toBe(services);
  });

  it('ends every socket of a session of 25, joined or not, with no listener warning', async () => {
    await server.sessions.create({ id: 'hoi-nghi', title: 'Hội nghị' });
    const room: Room = await server.sessions.room('hoi-nghi');
    const probes = await Promise.all(Array.from({ length: 25 }, (_, i) => open('hoi-nghi', `diem-${i}`)));
    for (const p of probes.slice(0, 20))
      expect(await p.request('join', { rtpCapabilities: room.rtpCapabilities })).toMatchObject({ ok: true });
    await room.end('operator');
    const closes = await Promise.all(probes.map((p) => p.closed));
    expect(closes.map((c) => c.code)).toEqual(probes.map(() => closeCodes.sessionEnded));
    // Warnings are emitted on a later tick: one turn of the event loop lets any come.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
  });
});
