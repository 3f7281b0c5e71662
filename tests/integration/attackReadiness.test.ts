/**
 * The readiness check attacked from outside with real tokens against a real
 * server and mediasoup worker: loops and parallel starts, sockets killed at
 * every step, produce/connect/finish with foreign ids and bad data, the wrong
 * roles, and the operator's request flood. Every refusal is a typed error,
 * no check transport outlives its socket, and the server keeps serving.
 */
import { observer, type types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessFigures, Role } from '../../protocol/index.js';
import { BusyError } from '../../sfu/errors.js';
import { ReadinessService } from '../../sfu/readiness/ReadinessService.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { errorCode, replyData, signalingAs } from '../helpers/signalingAs.js';
import type { RawSignaling } from '../helpers/wsClient.js';

/** Every live WebRtcTransport and producer of the server's workers, counted from mediasoup itself. */
const transports = new Set<types.Transport>();
const producers = new Set<types.Producer>();
observer.on('newworker', (worker) =>
  worker.observer.on('newrouter', (router) =>
    router.observer.on('newtransport', (t) => {
      transports.add(t);
      t.observer.once('close', () => transports.delete(t));
      t.observer.on('newproducer', (p) => {
        producers.add(p);
        p.observer.once('close', () => producers.delete(p));
      });
    }),
  ),
);

let server: Awaited<ReturnType<typeof startServer>>;
const sid = 'tan-cong';
const points = Array.from({ length: 12 }, (_, i) => `xa-${i}`);
const sockets: RawSignaling[] = [];
let rtpCapabilities: unknown;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

const connect = (sub: string, role: Role): Promise<RawSignaling> => signalingAs(server, sid, sub, role, sockets);
const data = replyData;
async function killed(ws: RawSignaling): Promise<void> {
  ws.ws.terminate();
  await ws.closed;
}
/** No check left: the service and mediasoup agree that nothing but joined peers' transports lives. */
async function nothingLeft(baseTransports: number): Promise<void> {
  await waitFor('checks closed', () => server.readiness.running === 0 && transports.size === baseTransports && producers.size === 0);
}
/** The server still serves: a health request answers and a point joins. */
async function stillServes(): Promise<void> {
  expect((await fetch(`${server.url}/healthz`)).status).toBeLessThan(500);
  const ws = await connect('xa-5', 'point');
  data(await ws.request('join', { rtpCapabilities, name: 'Xã 5' }));
  await killed(ws);
}

const figures: ReadinessFigures = {
  camera: true,
  micLevel: 0.3,
  speakers: 'heard',
  transport: 'udp',
  rttMs: 20,
  uploadKbps: 2000,
  downloadKbps: 2000,
  loss: 0,
};
const vp8 = {
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  encodings: [{ ssrc: 1111 }],
};
const dtls = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startServer({ workers: 1 });
  for (const id of points) await server.points.createPoint({ id, name: id });
  await server.sessions.create({ id: sid, title: 'Tấn công kiểm tra', invitedPoints: points });
  const probe = await connect('xa-0', 'point');
  rtpCapabilities = data<{ rtpCapabilities: unknown }>(await probe.request('router.capabilities', {})).rtpCapabilities;
  await killed(probe);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const ws of sockets) ws.close();
  await server?.stop();
});

