/**
 * A session fed by ffmpeg through a real mediasoup worker: points receive the
 * studio; the floor switches what they receive and who is heard.
 *
 * One server for the file; each case opens a session of its own (see
 * `session()`) and leaves nothing behind, so any case runs alone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Room } from '../../sfu/room/Room.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { sleep, waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
/** What the current case opened, undone after it (feeds first, then the session). */
const cleanups: (() => Promise<void> | void)[] = [];
let sessionCount = 0;

beforeAll(async () => {
  server = await startServer({ workers: 2 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.stop();
});

interface FloorSession {
  room: Room;
  studio: PlainParticipant;
  pointA: PlainParticipant;
  pointB: PlainParticipant;
  /** Joins one more plain participant, stopped after the case. */
  join: (options: Parameters<typeof joinPlain>[1]) => Promise<PlainParticipant>;
}

/**
 * A new session of its own with the studio (test picture, 440 Hz tone),
 * point a (colour bars, 880 Hz, receiving) and point b (receiving only);
 * on air when `live`, with the floor given to `floor`. Everything it starts
 * is stopped after the case.
 */
async function session(options: { live?: boolean; floor?: string } = {}): Promise<FloorSession> {
  const id = `floor-${++sessionCount}`;
  await server.sessions.create({ id, title: `Floor test ${sessionCount}` });
  const room = await server.sessions.room(id);
  cleanups.push(() => room.end());
  const join = async (joining: Parameters<typeof joinPlain>[1]) => {
    const participant = await joinPlain(room, joining);
    cleanups.push(() => participant.stop());
    return participant;
  };
  const studio = await join({ identity: 'studio', role: 'studio', send: { pattern: 'testsrc', frequency: 440 } });
  const pointA = await join({ identity: 'a', role: 'point', send: { pattern: 'smptebars', frequency: 880 }, receive: true });
  const pointB = await join({ identity: 'b', role: 'point', receive: true });
  if (options.live) room.goLive();
  if (options.floor) await room.giveFloor(options.floor);
  await room.settled();
  return { room, studio, pointA, pointB, join };
}

/**
 * Packets that reached `who` for a producer, counted over `ms` once the first
 * arrived (a new video consumer waits for the encoder's next keyframe, and
 * ffmpeg ignores keyframe requests).
 */
async function flowing(who: PlainParticipant, producerId: string, ms = 1500): Promise<number> {
  const ssrc = who.ssrcOf(producerId);
  if (ssrc === undefined) return 0;
  const start = who.sink!.count(ssrc);
  await waitFor('first packet', () => who.sink!.count(ssrc) > start, 5000).catch(() => {});
  const before = who.sink!.count(ssrc);
  await sleep(ms);
  return who.sink!.count(ssrc) - before;
}

const consumedBy = (who: PlainParticipant) => [...who.peer.consumers.keys()].sort();

describe('a live session', () => {
  it('spreads participants over the media workers', async () => {
    const { studio, pointA, pointB } = await session();
    const slots = new Set([studio, pointA, pointB].map((p) => p.peer.slotIndex));
    expect(slots.size).toBe(2);
  });

  it('sends nothing before the studio goes on air', async () => {
    const { room, pointB } = await session();
    await room.settled();
    expect(pointB.peer.consumers.size).toBe(0);
  });

  it('brings the studio picture and voice to every point once live', async () => {
    const { room, studio, pointA, pointB } = await session();
    room.goLive();
    await room.settled();
    expect(consumedBy(pointB)).toEqual([studio.videoProducerId, studio.audioProducerId].sort());
    expect(await flowing(pointB, studio.videoProducerId!)).toBeGreaterThan(20);
    expect(await flowing(pointB, studio.audioProducerId!)).toBeGreaterThan(20);
    // A point without the floor is not heard: its microphone is paused at the SFU.
    expect(pointA.peer.producers.get(pointA.audioProducerId!)!.paused).toBe(true);
    expect(pointB.peer.consumers.has(pointA.audioProducerId!)).toBe(false);
    expect(room.snapshot().programSource).toBe('studio');
  });

  it('puts the point with the floor on air for everyone else', async () => {
    const { room, studio, pointA, pointB } = await session({ live: true });
    await room.giveFloor('a');
    await room.settled();
    expect(room.snapshot()).toMatchObject({ floor: 'a', programSource: 'a' });
    expect(consumedBy(pointB)).toEqual([pointA.videoProducerId, pointA.audioProducerId, studio.audioProducerId].sort());
    expect(await flowing(pointB, pointA.videoProducerId!)).toBeGreaterThan(20);
    expect(await flowing(pointB, pointA.audioProducerId!)).toBeGreaterThan(20);
    expect(pointA.peer.producers.get(pointA.audioProducerId!)!.paused).toBe(false);
    // The point with the floor hears the studio and does not receive itself.
    expect(consumedBy(pointA)).toEqual([studio.audioProducerId]);
  });

  it('returns the program to the studio when the floor is taken back', async () => {
    const { room, studio, pointA, pointB } = await session({ live: true, floor: 'a' });
    await room.takeFloor();
    await room.settled();
    expect(room.snapshot()).toMatchObject({ floor: null, programSource: 'studio' });
    expect(consumedBy(pointB)).toEqual([studio.videoProducerId, studio.audioProducerId].sort());
    expect(await flowing(pointB, studio.videoProducerId!)).toBeGreaterThan(20);
    expect(pointA.peer.producers.get(pointA.audioProducerId!)!.paused).toBe(true);
  });

  it("carries one of the hall's two studios (browser and encoder): the operator's choice, falling back to the other and back", async () => {
    const { room, studio, pointB, join } = await session({ live: true });
    const encoder = await join({ identity: 'encoder', role: 'studio', send: { pattern: 'mandelbrot', frequency: 660 } });
    await room.settled();
    // The first to join stays on air; the second studio is connected, silent and off air.
    expect(room.snapshot()).toMatchObject({ programSource: 'studio', studio: 'studio', chosenStudio: null });
    expect(consumedBy(pointB)).toEqual([studio.videoProducerId, studio.audioProducerId].sort());
    expect(encoder.peer.producers.get(encoder.audioProducerId!)!.paused).toBe(true);

    room.chooseStudio('encoder', 'dieu-hanh');
    await room.settled();
    expect(room.snapshot()).toMatchObject({ programSource: 'encoder', studio: 'encoder', chosenStudio: 'encoder' });
    // Who put which source on air is in the audit log.
    await expect
      .poll(async () => (await server.audit.read({ sessionId: room.id })).filter((e) => e.action === 'studio.choose'))
      .toEqual([expect.objectContaining({ actor: 'dieu-hanh', target: 'encoder' })]);
    expect(consumedBy(pointB)).toEqual([encoder.videoProducerId, encoder.audioProducerId].sort());
    expect(await flowing(pointB, encoder.videoProducerId!)).toBeGreaterThan(20);
    expect(encoder.peer.producers.get(encoder.audioProducerId!)!.paused).toBe(false);
    expect(studio.peer.producers.get(studio.audioProducerId!)!.paused).toBe(true);

    // The encoder drops: the browser studio is the program again at once.
    await encoder.stop();
    room.leave(encoder.peer, 'the encoder left');
    await room.settled();
    expect(room.snapshot()).toMatchObject({ programSource: 'studio', studio: 'studio', chosenStudio: 'encoder' });
    expect(consumedBy(pointB)).toEqual([studio.videoProducerId, studio.audioProducerId].sort());
    expect(studio.peer.producers.get(studio.audioProducerId!)!.paused).toBe(false);

    // It comes back: the operator's choice holds, it is the program again.
    const back = await join({ identity: 'encoder', role: 'studio', send: { pattern: 'mandelbrot', frequency: 660 } });
    await room.settled();
    expect(room.snapshot()).toMatchObject({ programSource: 'encoder', studio: 'encoder' });
    expect(consumedBy(pointB)).toEqual([back.videoProducerId, back.audioProducerId].sort());
    expect(studio.peer.producers.get(studio.audioProducerId!)!.paused).toBe(true);
    expect(() => room.chooseStudio('b')).toThrow(/only a studio/);
  });

  it('gives a point on a weak link audio only when it asks', async () => {
    const { room, studio, pointB } = await session({ live: true });
    await room.setReceiveMode(pointB.peer, 'audio-only');
    await room.settled();
    expect(consumedBy(pointB)).toEqual([studio.audioProducerId]);
    await room.setReceiveMode(pointB.peer, 'low');
    await room.settled();
    expect(consumedBy(pointB)).toContain(studio.videoProducerId);
    expect(await flowing(pointB, studio.videoProducerId!)).toBeGreaterThan(20);
  });

  it('keeps raised hands and the floor by identity', async () => {
    const { room, pointA } = await session({ live: true });
    room.raiseHand(pointA.peer, true);
    expect(room.snapshot().handsRaised).toEqual(['a']);
    await room.giveFloor('a');
    expect(room.snapshot().handsRaised).toEqual([]);
  });

  it('refuses the floor to someone absent or to the studio', async () => {
    const { room } = await session({ live: true });
    await expect(room.giveFloor('nobody')).rejects.toMatchObject({ code: 'not-found' });
    await expect(room.giveFloor('studio')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('replaces a peer that joins again with the same identity, leaving no ghost', async () => {
    const { room, studio, pointB, join } = await session({ live: true });
    const before = room.peers.size;
    const again = await join({ identity: 'b', role: 'point', receive: true });
    expect(room.peers.size).toBe(before);
    expect(pointB.peer.closed).toBe(true);
    await room.settled();
    expect(await flowing(again, studio.videoProducerId!)).toBeGreaterThan(20);
  });

  it("shows each worker's load and reply time in the metrics, to see saturation coming", async () => {
    // Media on both workers (the participants are spread over them), so that each has load to show.
    const { studio, pointB } = await session({ live: true });
    await waitFor('the studio picture at point b', () => pointB.sink!.count(pointB.ssrcOf(studio.videoProducerId!) ?? -1) > 0);
    await waitFor('two health probes', () => server.pool.slots.every((slot) => slot.cpuPercent > 0), 20_000);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const figures: string[] = [];
    for (const slot of server.pool.slots) {
      const cpu = Number(new RegExp(`diemcau_worker_cpu_percent\\{worker="${slot.index}"\\} ([0-9.]+)`).exec(text)?.[1]);
      const reply = Number(new RegExp(`diemcau_worker_reply_ms\\{worker="${slot.index}"\\} ([0-9.]+)`).exec(text)?.[1]);
      // Measured and exported; how fast a worker replies is a figure (it depends on the machine), not a pass mark.
      expect(cpu).toBeGreaterThan(0);
      expect(reply).toBeGreaterThan(0);
      figures.push(`worker ${slot.index}: cpu ${cpu} %, reply ${reply} ms`);
    }
    console.log(`worker metrics: ${figures.join('; ')}`);
  });
});
