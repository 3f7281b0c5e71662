/**
 * The readiness check's signaling against a real server: a point's socket
 * checks without joining, the operator's request to check again reaches the
 * point's open page, a result is judged and kept for the roll call, and every
 * malformed, oversized or misplaced request gets a typed error while the
 * server keeps serving. (The media echo itself runs in real Chromium:
 * tests/e2e/readiness.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessFigures, ReadinessState, Role } from '../../protocol/index.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { errorCode, replyData, signalingAs } from '../helpers/signalingAs.js';
import type { RawSignaling } from '../helpers/wsClient.js';

let server: Awaited<ReturnType<typeof startServer>>;
const sid = 'kiem-tra';
const sockets: RawSignaling[] = [];

const connect = (sub: string, role: Role): Promise<RawSignaling> => signalingAs(server, sid, sub, role, sockets);
const data = replyData;

/** What a page reports when its media never got through. */
const unreachable: ReadinessFigures = {
  camera: true,
  micLevel: 0.2,
  speakers: 'heard',
  transport: null,
  rttMs: null,
  uploadKbps: null,
  downloadKbps: null,
  loss: null,
};

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  await server.points.createPoint({ id: 'xa-a', name: 'Xã A' });
  await server.sessions.create({ id: sid, title: 'Kiểm tra sẵn sàng', invitedPoints: ['xa-a'] });
});

afterAll(async () => {
  for (const ws of sockets) ws.close();
  await server?.stop();
});

describe('the readiness check over signaling', () => {
  it('shows a point never checked as such, and delivers the operator’s request to its open page', async () => {
    const point = await connect('xa-a', 'point');
    expect(data<ReadinessState>(await point.request('readiness.status', {}))).toEqual({ latest: null, requestedAt: null });
    const operator = await connect('dieu-hanh', 'operator');
    data(await operator.request('readiness.request', { identity: 'xa-a' }));
    await waitFor('request reaches the point', () => point.notifications.some((n) => n.notification === 'readiness.requested'));
    // A page opened later finds the request waiting.
    const later = await connect('xa-a', 'point');
    expect(data<ReadinessState>(await later.request('readiness.status', {})).requestedAt).toBeTypeOf('number');
    const audit = await server.audit.read({ sessionId: sid });
    expect(audit.some((e) => e.action === 'readiness.request' && e.target === 'xa-a' && e.actor === 'dieu-hanh')).toBe(true);
  });

  it('opens a check without joining the session, one at a time, and refuses a malformed or oversized result', async () => {
    const point = await connect('xa-a', 'point');
    const { rtpCapabilities } = data<{ rtpCapabilities: unknown }>(await point.request('router.capabilities', {}));
    const started = data<{ send: { id: string }; recv: { id: string }; maxDurationMs: number }>(
      await point.request('readiness.start', { rtpCapabilities }),
    );
    expect(started.send.id).not.toBe(started.recv.id);
    expect(server.readiness.running).toBe(1);
    const room = await server.sessions.room(sid);
    expect(room.peer('xa-a')).toBeUndefined();
    expect((await server.rollCall.rollCall(sid)).points.find((r) => r.identity === 'xa-a')?.state).toBe('absent');

    // The same point from another tab while it runs: refused, not a second pair of transports.
    const other = await connect('xa-a', 'point');
    expect(errorCode(await other.request('readiness.start', { rtpCapabilities }))).toBe('conflict');

    expect(errorCode(await point.request('readiness.finish', { figures: { ...unreachable, loss: 7 } }))).toBe('bad-request');
    expect(errorCode(await point.request('readiness.finish', { figures: { ...unreachable, note: 'x'.repeat(100_000) } }))).toBe(
      'bad-request',
    );
    expect(errorCode(await point.request('readiness.finish', { figures: { camera: 'yes' } }))).toBe('bad-request');
    expect(errorCode(await point.request('readiness.connect', { transportId: 'nope', dtlsParameters: {} }))).toBe('not-found');
    expect(server.readiness.running).toBe(1);

    const result = data<{ verdict: string; problems: string[] }>(await point.request('readiness.finish', { figures: unreachable }));
    expect(result).toMatchObject({ verdict: 'problem', problems: ['network-unreachable'] });
    expect(server.readiness.running).toBe(0);
    // Sent once: a second result for the same check is refused.
    expect(errorCode(await point.request('readiness.finish', { figures: unreachable }))).toBe('conflict');
    // Run again at once: told to wait a few seconds.
    expect(errorCode(await point.request('readiness.start', { rtpCapabilities }))).toBe('rate-limited');

    // The operator's roll call shows the check; the request to check again is answered by it.
    const row = (await server.rollCall.rollCall(sid)).points.find((r) => r.identity === 'xa-a');
    expect(row?.readiness).toMatchObject({ requestedAt: null, latest: { verdict: 'problem', problems: ['network-unreachable'] } });
    // And the schedule counts it among the session's invited points.
    const operatorToken = await server.tokens.sign({ sid: '*', sub: 'dieu-hanh', role: 'operator', name: 'Điều hành' });
    const list = (await (await fetch(`${server.url}/api/sessions`, { headers: { authorization: `Bearer ${operatorToken}` } })).json()) as {
      sessions: { id: string; readiness?: { ready: number; problem: number } }[];
    };
    expect(list.sessions.find((s) => s.id === sid)?.readiness).toEqual({ ready: 0, problem: 1 });
  });

  it('refuses the check to every role but a point, and the request to every role but the operator', async () => {
    for (const role of ['studio', 'viewer', 'operator'] as const) {
      const ws = await connect(`not-a-point-${role}`, role);
      expect(errorCode(await ws.request('readiness.start', { rtpCapabilities: { codecs: [] } }))).toBe('forbidden');
      expect(errorCode(await ws.request('readiness.finish', { figures: unreachable }))).toBe('forbidden');
    }
    const point = await connect('xa-b', 'point');
    expect(errorCode(await point.request('readiness.request', { identity: 'xa-a' }))).toBe('forbidden');
    expect(errorCode(await point.request('readiness.finish', { figures: unreachable }))).toBe('conflict');
  });

  it('closes a running check with its socket, and keeps serving', async () => {
    const point = await connect('xa-c', 'point');
    const { rtpCapabilities } = data<{ rtpCapabilities: unknown }>(await point.request('router.capabilities', {}));
    data(await point.request('readiness.start', { rtpCapabilities }));
    expect(server.readiness.running).toBe(1);
    point.close();
    await waitFor('check closed with its socket', () => server.readiness.running === 0);
    const again = await connect('xa-a', 'point');
    expect(data<ReadinessState>(await again.request('readiness.status', {})).latest?.verdict).toBe('problem');
  });
});
