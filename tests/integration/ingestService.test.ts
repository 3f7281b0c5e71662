/**
 * The broadcast desk's encoder going on air, as the operator and the encoder
 * see it through the server's own doors: the console's API gives each
 * session an RTMP and an SRT address with their own secrets (operators only);
 * a real ffmpeg pushing to them with the right secret becomes the session's
 * studio; a wrong, revoked or second encoder is refused and written to the
 * audit log; a new secret cuts off the encoder using the old one; ending the
 * session lets the encoder go.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, SessionIngest } from '../../protocol/index.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { waitFor } from '../helpers/rtp.js';
import { apiFetch, readIngest } from '../helpers/ingestApi.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'ky-hop-tinh';
let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
const pushes: EncoderPush[] = [];

function push(target: string): EncoderPush {
  const p = pushEncoder(target);
  pushes.push(p);
  return p;
}

const api = (path: string, token: string | undefined, init: RequestInit = {}) => apiFetch(server.url, path, token, init);
const ingest = () => readIngest(server.url, sid, operator);

async function refusals(): Promise<AuditEntry[]> {
  const entries = await server.audit.read({ sessionId: sid });
  return entries.filter((e) => e.action === 'ingest.refused');
}

const rtmpTarget = (i: SessionIngest, key?: string) => {
  const rtmp = i.addresses.find((a) => a.protocol === 'rtmp')!;
  return `${rtmp.url}/${key ?? rtmp.streamKey}`;
};
const srtAddress = (i: SessionIngest) => i.addresses.find((a) => a.protocol === 'srt')!;

beforeAll(async () => {
  server = await startServer();
  await server.sessions.create({ id: sid, title: 'Kỳ họp HĐND tỉnh' });
  await server.sessions.create({ id: 'khac', title: 'Phiên khác' });
  operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
});

afterAll(async () => {
  await Promise.all(pushes.map((p) => p.stop()));
  await server?.stop();
});

describe('encoder ingest', () => {
  it("gives the operator the session's RTMP and SRT addresses, each with its own secret, and nobody else", async () => {
    const res = await api(`/api/sessions/${sid}/ingest`, operator);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as SessionIngest;
    const rtmp = body.addresses.find((a) => a.protocol === 'rtmp')!;
    expect(rtmp).toMatchObject({ available: true, url: `rtmp://127.0.0.1:${server.ingest.rtmpPort}/live` });
    expect(rtmp.streamKey).toMatch(new RegExp(`^${sid}~[A-Za-z0-9_-]{24}$`));
    const srt = srtAddress(body);
    expect(srt.available).toBe(true);
    expect(srt.passphrase).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(srt.url).toMatch(/^srt:\/\/127\.0\.0\.1:\d+\?mode=caller&/);
    expect(srt.url).toContain(`passphrase=${srt.passphrase}`);
    expect(srt.passphrase).not.toBe(rtmp.streamKey!.split('~')[1]);
    expect(body.feed).toBeNull();

    for (const [role, expected] of [
      ['point', 403],
      ['studio', 403],
      ['viewer', 403],
    ] as const) {
      const token = await tokenFor(server, sid, role, role);
      expect((await api(`/api/sessions/${sid}/ingest`, token)).status).toBe(expected);
    }
    expect((await api(`/api/sessions/${sid}/ingest`, undefined)).status).toBe(401);
    // An operator link for another session does not reach this one.
    expect((await api(`/api/sessions/${sid}/ingest`, await tokenFor(server, 'khac', 'op', 'operator'))).status).toBe(403);
    expect((await api(`/api/sessions/khong-co/ingest`, await tokenFor(server, '*', 'op', 'operator'))).status).toBe(404);
  });

  it('refuses an RTMP encoder with a wrong key and writes it to the audit log', async () => {
    const wrong = push(rtmpTarget(await ingest(), `${sid}~wrongwrongwrongwrongwrong`));
    expect(await wrong.exited).not.toBe(0);
    await waitFor('the refusal in the audit log', async () => (await refusals()).length === 1, 10_000);
    expect((await refusals())[0].details).toMatchObject({ protocol: 'rtmp', reason: 'wrong or revoked stream key' });
    expect((await ingest()).feed).toBeNull();
  });

  it('an RTMP encoder with the right key becomes the studio; a second one is refused', async () => {
    const first = push(rtmpTarget(await ingest()));
    await waitFor('the encoder in the session', async () => !!(await server.sessions.runningRoom(sid))?.peer('encoder'), 20_000);
    expect((await server.sessions.runningRoom(sid))!.peer('encoder')!.role).toBe('studio');
    await waitFor('the feed read', async () => (await ingest()).feed?.stats?.width === 640, 20_000);
    expect((await ingest()).feed).toMatchObject({ protocol: 'rtmp', stats: { width: 640, height: 360, transcoding: false } });
    // The ladder the console shows: the 360p original copied, 180p encoded below it.
    await waitFor('the layers read', async () => (await ingest()).feed?.stats?.layers?.map((l) => l.height).join() === '180,360', 20_000);
    // The encoder's tone (ffmpeg's sine: -21 dBFS RMS) on the console's level meter.
    await waitFor('the sound measured', async () => typeof (await ingest()).feed?.stats?.audioLevelDb === 'number', 20_000);
    const level = (await ingest()).feed!.stats!.audioLevelDb!;
    expect(level).toBeGreaterThan(-30);
    expect(level).toBeLessThan(-10);

    const second = push(rtmpTarget(await ingest()));
    expect(await second.exited).not.toBe(0);
    await waitFor('the second refusal', async () => (await refusals()).length === 2, 10_000);
    expect((await refusals())[1].details).toMatchObject({ reason: 'another encoder is already sending this session' });
    expect(first.process.exitCode).toBeNull();
  });

  it('a new RTMP secret cuts the encoder off, and its old key is refused from then on', async () => {
    const before = await ingest();
    const res = await api(`/api/sessions/${sid}/ingest/rotate`, operator, { method: 'POST', body: JSON.stringify({ protocol: 'rtmp' }) });
    expect(res.status).toBe(200);
    const after = (await res.json()) as SessionIngest;
    expect(rtmpTarget(after)).not.toBe(rtmpTarget(before));
    // The SRT secret is untouched.
    expect(srtAddress(after).passphrase).toBe(srtAddress(before).passphrase);
    await Promise.all(pushes.map((p) => p.exited));
    await waitFor('the encoder gone', async () => (await ingest()).feed === null, 10_000);
    await waitFor('its studio gone', async () => !(await server.sessions.runningRoom(sid))?.peer('encoder'), 10_000);
    const old = push(rtmpTarget(before));
    expect(await old.exited).not.toBe(0);
    // A bad body is a clear 400.
    const bad = await api(`/api/sessions/${sid}/ingest/rotate`, operator, { method: 'POST', body: JSON.stringify({ protocol: 'ftp' }) });
    expect(bad.status).toBe(400);
  });

  it('refuses an SRT caller with a wrong passphrase and takes the right one', async () => {
    const srt = srtAddress(await ingest());
    const refusedBefore = (await refusals()).length;
    const wrong = push(srt.url.replace(`passphrase=${srt.passphrase}`, 'passphrase=khongdungkhongdung'));
    await waitFor('the SRT refusal in the audit log', async () => (await refusals()).length > refusedBefore, 20_000);
    await wrong.stop();
    expect((await refusals()).at(-1)!.details).toMatchObject({ protocol: 'srt' });

    push(srt.url);
    await waitFor('the SRT encoder in the session', async () => (await ingest()).feed?.protocol === 'srt', 20_000);
    await waitFor('the SRT feed read', async () => (await ingest()).feed?.stats?.height === 360, 20_000);
  });

  it('ending the session lets the encoder go', async () => {
    const room = (await server.sessions.runningRoom(sid))!;
    room.goLive();
    await room.end('dieu-hanh');
    await waitFor('the encoder cut off', async () => server.ingest.status(sid) === null, 10_000);
    await Promise.all(pushes.map((p) => p.exited));
  });

  it('a server whose RTMP port is taken by another program still starts; only RTMP is unavailable', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    const other = await startServer({ rtmpPort: port });
    try {
      await other.sessions.create({ id: 'cong-ban', title: 'Cổng bận' });
      const token = await tokenFor(other, 'cong-ban', 'op', 'operator');
      const res = await fetch(`${other.url}/api/sessions/cong-ban/ingest`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as SessionIngest;
      expect(body.addresses.find((a) => a.protocol === 'rtmp')?.available).toBe(false);
      expect(body.addresses.find((a) => a.protocol === 'srt')?.available).toBe(true);
    } finally {
      await other.stop();
      squatter.close();
    }
  });
});
