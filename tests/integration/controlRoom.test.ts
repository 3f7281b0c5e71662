/**
 * The control room acts over one channel, its signaling connection: the
 * operator mutes a point and moves the agenda on the same socket that gives
 * the floor, each action reaches the session at once and is written to the
 * audit log under the operator, as the console's HTTP routes write it; a
 * point on its own socket may do neither.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Room } from '../../sfu/room/Room.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

let server: Awaited<ReturnType<typeof startServer>>;
let room: Room;
let tanPhu: PlainParticipant;
let operator: SignalingProbe;
let point: SignalingProbe;
const sid = 'dieu-khien';

const socket = async (sub: string, role: 'operator' | 'point') =>
  SignalingProbe.open(`${server.url.replace(/^http/, 'ws')}/ws?token=${await tokenFor(server, sid, sub, role)}`);

const auditOf = async (action: string) => (await server.audit.read({ sessionId: sid })).filter((e) => e.action === action);

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  await server.sessions.create({
    id: sid,
    title: 'Giao ban',
    agenda: [
      { id: 'khai-mac', title: 'Khai mạc' },
      { id: 'thao-luan', title: 'Thảo luận' },
    ],
  });
  room = await server.sessions.room(sid);
  tanPhu = await joinPlain(room, { identity: 'tan-phu', role: 'point' });
  operator = await socket('chanh-vp', 'operator');
  point = await socket('an-binh', 'point');
  // Joined, so that it receives the session's snapshots as every point does.
  expect(await point.request('join', { rtpCapabilities: room.rtpCapabilities })).toMatchObject({ ok: true });
});

afterAll(async () => {
  operator?.ws.close();
  point?.ws.close();
  await tanPhu?.stop();
  await server?.stop();
});

describe("the control room's live actions over signaling", () => {
  it('mutes and unmutes a point: the session shows it at once, the audit log names the operator', async () => {
    expect(await operator.request('peer.mute', { identity: 'tan-phu', muted: true })).toMatchObject({ ok: true });
    expect(room.snapshot().peers.find((p) => p.identity === 'tan-phu')?.muted).toBe(true);
    expect(await operator.request('peer.mute', { identity: 'tan-phu', muted: false })).toMatchObject({ ok: true });
    expect(room.snapshot().peers.find((p) => p.identity === 'tan-phu')?.muted).toBe(false);

    await waitFor('mutes in the audit log', async () => (await auditOf('peer.unmute')).length > 0);
    expect((await auditOf('peer.mute'))[0]).toMatchObject({ actor: 'chanh-vp', target: 'tan-phu' });
    expect((await auditOf('peer.unmute'))[0]).toMatchObject({ actor: 'chanh-vp', target: 'tan-phu' });
  });

  it('refuses to mute someone who is not in the session', async () => {
    expect(await operator.request('peer.mute', { identity: 'my-loc', muted: true })).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    });
  });

  it('moves the agenda: the session, its record and every snapshot follow, and the audit log says who moved it', async () => {
    expect(await operator.request('agenda.setCurrent', { itemId: 'thao-luan' })).toMatchObject({ ok: true });
    expect(room.snapshot().agendaItem).toEqual({ id: 'thao-luan', title: 'Thảo luận' });
    expect(server.sessions.get(sid).currentAgendaItem).toBe('thao-luan');
    await point.notified('session.snapshot', (s) => (s as { agendaItem: { id: string } | null }).agendaItem?.id === 'thao-luan');

    expect(await operator.request('agenda.setCurrent', { itemId: null })).toMatchObject({ ok: true });
    expect(room.snapshot().agendaItem).toBeNull();
    expect(server.sessions.get(sid).currentAgendaItem).toBeUndefined();

    await waitFor('both moves in the audit log', async () => (await auditOf('agenda.current')).length === 2);
    const [moved, cleared] = await auditOf('agenda.current');
    expect(moved).toMatchObject({ actor: 'chanh-vp', sessionId: sid, target: 'thao-luan', details: { itemId: 'thao-luan' } });
    expect(cleared).toMatchObject({ actor: 'chanh-vp', sessionId: sid, details: { itemId: null } });
  });

  it('refuses an agenda item the session does not have, and logs nothing for it', async () => {
    expect(await operator.request('agenda.setCurrent', { itemId: 'khong-co' })).toMatchObject({
      ok: false,
      error: { code: 'not-found' },
    });
    expect(room.snapshot().agendaItem).toBeNull();
    expect((await auditOf('agenda.current')).some((e) => e.target === 'khong-co')).toBe(false);
  });

  it('lets a point neither mute nor move the agenda', async () => {
    for (const [method, data] of [
      ['peer.mute', { identity: 'tan-phu', muted: true }],
      ['agenda.setCurrent', { itemId: 'khai-mac' }],
    ] as const) {
      expect(await point.request(method, data), method).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(room.snapshot().peers.find((p) => p.identity === 'tan-phu')?.muted).toBe(false);
    expect(room.snapshot().agendaItem).toBeNull();
  });
});
