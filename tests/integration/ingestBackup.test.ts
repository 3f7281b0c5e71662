/**
 * The hall's backup encoder, as the operator and the points see it: real
 * ffmpeg encoders push RTMP to the server; a second one is refused (and
 * audited) until the operator allows a backup through the console's API;
 * then it is connected, silent and off air; when the main encoder dies the
 * backup is on air within 2 s — not the browser studio that joined before
 * it — and a returning encoder is the backup; disallowing the backup cuts
 * it off while the program stays on air. The backup may use another
 * protocol than the main (here SRT beside RTMP).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, SessionIngest } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { apiFetch, readIngest } from '../helpers/ingestApi.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'hop-du-phong';
let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
let room: Room;
let hall: PlainParticipant;
let point: PlainParticipant;
const pushes: EncoderPush[] = [];
/** The encoders on air and ready, as the cases go on. */
let main: EncoderPush;
let backup: EncoderPush;

function push(target: string): EncoderPush {
  const p = pushEncoder(target);
  pushes.push(p);
  return p;
}

const api = (path: string, token: string | undefined, init: RequestInit = {}) => apiFetch(server.url, path, token, init);
const ingest = () => readIngest(server.url, sid, operator);

function allowBackup(allow: unknown, token = operator): Promise<Response> {
  return api(`/api/sessions/${sid}/ingest/backup`, token, { method: 'PUT', body: JSON.stringify({ allow }) });
}

async function audited(action: string): Promise<AuditEntry[]> {
  return (await server.audit.read({ sessionId: sid })).filter((e) => e.action === action);
}

const rtmpTarget = (i: SessionIngest) => {
  const rtmp = i.addresses.find((a) => a.protocol === 'rtmp' && a.url.startsWith('rtmp:'))!;
  return `${rtmp.url}/${rtmp.streamKey}`;
};
/** The studio whose picture the points receive now. */
const onAir = () => room.snapshot().programSource;
const micPaused = (identity: string) => room.peer(identity)?.producerOf('audio')?.paused;
/** What the point receives: the producers of its consumers, by whose they are. */
const receivedFrom = (identity: string) => {
  const producers = new Set([...(room.peer(identity)?.producers.keys() ?? [])]);
  return [...point.peer.consumers.values()].some((c) => producers.has(c.producerId));
};

beforeAll(async () => {
  server = await startServer();
  await server.sessions.create({ id: sid, title: 'Kỳ họp có bàn phát dự phòng' });
  operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
  room = await server.sessions.room(sid);
  // The hall's browser studio joins first: by join order it would be the program.
  hall = await joinPlain(room, { identity: 'hoi-truong', role: 'studio', send: { pattern: 'smptebars', frequency: 880 } });
  point = await joinPlain(room, { identity: 'xa-a', role: 'point', receive: true });
  room.goLive();
});

afterAll(async () => {
  await Promise.all(pushes.map((p) => p.stop()));
  await hall?.stop();
  await point?.stop();
  await server?.stop();
});

