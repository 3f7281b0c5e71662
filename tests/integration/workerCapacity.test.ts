/**
 * Streams per media worker, attacked from outside: a real server with room
 * for 4 streams on each of its 2 workers, and signaling clients that join,
 * send and receive until both are full. The next stream or join gets a typed
 * `busy` reply on its request (the socket stays open), everyone already
 * served keeps their streams, capacity comes back as streams close or
 * participants leave (or vanish), and once everyone has gone the workers
 * carry nothing — as /metrics reports it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplyMessage } from '../../protocol/index.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

type TestServer = Awaited<ReturnType<typeof startServer>>;
type Role = 'operator' | 'studio' | 'point' | 'viewer';

const maxStreamsPerWorker = 4;
let server: TestServer;
let rtpCapabilities: unknown;
const uncaught: unknown[] = [];
const recordUncaught = (error: unknown) => uncaught.push(error);

const wsUrl = (token: string) => `${server.url.replace('http', 'ws')}/ws?token=${token}`;

async function open(sid: string, sub: string, role: Role): Promise<SignalingProbe> {
  return SignalingProbe.open(wsUrl(await tokenFor(server, sid, sub, role)));
}

async function joined(sid: string, sub: string, role: Role): Promise<SignalingProbe> {
  const p = await open(sid, sub, role);
  expect(await p.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
  return p;
}

const idOf = (reply: ReplyMessage) => (reply as { data: { id: string } }).data.id;

async function transport(p: SignalingProbe, direction: 'send' | 'recv'): Promise<string> {
  const reply = await p.request('transport.create', { direction });
  expect(reply).toMatchObject({ ok: true });
  return idOf(reply);
}

let ssrc = 100_000;
function stream(kind: 'audio' | 'video', source: 'camera' | 'mic' | 'screen') {
  const n = ssrc++;
  const codec =
    kind === 'video'
      ? { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }
      : { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 };
  return { kind, source, rtpParameters: { mid: `m${n}`, codecs: [codec], encodings: [{ ssrc: n }] } };
}

function produce(p: SignalingProbe, transportId: string, kind: 'audio' | 'video', source: 'camera' | 'mic' | 'screen') {
  return p.request('produce', { transportId, ...stream(kind, source) });
}

const codeOf = (reply: ReplyMessage) => (reply.ok ? 'ok' : reply.error.code);

/** Resolves once `check` holds, looked at again on every message any of `probes` receives. */
function until(probes: SignalingProbe[], what: string, check: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const look = () => {
      if (!check()) return;
      for (const p of probes) p.ws.off('message', look);
      resolve();
    };
    // Registered after each probe's own listener: the notification is already recorded when this runs.
    for (const p of probes) {
      p.ws.on('message', look);
      void p.closed.then((c) => reject(new Error(`closed with ${c.code} before ${what}`)));
    }
    look();
  });
}

const consumersOf = (p: SignalingProbe) => p.notifications.filter((n) => n.notification === 'consumer.new');
const closedConsumersOf = (p: SignalingProbe) => p.notifications.filter((n) => n.notification === 'consumer.closed');

/** Waits until a receiver was told of `count` consumers in all. */
const receives = (p: SignalingProbe, count: number) => until([p], `${count} consumers`, () => consumersOf(p).length >= count);

