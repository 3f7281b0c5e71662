/**
 * Roll call, mute and attendance in a live session fed by ffmpeg through a
 * real mediasoup worker: the operator sees who is here and how good each
 * link is (one point's uplink goes through a relay that drops packets), who
 * never came and who left; mute silences the floor holder at the SFU; the
 * attendance report keeps every interval, in the session's time zone.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttendanceReport, RollCall, RollCallRow, Role } from '../../protocol/index.js';
import type { Peer } from '../../sfu/room/Peer.js';
import type { Room } from '../../sfu/room/Room.js';
import { formatInTimeZone } from '../../sfu/rollcall/Attendance.js';
import type { AuditEntry } from '../../sfu/audit/AuditLog.js';
import { feedAudioRtpParameters, feedRtp, feedVideoRtpParameters, type RtpFeed } from '../helpers/ffmpeg.js';
import { rtpSink, sleep, waitFor, type RtpSink } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { csvRows } from '../helpers/csv.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

let server: Awaited<ReturnType<typeof startServer>>;
let room: Room;
let operatorToken: string;
const cleanups: (() => unknown)[] = [];
const sid = 'hop-thu';
const timeZone = 'Asia/Ho_Chi_Minh';
const admin = { username: 'quan-tri', password: 'mat-khau-quan-tri' };

const api = (method: string, path: string, body?: unknown, token = operatorToken) =>
  fetch(`${server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/**
 * A UDP relay between an encoder and the media server that drops every
 * `dropEvery`-th RTP packet: a weak rural uplink, reproducibly.
 */
async function lossyRelay(target: number, dropEvery: number): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket('udp4');
  let source: dgram.RemoteInfo | undefined;
  let n = 0;
  socket.on('message', (msg, from) => {
    if (from.port === target) {
      if (source) socket.send(msg, source.port, source.address);
      return;
    }
    source = from;
    const rtcp = msg.length > 1 && msg[1] >= 192 && msg[1] <= 223;
    if (!rtcp && ++n % dropEvery === 0) return;
    socket.send(msg, target, '127.0.0.1');
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, close: () => socket.close() };
}

interface Participant {
  peer: Peer;
  micId?: string;
  sink?: RtpSink;
  /** Date.now() once room.join returned: the join happened between peer.joinedAt and this. */
  joinedBy: number;
}

/** A participant of plain RTP: ffmpeg sends its camera and mic (through a lossy relay if asked); a UDP socket receives. */
async function join(
  identity: string,
  name: string,
  role: Role,
  options: { send?: boolean; receive?: boolean; dropEvery?: number } = {},
): Promise<Participant> {
  const peer = room.join({ identity, name, role, plain: true, rtpCapabilities: room.rtpCapabilities });
  const participant: Participant = { peer, joinedBy: Date.now() };
  if (options.receive) {
    const sink = await rtpSink();
    cleanups.push(() => sink.close());
    const transport = await room.createPlainTransport(peer, 'recv');
    await transport.connect({ ip: '127.0.0.1', port: sink.port });
    participant.sink = sink;
  }
  if (options.send) {
    const video = await room.createPlainTransport(peer, 'send');
    const audio = await room.createPlainTransport(peer, 'send');
    await room.produce(peer, video.id, 'video', feedVideoRtpParameters, 'camera');
    participant.micId = (await room.produce(peer, audio.id, 'audio', feedAudioRtpParameters, 'mic')).id;
    let videoPort = video.tuple.localPort;
    let audioPort = audio.tuple.localPort;
    if (options.dropEvery) {
      const v = await lossyRelay(videoPort, options.dropEvery);
      const a = await lossyRelay(audioPort, options.dropEvery);
      cleanups.push(
        () => v.close(),
        () => a.close(),
      );
      videoPort = v.port;
      audioPort = a.port;
    }
    const feed: RtpFeed = feedRtp({ videoPort, audioPort, pattern: 'smptebars' });
    cleanups.push(() => feed.stop());
  }
  return participant;
}

const rollCall = async () => json<RollCall>(await api('GET', `/sessions/${sid}/rollcall`));
const row = (rc: RollCall, identity: string) => rc.points.find((r) => r.identity === identity);

let tanPhu: Participant;
let anBinh: Participant;
/** When An Bình left: after `from` (just before room.leave) and by `by` (once the roll call showed it). */
let anBinhLeft = { from: 0, by: 0 };

/** A time the server took between two moments the test took: order, whatever the machine's speed. */
function expectBetween(at: number | null | undefined, from: number, by: number, what: string): void {
  expect(at, what).toBeGreaterThanOrEqual(from);
  expect(at, what).toBeLessThanOrEqual(by);
}