describe('a backup encoder', () => {
  it('is refused, and audited, while the operator does not allow one', async () => {
    expect(await ingest()).toMatchObject({ allowBackup: false, feed: null, backup: null });
    main = push(rtmpTarget(await ingest()));
    await waitFor('the encoder on air', () => room.peer('encoder')?.producerOf('video') !== undefined, 20_000);
    // The operator puts the encoder on air rather than the browser studio.
    room.chooseStudio('encoder', 'dieu-hanh');
    await waitFor('the encoder the program', () => onAir() === 'encoder' && receivedFrom('encoder'), 10_000);

    const second = push(rtmpTarget(await ingest()));
    expect(await second.exited).not.toBe(0);
    await waitFor('the refusal in the audit log', async () => (await audited('ingest.refused')).length === 1, 10_000);
    expect((await audited('ingest.refused'))[0].details).toMatchObject({
      protocol: 'rtmp',
      reason: 'another encoder is already sending this session',
    });
    expect((await ingest()).backup).toBeNull();
    expect(main.process.exitCode).toBeNull();
  });

  it('the operator allows one: only with the right to manage the encoder, with a valid body, audited', async () => {
    const point = await tokenFor(server, sid, 'xa-a', 'point');
    expect((await allowBackup(true, point)).status).toBe(403);
    expect((await allowBackup('yes')).status).toBe(400);
    const res = await allowBackup(true);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(((await res.json()) as SessionIngest).allowBackup).toBe(true);
    expect((await ingest()).allowBackup).toBe(true);
    expect((await audited('ingest.backup')).map((e) => [e.actor, e.details])).toEqual([['dieu-hanh', { allow: true }]]);
  });

  it('when allowed, a second encoder is connected as the backup, silent and off air; a third is refused', async () => {
    backup = push(rtmpTarget(await ingest()));
    await waitFor('the backup read', async () => (await ingest()).backup?.stats?.width === 640, 20_000);
    const status = await ingest();
    expect(status.backup).toMatchObject({ protocol: 'rtmp', stats: { width: 640, height: 360 } });
    expect(status.feed).toMatchObject({ protocol: 'rtmp' });
    expect(status.backup!.connectedAt).toBeGreaterThan(status.feed!.connectedAt);
    await waitFor('the backup in the session', () => room.peer('encoder-backup')?.producerOf('audio') !== undefined, 10_000);
    await room.settled();
    expect(room.peer('encoder-backup')).toMatchObject({ name: 'Bàn phát sóng (dự phòng)', role: 'studio' });
    expect(room.snapshot()).toMatchObject({ programSource: 'encoder', studio: 'encoder' });
    expect(micPaused('encoder-backup')).toBe(true);
    expect(micPaused('encoder')).toBe(false);
    expect(receivedFrom('encoder-backup')).toBe(false);

    const third = push(rtmpTarget(await ingest()));
    expect(await third.exited).not.toBe(0);
    await waitFor('the third refused', async () => (await audited('ingest.refused')).length === 2, 10_000);
    expect((await audited('ingest.refused'))[1].details).toMatchObject({ reason: expect.stringMatching(/backup encoder too/) });
    expect(backup.process.exitCode).toBeNull();
  });

  it('the main encoder dies: the backup is on air within 2 s, not the browser studio, and is the encoder from then on', async () => {
    const before = await ingest();
    const killedAt = Date.now();
    await main.stop();
    await waitFor('the backup on air', () => onAir() === 'encoder-backup', 2000);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(room.snapshot()).toMatchObject({ studio: 'encoder-backup', chosenStudio: 'encoder-backup' });
    await waitFor('the point receiving the backup', () => receivedFrom('encoder-backup'), 5000);
    await waitFor('its voice heard', () => micPaused('encoder-backup') === false, 5000);
    expect(micPaused('hoi-truong')).toBe(true);

    await waitFor('the main gone', () => room.peer('encoder') === undefined, 5000);
    const after = await ingest();
    // The backup is "the encoder" now: the console shows it as the feed, and no backup.
    expect(after.feed?.connectedAt).toBe(before.backup!.connectedAt);
    expect(after.backup).toBeNull();
    await waitFor('the takeover audited', async () => (await audited('ingest.takeover')).length === 1, 5000);
    expect((await audited('ingest.takeover'))[0].details).toMatchObject({ from: 'encoder', to: 'encoder-backup' });
  });

  it('the encoder that returns is the backup: the program stays where it is', async () => {
    main = push(rtmpTarget(await ingest()));
    await waitFor('the returning encoder read', async () => (await ingest()).backup?.stats?.width === 640, 20_000);
    await waitFor('its studio in the session', () => room.peer('encoder')?.producerOf('audio') !== undefined, 10_000);
    await room.settled();
    expect(room.peer('encoder')!.name).toBe('Bàn phát sóng (dự phòng)');
    expect(room.snapshot()).toMatchObject({ programSource: 'encoder-backup', studio: 'encoder-backup' });
    expect(micPaused('encoder')).toBe(true);
    expect(receivedFrom('encoder')).toBe(false);
  });

  it('the operator no longer allows a backup: the backup is cut off, the program stays on air', async () => {
    const res = await allowBackup(false);
    expect(res.status).toBe(200);
    expect((await res.json()) as SessionIngest).toMatchObject({ allowBackup: false, backup: null });
    await main.exited;
    await waitFor('the backup gone', () => room.peer('encoder') === undefined, 10_000);
    expect(room.snapshot()).toMatchObject({ programSource: 'encoder-backup' });
    expect(backup.process.exitCode).toBeNull();
    expect((await audited('ingest.backup')).map((e) => e.details)).toEqual([{ allow: true }, { allow: false }]);
    await waitFor('the cut-off audited', async () => {
      const gone = await audited('ingest.disconnected');
      return gone.some((e) => e.details?.backup === true && /no longer allows/.test(String(e.details?.reason)));
    });
    // And a second encoder is refused again.
    const again = push(rtmpTarget(await ingest()));
    expect(await again.exited).not.toBe(0);
  });

  it('the backup may use another protocol: an SRT backup beside the RTMP main takes over when the main dies', async () => {
    expect((await allowBackup(true)).status).toBe(200);
    const srt = (await ingest()).addresses.find((a) => a.protocol === 'srt')!;
    expect(srt.available).toBe(true);
    const srtBackup = push(srt.url);
    await waitFor('the SRT backup read', async () => (await ingest()).backup?.stats?.height === 360, 30_000);
    expect((await ingest()).backup?.protocol).toBe('srt');
    await waitFor('its studio in the session', () => room.peer('encoder')?.producerOf('video') !== undefined, 10_000);
    expect(onAir()).toBe('encoder-backup');

    const killedAt = Date.now();
    await backup.stop();
    await waitFor('the SRT backup on air', () => onAir() === 'encoder', 2000);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(room.snapshot()).toMatchObject({ studio: 'encoder', chosenStudio: 'encoder' });
    await waitFor('the console showing it as the encoder', async () => (await ingest()).feed?.protocol === 'srt', 5000);
    expect(srtBackup.process.exitCode).toBeNull();
  });
});