/** What /metrics says each media worker carries. */
async function workers(): Promise<{ peers: number[]; streams: number[]; max: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const perWorker = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\d+)$`, 'gm'))]
      .sort((a, b) => Number(a[1]) - Number(b[1]))
      .map((m) => Number(m[2]));
  const max = Number(/^diemcau_worker_streams_max (\d+)$/m.exec(text)?.[1]);
  return { peers: perWorker('diemcau_worker_peers'), streams: perWorker('diemcau_worker_streams'), max };
}

async function leave(...probes: SignalingProbe[]): Promise<void> {
  for (const p of probes) {
    // The reply comes once the server has let go of everything the participant held.
    expect(await p.request('leave', {})).toMatchObject({ ok: true });
    await p.close();
  }
}

beforeAll(async () => {
  process.on('uncaughtException', recordUncaught);
  server = await startServer({ workers: 2, maxStreamsPerWorker, maxRequestsPerSecond: 10_000 });
  for (const id of ['live', 'early', 'senders', 'crash']) await server.sessions.create({ id, title: id });
  const probe = await open('live', 'capabilities', 'viewer');
  rtpCapabilities = ((await probe.request('router.capabilities')) as { data: { rtpCapabilities: unknown } }).data.rtpCapabilities;
  await probe.close();
});

afterAll(async () => {
  await server?.stop();
  process.off('uncaughtException', recordUncaught);
});

describe('maxStreamsPerWorker', () => {
  it('reports the limit and empty workers', async () => {
    expect(await workers()).toEqual({ peers: [0, 0], streams: [0, 0], max: maxStreamsPerWorker });
  });

  it('refuses a join that cannot get the program as busy, keeps serving everyone else, and admits it once one leaves', async () => {
    // The studio sends the program: its camera and microphone, 2 streams on its worker.
    const studio = await joined('live', 'studio', 'studio');
    const send = await transport(studio, 'send');
    expect(codeOf(await produce(studio, send, 'video', 'camera'))).toBe('ok');
    expect(codeOf(await produce(studio, send, 'audio', 'mic'))).toBe('ok');
    expect(await studio.request('session.goLive', {})).toMatchObject({ ok: true });

    // Each viewer receives the picture and the studio's voice: 2 streams on its worker.
    const viewers: SignalingProbe[] = [];
    for (const name of ['v1', 'v2', 'v3']) {
      const v = await joined('live', name, 'viewer');
      await transport(v, 'recv');
      await receives(v, 2);
      viewers.push(v);
    }
    expect(await workers()).toMatchObject({ peers: [2, 2], streams: [4, 4] });

    // Both workers are full: the next viewer is refused on its request, and its socket stays open.
    const late = await open('live', 'v4', 'viewer');
    const refused = await late.request('join', { rtpCapabilities });
    expect(refused).toMatchObject({ ok: false, error: { code: 'busy' } });
    expect(late.closedWith).toBeUndefined();
    // So is one more stream from the studio, whose worker is full too.
    expect(codeOf(await produce(studio, send, 'video', 'screen'))).toBe('busy');
    expect(studio.closedWith).toBeUndefined();
    expect(await workers()).toMatchObject({ peers: [2, 2], streams: [4, 4] });

    // Everyone served keeps their streams, and the worker still answers them.
    for (const v of viewers) {
      expect(closedConsumersOf(v)).toHaveLength(0);
      const { consumerId } = consumersOf(v)[0].data as { consumerId: string };
      expect(await v.request('consumer.resume', { consumerId })).toMatchObject({ ok: true });
    }

    // One viewer leaves: its 2 streams are free, and the refused viewer gets in and receives.
    await leave(viewers.shift()!);
    expect(await late.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
    await transport(late, 'recv');
    await receives(late, 2);
    expect(await workers()).toMatchObject({ peers: [2, 2], streams: [4, 4] });

    await leave(late, ...viewers, studio);
    expect(await workers()).toMatchObject({ peers: [0, 0], streams: [0, 0] });
    expect(uncaught).toEqual([]);
  });

  it('gives receivers the consumers a full worker refused them once a stream there closes', async () => {
    // Joined before the session is on air, when nobody receives anything yet: every join fits.
    const studio = await joined('early', 'studio', 'studio');
    const send = await transport(studio, 'send');
    expect(codeOf(await produce(studio, send, 'video', 'camera'))).toBe('ok');
    expect(codeOf(await produce(studio, send, 'audio', 'mic'))).toBe('ok');
    const receivers: SignalingProbe[] = [];
    for (const name of ['e1', 'e2', 'e3', 'e4']) {
      const r = await joined('early', name, 'viewer');
      await transport(r, 'recv');
      receivers.push(r);
    }
    // The studio and e3 on one worker, e1, e2 and e4 on the other: 6 streams wanted there, room for 4.
    expect(await workers()).toMatchObject({ peers: [2, 3], streams: [2, 0] });
    const [e1, e2, e3, e4] = receivers;
    const onFullWorker = [e1, e2, e4];
    const given = () => onFullWorker.reduce((sum, r) => sum + consumersOf(r).length, 0);

    expect(await studio.request('session.goLive', {})).toMatchObject({ ok: true });
    await receives(e3, 2);
    await until(onFullWorker, '4 consumers on the full worker', () => given() === 4);
    expect(await workers()).toMatchObject({ streams: [4, 4] });

    // The receiver with the most leaves: exactly what the other two miss is freed, and they get it.
    onFullWorker.sort((a, b) => consumersOf(b).length - consumersOf(a).length);
    const leaving = onFullWorker.shift()!;
    await leave(leaving);
    for (const r of onFullWorker) await receives(r, 2);
    expect(await workers()).toMatchObject({ peers: [2, 2], streams: [4, 4] });
    for (const r of receivers) expect(closedConsumersOf(r)).toHaveLength(0);

    await leave(...onFullWorker, e3, studio);
    expect(await workers()).toMatchObject({ peers: [0, 0], streams: [0, 0] });
  });

  it('refuses a stream on a full worker as busy, admits it once another closes, and frees what a vanished socket held', async () => {
    // The operator watches who is present; it receives nothing before the session is on air.
    const operator = await joined('senders', 'operator', 'operator');
    const p1 = await joined('senders', 'p1', 'point');
    const p2 = await joined('senders', 'p2', 'point');
    const t1 = await transport(p1, 'send');
    const t2 = await transport(p2, 'send');
    // The operator and p2 on one worker, p1 on the other: 4 streams from each point fill both.
    const screens = new Map<SignalingProbe, string>();
    for (const [p, t] of [
      [p1, t1],
      [p2, t2],
    ] as const) {
      expect(codeOf(await produce(p, t, 'video', 'camera'))).toBe('ok');
      expect(codeOf(await produce(p, t, 'audio', 'mic'))).toBe('ok');
      const screen = await produce(p, t, 'video', 'screen');
      expect(codeOf(screen)).toBe('ok');
      screens.set(p, (screen as { data: { producerId: string } }).data.producerId);
      expect(codeOf(await produce(p, t, 'audio', 'camera'))).toBe('ok');
    }
    expect(await workers()).toMatchObject({ peers: [2, 1], streams: [4, 4] });

    // A third point joins (it receives nothing yet) but cannot send on its full worker.
    const p3 = await joined('senders', 'p3', 'point');
    const t3 = await transport(p3, 'send');
    const refused = await Promise.all([produce(p3, t3, 'video', 'camera'), produce(p3, t3, 'audio', 'mic')]);
    expect(refused.map(codeOf)).toEqual(['busy', 'busy']);
    expect(p3.closedWith).toBeUndefined();
    // A camera switch on a full worker still works: the old camera makes room for the new one.
    expect(codeOf(await produce(p1, t1, 'video', 'camera'))).toBe('ok');

    // p3 shares p1's worker: p1 stops sharing its screen, and p3's camera fits, its microphone not.
    expect(await workers()).toMatchObject({ peers: [2, 2], streams: [4, 4] });
    expect(await p1.request('producer.close', { producerId: screens.get(p1) })).toMatchObject({ ok: true });
    expect(codeOf(await produce(p3, t3, 'video', 'camera'))).toBe('ok');
    expect(codeOf(await produce(p3, t3, 'audio', 'mic'))).toBe('busy');

    // p2's socket vanishes without a word: once the session has let it go, its worker is empty.
    const present = (identity: string) => {
      const last = operator.notifications.filter((n) => n.notification === 'session.snapshot').at(-1);
      return !!last && (last.data as { peers: { identity: string }[] }).peers.some((peer) => peer.identity === identity);
    };
    await until([operator], 'p2 present', () => present('p2'));
    p2.ws.terminate();
    await until([operator], 'p2 gone', () => !present('p2'));
    expect(await workers()).toMatchObject({ peers: [1, 2], streams: [0, 4] });

    await leave(p1, p3, operator);
    expect(await workers()).toMatchObject({ peers: [0, 0], streams: [0, 0] });
    expect(uncaught).toEqual([]);
  });

  it('counts nothing that died with a worker, and what the participants rejoin with is given back too', async () => {
    const studio = await joined('crash', 'studio', 'studio');
    const send = await transport(studio, 'send');
    expect(codeOf(await produce(studio, send, 'video', 'camera'))).toBe('ok');
    expect(codeOf(await produce(studio, send, 'audio', 'mic'))).toBe('ok');
    expect(await studio.request('session.goLive', {})).toMatchObject({ ok: true });
    const viewer = await joined('crash', 'viewer', 'viewer');
    await transport(viewer, 'recv');
    await receives(viewer, 2);
    expect(await workers()).toMatchObject({ peers: [1, 1], streams: [2, 2] });

    // The viewer's worker is killed: the session rebuilds its media and asks everyone to rejoin.
    process.kill(server.pool.slots[1].worker.pid, 'SIGKILL');
    await Promise.all([studio.notified('media.restart'), viewer.notified('media.restart')]);
    // Still present (they rejoin over the same sockets), but no stream survived the restart.
    expect(await workers()).toMatchObject({ peers: [1, 1], streams: [0, 0] });

    // They rejoin and send and receive as before; then they leave, and nothing stays counted.
    expect(await studio.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
    const again = await transport(studio, 'send');
    expect(codeOf(await produce(studio, again, 'video', 'camera'))).toBe('ok');
    expect(codeOf(await produce(studio, again, 'audio', 'mic'))).toBe('ok');
    expect(await viewer.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
    await transport(viewer, 'recv');
    await receives(viewer, 4);
    expect(await workers()).toMatchObject({ peers: [1, 1], streams: [2, 2] });

    await leave(viewer, studio);
    expect(await workers()).toMatchObject({ peers: [0, 0], streams: [0, 0] });
    expect(uncaught).toEqual([]);
  });
});