beforeAll(async () => {
  server = await startServer({ workers: 2, adminUser: admin.username, adminPassword: admin.password });
  operatorToken = await server.tokens.sign({ sid: '*', sub: 'chanh-vp', role: 'operator', name: 'Chánh văn phòng' });
  await json(await api('POST', '/groups', { id: 'huyen-a', name: 'Huyện A', kind: 'district' }), 201);
  await json(await api('POST', '/points', { id: 'tan-phu', name: 'Xã Tân Phú, huyện A' }), 201);
  await json(await api('POST', '/points', { id: 'an-binh', name: 'Phường "An Bình"' }), 201);
  await json(await api('POST', '/points', { id: 'my-loc', name: 'Xã Mỹ Lộc', groupIds: ['huyen-a'] }), 201);
  await json(
    await api('POST', '/sessions', {
      id: sid,
      title: 'Họp giao ban',
      timeZone,
      invitedPoints: ['tan-phu', 'an-binh'],
      invitedGroups: ['huyen-a'],
    }),
    201,
  );
  room = await server.sessions.room(sid);
  await join('studio', 'Hội trường tỉnh', 'studio', { send: true });
  room.join({ identity: 'dieu-hanh', name: 'Điều hành', role: 'operator', plain: true });
  tanPhu = await join('tan-phu', 'Xã Tân Phú, huyện A', 'point', { send: true, receive: true });
  anBinh = await join('an-binh', 'Phường "An Bình"', 'point', { receive: true });
  expect((await api('POST', `/sessions/${sid}/live`)).status).toBe(204);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await server?.stop();
});

