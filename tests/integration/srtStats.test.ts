/**
 * The operator's view of an SRT encoder's link: a real ffmpeg calling the
 * session's SRT address with a test picture, and the console's API showing
 * libsrt's statistics (RTT, rate, loss, retransmissions) in the feed's stats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionIngest } from '../../protocol/index.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'giao-ban-srt';
let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
const pushes: EncoderPush[] = [];

async function ingest(): Promise<SessionIngest> {
  const res = await fetch(`${server.url}/api/sessions/${sid}/ingest`, { headers: { authorization: `Bearer ${operator}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as SessionIngest;
}

beforeAll(async () => {
  server = await startServer();
  await server.sessions.create({ id: sid, title: 'Giao ban trực tuyến' });
  operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
});

afterAll(async () => {
  await Promise.all(pushes.map((p) => p.stop()));
  await server?.stop();
});

describe('SRT link statistics in the console', () => {
  it("shows the SRT encoder's RTT, rate and counters with the feed's stats, and none for an RTMP encoder", async () => {
    const srt = (await ingest()).addresses.find((a) => a.protocol === 'srt')!;
    expect(srt.available).toBe(true);
    const push = pushEncoder(srt.url);
    pushes.push(push);
    // ~130 packets a second: a few reports in.
    await waitFor('SRT link statistics in the feed', async () => ((await ingest()).feed?.stats?.srt?.packetsReceived ?? 0) > 300, 30_000);
    const { feed } = await ingest();
    expect(feed?.protocol).toBe('srt');
    const link = feed!.stats!.srt!;
    // Loopback: a plausible RTT, never none.
    expect(link.rttMs).toBeGreaterThan(0);
    expect(link.rttMs).toBeLessThan(1000);
    expect(link.receiveMbps).toBeGreaterThan(0.1);
    // The caller asks 200 ms (the address's latency=200000 µs), the listener 120: the higher wins.
    expect(link.latencyMs).toBe(200);
    expect(link.packetsLost).toBeGreaterThanOrEqual(0);
    expect(link.packetsRetransmitted).toBeGreaterThanOrEqual(0);
    expect(link.packetsDropped).toBe(0);
    expect(link.lossPercent).toBeGreaterThanOrEqual(0);
    expect(link.lossPercent).toBeLessThan(100);
    expect(link.receiveBufferMs).toBeGreaterThanOrEqual(0);
    // The same as the service gives the roll call.
    expect(server.ingest.status(sid)?.stats?.srt?.packetsReceived).toBeGreaterThanOrEqual(link.packetsReceived);
    // Refreshed: the counters grow while the encoder sends.
    await waitFor('newer SRT statistics', async () => ((await ingest()).feed?.stats?.srt?.updatedAt ?? 0) > link.updatedAt, 10_000);

    await push.stop();
    await waitFor('the SRT encoder to leave', async () => (await ingest()).feed === null, 20_000);

    const rtmp = (await ingest()).addresses.find((a) => a.protocol === 'rtmp')!;
    const rtmpPush = pushEncoder(`${rtmp.url}/${rtmp.streamKey}`);
    pushes.push(rtmpPush);
    await waitFor('the RTMP feed read', async () => (await ingest()).feed?.stats?.height === 360, 30_000);
    expect((await ingest()).feed?.stats?.srt).toBeUndefined();
  });
});

describe('a server without srt-live-transmit', () => {
  it('offers no SRT address (unavailable) and keeps RTMP', async () => {
    const bare = await startServer();
    const path = process.env.PATH;
    try {
      await bare.sessions.create({ id: 'khong-srt', title: 'Không có SRT' });
      const token = await tokenFor(bare, 'khong-srt', 'dieu-hanh', 'operator');
      // The server looks srt-live-transmit up on the PATH when a session's SRT address is first wanted.
      process.env.PATH = '/nonexistent';
      const res = await fetch(`${bare.url}/api/sessions/khong-srt/ingest`, { headers: { authorization: `Bearer ${token}` } });
      process.env.PATH = path;
      expect(res.status).toBe(200);
      const body = (await res.json()) as SessionIngest;
      expect(body.addresses.find((a) => a.protocol === 'srt')?.available).toBe(false);
      expect(body.addresses.find((a) => a.protocol === 'rtmp')?.available).toBe(true);
    } finally {
      process.env.PATH = path;
      await bare.stop();
    }
  });
});