describe('attacking the readiness check', () => {
  it('keeps one check per point however many sockets start it at once, and closes all with their sockets', async () => {
    const base = transports.size;
    const tabs = await Promise.all(Array.from({ length: 8 }, () => connect('xa-1', 'point')));
    const replies = await Promise.all(tabs.map((t) => t.request('readiness.start', { rtpCapabilities })));
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    expect(new Set(replies.filter((r) => !r.ok).map(errorCode))).toEqual(new Set(['conflict']));
    // Many points at once: one pair of transports each.
    const others = await Promise.all(['xa-2', 'xa-3', 'xa-4'].map((p) => connect(p, 'point')));
    for (const r of await Promise.all(others.map((o) => o.request('readiness.start', { rtpCapabilities })))) data(r);
    expect(server.readiness.running).toBe(4);
    expect(transports.size - base).toBe(8);
    // The same socket looping: told to wait, never a second pair.
    const winner = tabs[replies.findIndex((r) => r.ok)];
    for (let i = 0; i < 5; i++)
      expect(['conflict', 'rate-limited']).toContain(errorCode(await winner.request('readiness.start', { rtpCapabilities })));
    expect(transports.size - base).toBeLessThanOrEqual(8);
    await Promise.all([...tabs, ...others].map(killed));
    await nothingLeft(base);

    // Many points' tokens together: the node's cap on running checks holds (a service with a cap of 2 on the same room).
    const capped = new ReadinessService({ store: server.store, logger: server.logger, maxRunning: 2 });
    const room = await server.sessions.room(sid);
    const caps = rtpCapabilities as types.RtpCapabilities;
    const outcomes = await Promise.allSettled(['xa-1', 'xa-2', 'xa-3', 'xa-4'].map((p) => capped.startCheck(room, p, caps)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(BusyError);
    expect(capped.running).toBe(2);
    capped.close();
    await nothingLeft(base);
    expect(unhandled).toEqual([]);
    await stillServes();
  });

  it('leaves nothing behind when the socket dies after start, after connect, after produce', async () => {
    const base = transports.size;
    // A fresh point for each step: none is held back by the interval between a point's checks.
    for (const [step, point] of [
      ['start', 'xa-6'],
      ['connect', 'xa-7'],
      ['produce', 'xa-8'],
      ['mid-start', 'xa-9'],
    ] as const) {
      const ws = await connect(point, 'point');
      if (step === 'mid-start') {
        // Killed while the worker makes the transports.
        ws.ws.send(JSON.stringify({ id: 99, method: 'readiness.start', data: { rtpCapabilities } }));
        await waitFor('the check being set up', () => transports.size > base || server.readiness.running > 0, 5000).catch(() => undefined);
        await killed(ws);
        await nothingLeft(base);
        continue;
      }
      const check = data<{ send: { id: string } }>(await ws.request('readiness.start', { rtpCapabilities }));
      if (step !== 'start') data(await ws.request('readiness.connect', { transportId: check.send.id, dtlsParameters: dtls }));
      if (step === 'produce') {
        data(await ws.request('readiness.produce', { kind: 'video', rtpParameters: vp8 }));
        expect(producers.size).toBe(1);
      }
      await killed(ws);
      await nothingLeft(base);
    }
    expect(unhandled).toEqual([]);
    await stillServes();
  });

  it('refuses foreign ids, a second or concurrent produce, and bad parameters with typed errors', async () => {
    const base = transports.size;
    const a = await connect('xa-10', 'point');
    const b = await connect('xa-11', 'point');
    const joined = await connect('xa-0', 'point');
    data(await joined.request('join', { rtpCapabilities, name: 'Xã 0' }));
    const peerTransport = data<{ id: string }>(await joined.request('transport.create', { direction: 'send' }));
    data(await a.request('readiness.start', { rtpCapabilities }));
    const checkOfB = data<{ send: { id: string } }>(await b.request('readiness.start', { rtpCapabilities }));
    // Another socket's check, a joined peer's transport: not this check's.
    expect(errorCode(await a.request('readiness.connect', { transportId: checkOfB.send.id, dtlsParameters: dtls }))).toBe('not-found');
    expect(errorCode(await a.request('readiness.connect', { transportId: peerTransport.id, dtlsParameters: dtls }))).toBe('not-found');
    expect(errorCode(await a.request('readiness.connect', { transportId: 'x'.repeat(10_000), dtlsParameters: dtls }))).toBe('bad-request');
    // Malformed and huge rtpParameters.
    const bad = [
      { kind: 'video', rtpParameters: {} },
      { kind: 'audio', rtpParameters: vp8 },
      { kind: 'video', rtpParameters: { codecs: Array(1000).fill(vp8.codecs[0]) } },
      { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'x'.repeat(100_000) }] } },
    ];
    for (const d of bad) expect(['bad-request', 'media-error']).toContain(errorCode(await a.request('readiness.produce', d)));
    expect(
      errorCode(
        await a.request('readiness.produce', { kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/XYZ', payloadType: 1 }] } }),
      ),
    ).toBe('media-error');
    // Two produces at once: one picture, the other refused.
    const two = await Promise.all([0, 1].map(() => a.request('readiness.produce', { kind: 'video', rtpParameters: vp8 })));
    expect(two.filter((r) => r.ok)).toHaveLength(1);
    expect(two.map(errorCode).filter(Boolean)).toEqual(['conflict']);
    expect(producers.size).toBe(1);
    expect(errorCode(await a.request('readiness.produce', { kind: 'video', rtpParameters: vp8 }))).toBe('conflict');

    // Figures out of range, not numbers, extra fields, long strings; then once, and not twice.
    for (const f of [
      { ...figures, rttMs: -1 },
      { ...figures, uploadKbps: 1e308 },
      { ...figures, downloadKbps: 1_000_001 },
      { ...figures, loss: 'NaN' },
      { ...figures, micLevel: null },
      { ...figures, extra: 1 },
      { ...figures, speakers: 'x'.repeat(100_000) },
    ])
      expect(errorCode(await a.request('readiness.finish', { figures: f }))).toBe('bad-request');
    // JSON has no NaN nor Infinity (JSON.stringify makes them null, a valid "not measured"): sent raw they make the frame unparseable.
    const raw = await a.raw('{"id":500,"method":"readiness.finish","data":{"figures":{"rttMs":NaN}}}', -1);
    expect(errorCode(raw)).toBe('bad-request');
    data(await a.request('readiness.finish', { figures }));
    expect(errorCode(await a.request('readiness.finish', { figures }))).toBe('conflict');
    expect(errorCode(await a.request('readiness.resume', {}))).toBe('not-found');
    await Promise.all([a, b].map(killed));
    await joined.request('leave', {}).catch(() => undefined);
    await killed(joined);
    await nothingLeft(base);
    expect(unhandled).toEqual([]);
    await stillServes();
  });

  it('refuses the check to other roles and the request to points, and keeps a request flood bounded', async () => {
    for (const role of ['viewer', 'studio', 'operator'] as const) {
      const ws = await connect(`khong-phai-${role}`, role);
      for (const m of ['readiness.start', 'readiness.status', 'readiness.produce', 'readiness.finish'])
        expect(errorCode(await ws.request(m, m === 'readiness.finish' ? { figures } : { rtpCapabilities }))).toMatch(
          /forbidden|bad-request/,
        );
      expect(errorCode(await ws.request('readiness.start', { rtpCapabilities }))).toBe('forbidden');
      await killed(ws);
    }
    const point = await connect('xa-4', 'point');
    for (const identity of ['xa-4', 'xa-3']) expect(errorCode(await point.request('readiness.request', { identity }))).toBe('forbidden');
    const operator = await connect('dieu-hanh', 'operator');
    for (const identity of ['../xa-1', 'a/b', '', 'x'.repeat(65), '.hidden'])
      expect(errorCode(await operator.request('readiness.request', { identity }))).toBe('bad-request');
    // Asking a joined viewer: not a point.
    const viewer = await connect('nguoi-xem', 'viewer');
    data(await viewer.request('join', { rtpCapabilities, name: 'Người xem' }));
    expect(errorCode(await operator.request('readiness.request', { identity: 'nguoi-xem' }))).toBe('forbidden');

    // A flood from several operator sockets: the point's page is told a bounded number of times.
    const page = await connect('xa-1', 'point');
    const operators = [operator, ...(await Promise.all([1, 2, 3].map((i) => connect(`dieu-hanh-${i}`, 'operator'))))];
    const replies = await Promise.all(
      operators.flatMap((o) => Array.from({ length: 20 }, () => o.request('readiness.request', { identity: 'xa-1' }))),
    );
    for (const r of replies) expect(r.ok || ['rate-limited'].includes(errorCode(r)!)).toBe(true);
    await waitFor('the request reaches the page', () => page.notifications.some((n) => n.notification === 'readiness.requested'));
    // Settled: every reply is in, the page got a handful, not one per request.
    expect(page.notifications.filter((n) => n.notification === 'readiness.requested').length).toBeLessThanOrEqual(2);
    expect(unhandled).toEqual([]);
    await stillServes();
  });
});