describe('roll call', () => {
  it('lists every invited point, present or absent, with the quality of each present link', async () => {
    expect(room.status).toBe('live');
    // Rates are measured over the last second: the first figures can be partial.
    let last: unknown;
    await waitFor(
      'figures for Tân Phú',
      async () => {
        const q = (last = row(await rollCall(), 'tan-phu')?.quality);
        return !!q && q.bitrateIn > 20_000 && q.bitrateOut > 20_000;
      },
      20_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last figures ${JSON.stringify(last)}`);
    });
    const asked = Date.now();
    const rc = await rollCall();
    // No older than one sampling period when asked for (1.5 s: RollCall's interval), and not from the future.
    expectBetween(rc.updatedAt, asked - 1500, Date.now(), 'the roll call sampled');
    const tp = row(rc, 'tan-phu')!;
    expect(tp).toMatchObject({
      name: 'Xã Tân Phú, huyện A',
      role: 'point',
      invited: true,
      state: 'present',
      hasFloor: false,
      muted: false,
      receiveMode: 'auto',
      grade: 'good',
    });
    expectBetween(tp.since, tanPhu.peer.joinedAt, tanPhu.joinedBy, 'present since its join');
    expect(tp.quality!.bitrateIn).toBeGreaterThan(20_000);
    expect(tp.quality!.bitrateOut).toBeGreaterThan(20_000); // it receives the studio
    expect(tp.quality!.packetLoss).toBe(0);
    expect(tp.quality!.score).toBe(10);
    expect(row(rc, 'an-binh')).toMatchObject({ invited: true, state: 'present' });
    expect(row(rc, 'an-binh')!.quality!.bitrateIn).toBe(0);
    // Invited through its group and never came.
    expect(row(rc, 'my-loc')).toMatchObject({
      name: 'Xã Mỹ Lộc',
      invited: true,
      state: 'absent',
      quality: null,
      grade: 'unknown',
      receiveMode: null,
    });
    expect(row(rc, 'studio')).toMatchObject({ invited: false, state: 'present', role: 'studio' });
    expect(row(rc, 'dieu-hanh')).toBeUndefined();
    // Absent before the healthy ones, then by name.
    expect(rc.points.map((r) => r.identity)).toEqual(['my-loc', 'studio', 'an-binh', 'tan-phu']);
  });

  it("opens to an operator of this session only, not to a point's or another session's token", async () => {
    const tokenOf = (claims: { sid: string; sub: string; role: Role }) => server.tokens.sign({ ...claims, name: claims.sub });
    const status = async (token: string) => (await api('GET', `/sessions/${sid}/rollcall`, undefined, token)).status;
    expect(await status(await tokenOf({ sid, sub: 'thu-ky', role: 'operator' }))).toBe(200);
    expect(await status(await tokenOf({ sid: 'khac', sub: 'thu-ky', role: 'operator' }))).toBe(403);
    expect(await status(await tokenOf({ sid, sub: 'xa-khach', role: 'point' }))).toBe(403);
    expect((await fetch(`${server.url}/api/sessions/${sid}/rollcall`)).status).toBe(401);
  });

  it('serves one sample to callers within 1.5 s and measures how long a sample takes', async () => {
    const [a, b] = await Promise.all([rollCall(), rollCall()]);
    expect(a.updatedAt).toBe(b.updatedAt);
    const ms = server.rollCall.lastSampleMs(sid)!;
    expect(ms).toBeGreaterThan(0);
    // How long is a figure (it depends on the machine; bench/rollcallSample.ts measures it).
    console.log(`roll call sample of ${room.peers.size} peers: ${ms.toFixed(1)} ms`);
  });

  it('puts a point on a lossy uplink first, graded poor', async () => {
    await join('xa-xa', 'Xã Xa Xôi', 'point', { send: true, dropEvery: 6 });
    await waitFor('a poor grade', async () => row(await rollCall(), 'xa-xa')?.grade === 'poor', 15_000);
    const rc = await rollCall();
    const weak = rc.points[0];
    expect(weak).toMatchObject({ identity: 'xa-xa', invited: false, state: 'present', grade: 'poor' });
    expect(weak.quality!.packetLoss!).toBeGreaterThan(0.05);
    expect(weak.quality!.bitrateIn).toBeGreaterThan(0);
  });

  it('mutes the floor holder at the SFU: its microphone is paused and nobody receives it', async () => {
    const mic = () => tanPhu.peer.producers.get(tanPhu.micId!)!;
    expect((await api('PUT', `/sessions/${sid}/floor`, { identity: 'tan-phu' })).status).toBe(204);
    await room.settled();
    expect(mic().paused).toBe(false);
    expect(anBinh.peer.consumers.has(tanPhu.micId!)).toBe(true);

    expect((await api('POST', `/sessions/${sid}/peers/tan-phu/mute`, { muted: true })).status).toBe(204);
    await room.settled();
    expect(mic().paused).toBe(true);
    expect(anBinh.peer.consumers.has(tanPhu.micId!)).toBe(false);
    expect(room.floor).toBe('tan-phu');
    await waitFor('the roll call shows it', async () => row(await rollCall(), 'tan-phu')?.muted === true);
    expect(row(await rollCall(), 'tan-phu')).toMatchObject({ hasFloor: true, muted: true });

    expect((await api('POST', `/sessions/${sid}/peers/tan-phu/mute`, { muted: false })).status).toBe(204);
    await room.settled();
    expect(mic().paused).toBe(false);
    expect(anBinh.peer.consumers.has(tanPhu.micId!)).toBe(true);

    // Refusals: a bad body, someone absent.
    expect((await api('POST', `/sessions/${sid}/peers/tan-phu/mute`, { muted: 'yes' })).status).toBe(400);
    expect((await api('POST', `/sessions/${sid}/peers/my-loc/mute`, { muted: true })).status).toBe(404);

    const { entries } = await json<{ entries: AuditEntry[] }>(await api('GET', `/audit?sessionId=${sid}`));
    expect(entries.find((e) => e.action === 'peer.mute')).toMatchObject({ actor: 'chanh-vp', target: 'tan-phu', sessionId: sid });
    expect(entries.find((e) => e.action === 'peer.unmute')).toMatchObject({ actor: 'chanh-vp', target: 'tan-phu' });
    expect(entries.find((e) => e.action === 'floor.give')).toMatchObject({ target: 'tan-phu' });
  });

  it("shows a point that leaves as 'left', since it left", async () => {
    const leaving = Date.now();
    room.leave(anBinh.peer);
    await waitFor('left', async () => row(await rollCall(), 'an-binh')?.state === 'left');
    anBinhLeft = { from: leaving, by: Date.now() };
    const r = row(await rollCall(), 'an-binh')!;
    expect(r).toMatchObject({ name: 'Phường "An Bình"', invited: true, quality: null, grade: 'unknown' });
    expectBetween(r.since, anBinhLeft.from, anBinhLeft.by, 'left since it left');
  });
});

describe('attendance', () => {
  it('reports every interval as CSV in the session time zone, names quoted', async () => {
    await sleep(1600); // one more background sample for the quality summary
    const report = await json<AttendanceReport>(await api('GET', `/sessions/${sid}/attendance`));
    const tp = report.points.find((p) => p.identity === 'tan-phu')!;
    const ab = report.points.find((p) => p.identity === 'an-binh')!;
    expectBetween(tp.firstJoined, tanPhu.peer.joinedAt, tanPhu.joinedBy, 'Tân Phú first joined');
    expect(tp).toMatchObject({ present: true, lastLeft: null, invited: true });
    expect(tp.quality.samples).toBeGreaterThan(2);
    expect(tp.quality.avgBitrateIn).toBeGreaterThan(0);
    expect(tp.quality.avgLoss).toBeLessThan(0.01);
    expectBetween(ab.firstJoined, anBinh.peer.joinedAt, anBinh.joinedBy, 'An Bình first joined');
    expectBetween(ab.lastLeft, anBinhLeft.from, anBinhLeft.by, 'An Bình last left');
    expect(ab.intervals).toHaveLength(1);
    expect(report.points.find((p) => p.identity === 'my-loc')).toMatchObject({ invited: true, firstJoined: null, minutesPresent: 0 });
    expect(report.points.some((p) => p.identity === 'dieu-hanh')).toBe(false);

    const res = await api('GET', `/sessions/${sid}/attendance.csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="?attendance-hop-thu\.csv"?$/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // A byte order mark, so that spreadsheets read the Vietnamese names as UTF-8.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text).toContain('"Xã Tân Phú, huyện A"');
    expect(text).toContain('"Phường ""An Bình"""');
    const [header, ...rows] = csvRows(text);
    expect(header).toEqual([
      'identity',
      'name',
      'first_joined',
      'last_left',
      'minutes_present',
      'intervals',
      'avg_packet_loss',
      'avg_rtt_ms',
    ]);
    // The console downloads it with headings in its language; the rows are the same.
    const vi = await api('GET', `/sessions/${sid}/attendance.csv?lang=vi`);
    expect(vi.headers.get('content-disposition')).toMatch(/filename="?diem-danh-hop-thu\.csv"?$/);
    const [viHeader, ...viRows] = csvRows(Buffer.from(await vi.arrayBuffer()).toString('utf8'));
    expect(viHeader).toEqual([
      'Mã',
      'Tên',
      'Vào lần đầu',
      'Rời lần cuối',
      'Số phút có mặt',
      'Các lần có mặt',
      'Mất gói trung bình',
      'Trễ khứ hồi trung bình (ms)',
    ]);
    expect(viRows.map((r) => r[0]).sort()).toEqual(rows.map((r) => r[0]).sort());
    expect((await api('GET', `/sessions/${sid}/attendance.csv?lang=fr`)).status).toBe(400);
    const byId = new Map(rows.map((r) => [r[0], r]));
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$/;
    const tpRow = byId.get('tan-phu')!;
    expect(tpRow[1]).toBe('Xã Tân Phú, huyện A');
    expect(tpRow[2]).toMatch(iso);
    expect(tpRow[2]).toBe(formatInTimeZone(tp.firstJoined!, timeZone));
    // The same instant, to the second.
    expect(Date.parse(tpRow[2])).toBe(Math.floor(tp.firstJoined! / 1000) * 1000);
    expect(tpRow[3]).toBe('');
    const abRow = byId.get('an-binh')!;
    expect(abRow[1]).toBe('Phường "An Bình"');
    expect(abRow[2]).toBe(formatInTimeZone(ab.firstJoined!, timeZone));
    expect(abRow[3]).toBe(formatInTimeZone(ab.lastLeft!, timeZone));
    expect(abRow[3]).toMatch(iso);
    expect(abRow[5]).toBe(`${abRow[2]}/${abRow[3]}`);
    expect(Number(abRow[4])).toBeGreaterThanOrEqual(0);
    expect(byId.get('my-loc')!.slice(2, 6)).toEqual(['', '', '0.0', '']);
    expect(Number(byId.get('xa-xa')![6])).toBeGreaterThan(0.05);
  });

  it('closes every interval when the session ends, keeps the report, and audits the session', async () => {
    expect((await api('POST', `/sessions/${sid}/end`)).status).toBe(204);
    await waitFor('closed', async () => (await json<AttendanceReport>(await api('GET', `/sessions/${sid}/attendance`))).closedAt !== null);
    const report = await json<AttendanceReport>(await api('GET', `/sessions/${sid}/attendance`));
    for (const p of report.points) for (const i of p.intervals) expect(i.to).toBeGreaterThanOrEqual(i.from);
    const tp = report.points.find((p) => p.identity === 'tan-phu')!;
    expect(tp.present).toBe(false);
    expect(tp.lastLeft).toBe(report.closedAt);
    // Stored: the roll call of the ended session comes from it.
    const rc = await rollCall();
    expect(rc.points.filter((r: RollCallRow) => r.state === 'present')).toEqual([]);
    expect(row(rc, 'tan-phu')).toMatchObject({ state: 'left', since: report.closedAt });
    expect(row(rc, 'my-loc')).toMatchObject({ state: 'absent' });
    const stored = await server.store.get<{ points: Record<string, unknown> }>('attendance', sid);
    expect(Object.keys(stored!.points).sort()).toEqual(['an-binh', 'studio', 'tan-phu', 'xa-xa']);

    const { entries } = await json<{ entries: AuditEntry[] }>(await api('GET', `/audit?sessionId=${sid}`));
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['session.create', 'peer.join', 'peer.leave', 'session.start', 'session.end', 'floor.give']),
    );
    expect(entries.find((e) => e.action === 'peer.join' && e.target === 'tan-phu')).toMatchObject({
      actor: 'tan-phu',
      details: { role: 'point' },
    });
    expect(entries.find((e) => e.action === 'peer.leave' && e.target === 'an-binh')).toMatchObject({ actor: 'an-binh' });
  });
});

describe('the control room in a session', () => {
  const watched = 'hop-co-quan-sat';

  /** Signs a console account in; its sign-in token. */
  async function signIn(username: string, password: string): Promise<string> {
    return (await json<{ token: string }>(await api('POST', '/auth/sign-in', { username, password }, ''))).token;
  }

  /** Opens a signaling socket with `token` and joins the watched session. */
  async function joinWith(token: string): Promise<SignalingProbe> {
    const probe = await SignalingProbe.open(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    const watchedRoom = await server.sessions.room(watched);
    expect(await probe.request('join', { rtpCapabilities: watchedRoom.rtpCapabilities })).toMatchObject({ ok: true });
    cleanups.push(() => probe.close());
    return probe;
  }

  it('is neither in the roll call nor in the attendance: an observer watching, an admin running it; a member watching is', async () => {
    await json(await api('POST', '/sessions', { id: watched, title: 'Họp có quan sát viên', timeZone, invitedPoints: ['tan-phu'] }), 201);
    const adminToken = await signIn(admin.username, admin.password);
    const observer = { username: 'thanh-tra', displayName: 'Thanh tra tỉnh', role: 'observer', password: 'mat-khau-thanh-tra' };
    await json(await api('POST', '/accounts', observer, adminToken), 201);
    const observerToken = await signIn(observer.username, observer.password);

    // Each account opens the control room as the console does: its own token for this session.
    const sessionToken = async (token: string) =>
      (await json<{ token: string }>(await api('POST', '/auth/session-token', { sessionId: watched }, token), 201)).token;
    const invitation = await json<{ token: string }>(
      await api('POST', `/sessions/${watched}/invitations`, { role: 'viewer', identity: 'dai-bieu-hoa', name: 'Đại biểu Hòa' }),
      201,
    );
    const observerSocket = await joinWith(await sessionToken(observerToken));
    await joinWith(await sessionToken(adminToken));
    await joinWith(invitation.token);
    const watchedRoom = await server.sessions.room(watched);
    expect([...watchedRoom.peers.keys()].sort()).toEqual(['dai-bieu-hoa', admin.username, observer.username].sort());
    expect(watchedRoom.peer(observer.username)?.role).toBe('viewer');

    const rc = await json<RollCall>(await api('GET', `/sessions/${watched}/rollcall`));
    expect(rc.points.map((r) => [r.identity, r.state])).toEqual([
      ['tan-phu', 'absent'],
      ['dai-bieu-hoa', 'present'],
    ]);

    // The observer leaves and comes back: still nowhere in the attendance, nor in its CSV.
    await observerSocket.close();
    await joinWith(await sessionToken(observerToken));
    const report = await json<AttendanceReport>(await api('GET', `/sessions/${watched}/attendance`));
    expect(report.points.map((p) => p.identity).sort()).toEqual(['dai-bieu-hoa', 'tan-phu']);
    const csv = await api('GET', `/sessions/${watched}/attendance.csv`);
    const [, ...rows] = csvRows(Buffer.from(await csv.arrayBuffer()).toString('utf8'));
    expect(rows.map((r) => r[0]).sort()).toEqual(['dai-bieu-hoa', 'tan-phu']);
    await server.attendance.idle();
    const stored = await server.store.get<{ points: Record<string, unknown> }>('attendance', watched);
    expect(Object.keys(stored!.points)).toEqual(['dai-bieu-hoa']);
  });
});
