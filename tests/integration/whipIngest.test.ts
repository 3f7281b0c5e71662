/**
 * WHIP (RFC 9725) as an encoder sees it: a real WebRTC client — Chromium
 * with its fake camera and microphone, on another origin than the server (so
 * that CORS is exercised too) — POSTs its offer with the session's WHIP
 * secret and becomes the session's studio; a plain-RTP participant receives
 * its picture once the session is on air; a second encoder, a wrong token,
 * garbage SDP are refused (and audited) while the server keeps serving;
 * DELETE, a new secret and the encoder closing its connection each take it off air.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, IngestAddress } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { launchBrowser, newPage } from '../helpers/browser.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

const sid = 'whip-phat-song';
let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let page: Page;
let whip: IngestAddress;
let room: Room;
const plains: PlainParticipant[] = [];

/** What the page's WHIP client got back from its POST. */
interface Published {
  index: number;
  status: number;
  location: string | null;
  contentType: string | null;
  body: string;
  offer: string;
}

/**
 * A WHIP client in the page: getUserMedia, a sendonly RTCPeerConnection, the
 * complete offer (ICE gathered) POSTed with the bearer token, the answer set.
 * Its connections stay in `window.whips` for the later steps.
 */
function publish(url: string, token: string, { simulcast = false } = {}): Promise<Published> {
  return page.evaluate(
    async ({ url, token, simulcast }) => {
      const w = window as unknown as { whips?: { pc: RTCPeerConnection; stream: MediaStream }[] };
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
      const pc = new RTCPeerConnection();
      for (const track of stream.getTracks()) {
        // Simulcast as a browser sends it: rids, lowest layer first.
        const sendEncodings =
          simulcast && track.kind === 'video'
            ? [
                { rid: 'q', scaleResolutionDownBy: 4 },
                { rid: 'h', scaleResolutionDownBy: 2 },
                { rid: 'f', scaleResolutionDownBy: 1 },
              ]
            : undefined;
        pc.addTransceiver(track, { direction: 'sendonly', streams: [stream], sendEncodings });
      }
      await pc.setLocalDescription(await pc.createOffer());
      // WHIP without trickle: the offer carries every candidate (bounded: loopback gathers in milliseconds).
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 5000);
      });
      const offer = pc.localDescription!.sdp;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
        body: offer,
      });
      const body = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
      w.whips ??= [];
      w.whips.push({ pc, stream });
      return {
        index: w.whips.length - 1,
        status: res.status,
        location: res.headers.get('location'),
        contentType: res.headers.get('content-type'),
        body,
        offer,
      };
    },
    { url, token, simulcast },
  );
}

/** Waits until the page's connection `index` is in `state`. */
async function connectionState(index: number, state: RTCPeerConnectionState, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ({ index, state }) => (window as unknown as { whips: { pc: RTCPeerConnection }[] }).whips[index].pc.connectionState === state,
    { index, state },
    { timeout },
  );
}

/** What the page's connection `index` says it sends of its picture: its largest layer (when simulcast), and the smallest's width. */
function sentPicture(index: number): Promise<{ width: number; height: number; fps: number; smallestWidth: number } | null> {
  return page.evaluate(async (index) => {
    const { pc } = (window as unknown as { whips: { pc: RTCPeerConnection }[] }).whips[index];
    const layers: { width: number; height: number; fps: number }[] = [];
    (await pc.getStats()).forEach(
      (s: { type: string; kind?: string; frameWidth?: number; frameHeight?: number; framesPerSecond?: number }) => {
        if (s.type !== 'outbound-rtp' || s.kind !== 'video' || !s.frameWidth || !s.frameHeight) return;
        layers.push({ width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond ?? 0 });
      },
    );
    if (!layers.length) return null;
    layers.sort((a, b) => a.width - b.width);
    return { ...layers[layers.length - 1], smallestWidth: layers[0].width };
  }, index);
}

/** A request from the page (another origin than the server's: a CORS request). */
function pageFetch(url: string, init: { method: string; headers: Record<string, string> }): Promise<{ status: number; body: string }> {
  return page.evaluate(
    async ({ url, init }) => {
      const res = await fetch(url, init);
      return { status: res.status, body: await res.text() };
    },
    { url, init },
  );
}

async function audit(action: string): Promise<AuditEntry[]> {
  return (await server.audit.read({ sessionId: sid })).filter((e) => e.action === action);
}

const post = (body: string, token: string | undefined, type = 'application/sdp') =>
  fetch(whip.url, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });

beforeAll(async () => {
  server = await startServer();
  await server.sessions.create({ id: sid, title: 'Phát sóng qua WHIP' });
  whip = (await server.ingest.describe(sid)).addresses.find((a) => a.protocol === 'whip')!;
  room = await server.sessions.room(sid);
  browser = await launchBrowser();
  // localhost is the server under another name: another origin than 127.0.0.1, and a secure context for the camera.
  const origin = server.url.replace('127.0.0.1', 'localhost');
  page = await newPage(browser, origin);
  await page.goto(`${origin}/api/health`);
}, 60_000);

afterAll(async () => {
  await Promise.all(plains.map((p) => p.stop()));
  await browser?.close();
  await server?.stop();
});

describe('WHIP ingest', () => {
  it("lists the session's WHIP endpoint and bearer token with its other addresses", async () => {
    expect(whip).toMatchObject({ url: `${server.url}/whip/${sid}`, available: true });
    expect(whip.bearerToken).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const rtmp = (await server.ingest.describe(sid)).addresses.find((a) => a.protocol === 'rtmp')!;
    expect(rtmp.streamKey).not.toContain(whip.bearerToken);
  });

  it('answers a CORS preflight, and refuses trickle ICE (PATCH) with 405', async () => {
    const res = await fetch(whip.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://obs.example', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/location/i);
    expect(res.headers.get('allow')).toContain('POST');
    const patch = await fetch(`${whip.url}/some-resource`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: `Bearer ${whip.bearerToken}` },
      body: 'a=end-of-candidates\r\n',
    });
    expect(patch.status).toBe(405);
  });

  it('refuses a wrong or missing token with 401 and writes it to the audit log', async () => {
    const before = (await audit('ingest.refused')).length;
    const wrong = await post('v=0\r\n', 'khong-dung-khong-dung-khong');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await post('v=0\r\n', undefined)).status).toBe(401);
    const refused = await audit('ingest.refused');
    expect(refused).toHaveLength(before + 2);
    expect(refused.at(-2)!.details).toMatchObject({ protocol: 'whip', reason: 'wrong or revoked bearer token' });
    expect(refused.at(-1)!.details).toMatchObject({ protocol: 'whip', reason: 'no bearer token' });
    // The right token with something else than SDP.
    expect((await post('{}', whip.bearerToken, 'application/json')).status).toBe(415);
    expect(server.ingest.status(sid)).toBeNull();
  });

  let first: Published;
  it("takes a browser's offer: 201, Location and an ICE-lite answer; the encoder becomes the studio with video and audio", async () => {
    first = await publish(whip.url, whip.bearerToken!);
    expect(first.status, first.body).toBe(201);
    expect(first.contentType).toMatch(/^application\/sdp/);
    expect(first.location).toMatch(new RegExp(`^/whip/${sid}/[0-9a-f-]{36}$`));
    expect(first.body).toContain('a=ice-lite');
    expect(first.body).toMatch(/a=setup:passive/);
    await connectionState(first.index, 'connected');

    const studio = room.peer('encoder')!;
    expect(studio).toMatchObject({ role: 'studio', name: 'Bàn phát sóng' });
    const video = studio.producerOf('video', 'camera')!;
    const audio = studio.producerOf('audio', 'mic')!;
    expect(video).toBeDefined();
    expect(audio.rtpParameters.codecs[0].mimeType).toBe('audio/opus');
    // H.264 when the browser offers it (the router prefers it), VP8 otherwise.
    const videoCodec = video.rtpParameters.codecs[0].mimeType;
    expect(['video/H264', 'video/VP8']).toContain(videoCodec);
    if (/H264/i.test(first.offer)) expect(videoCodec).toBe('video/H264');

    expect(server.ingest.status(sid)).toMatchObject({ protocol: 'whip' });
    await waitFor('the feed measured', () => (server.ingest.status(sid)?.stats?.bitrateKbps ?? 0) > 0, 15_000);
    expect(server.ingest.status(sid)!.stats).toMatchObject({ videoCodec: videoCodec.split('/')[1].toLowerCase(), audioCodec: 'opus' });
    expect((await audit('ingest.connected')).at(-1)!.details).toMatchObject({ protocol: 'whip' });
  });

  it("shows the encoder's picture size and frame rate as it sends them, and its sound's level", async () => {
    const stats = () => server.ingest.status(sid)?.stats;
    await waitFor('the picture measured', () => stats()?.width != null && (stats()?.fps ?? 0) > 0, 15_000);
    // What the browser says it sends, once it has settled on a size (it may start smaller while its bandwidth estimate grows).
    await waitFor(
      'the size the browser sends',
      async () => {
        const sent = await sentPicture(first.index);
        return sent !== null && sent.width === stats()?.width && sent.height === stats()?.height;
      },
      15_000,
    );
    const sent = (await sentPicture(first.index))!;
    expect(sent.width).toBeLessThanOrEqual(640);
    expect(stats()!.width! / stats()!.height!).toBeCloseTo(640 / 360, 1);
    expect(Math.abs(stats()!.fps! - sent.fps)).toBeLessThan(6);
    // The fake microphone's beeps, as the browser writes their level in each packet: a level, never -Infinity.
    await waitFor('the sound measured', () => stats()?.audioLevelDb != null, 10_000);
    expect(stats()!.audioLevelDb).toBeGreaterThan(-90);
    expect(stats()!.audioLevelDb).toBeLessThanOrEqual(0);
    expect(JSON.parse(JSON.stringify(server.ingest.status(sid))).stats.audioLevelDb).toBe(stats()!.audioLevelDb);
  });

  it("a participant receives the encoder's picture once the session is on air", async () => {
    const listener = await joinPlain(room, { identity: 'xa-nghe', role: 'point', receive: true });
    plains.push(listener);
    room.goLive('dieu-hanh');
    const videoId = room.peer('encoder')!.producerOf('video')!.id;
    await waitFor('a consumer of the encoder picture', () => listener.ssrcOf(videoId) !== undefined, 10_000);
    await waitFor('the encoder picture received', () => listener.sink!.count(listener.ssrcOf(videoId)!) > 100, 20_000);
  });

  it('refuses a second encoder with 409 while one sends', async () => {
    const before = (await audit('ingest.refused')).length;
    const second = await publish(whip.url, whip.bearerToken!);
    expect(second.status, second.body).toBe(409);
    expect((await audit('ingest.refused')).at(before)!.details).toMatchObject({
      protocol: 'whip',
      reason: 'another encoder is already sending this session',
    });
    expect(server.ingest.status(sid)?.protocol).toBe('whip');
    expect(room.peer('encoder')).toBeDefined();
  });

  it('DELETE of its resource takes the encoder off air: the studio leaves', async () => {
    const resource = new URL(first.location!, server.url).href;
    // Only with the token.
    expect((await pageFetch(resource, { method: 'DELETE', headers: {} })).status).toBe(401);
    const res = await pageFetch(resource, { method: 'DELETE', headers: { Authorization: `Bearer ${whip.bearerToken}` } });
    expect(res.status).toBe(200);
    expect(server.ingest.status(sid)).toBeNull();
    expect(room.peer('encoder')).toBeUndefined();
    await waitFor('the encoder gone in the audit log', async () => (await audit('ingest.disconnected')).length === 1, 10_000);
    // Gone already.
    const again = await pageFetch(resource, { method: 'DELETE', headers: { Authorization: `Bearer ${whip.bearerToken}` } });
    expect(again.status).toBe(404);
  });

  it('refuses garbage SDP with a 400 and keeps serving: the next good offer is taken', async () => {
    for (const garbage of ['khong phai SDP', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n']) {
      const res = await post(garbage, whip.bearerToken);
      expect(res.status).toBe(400);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toMatchObject({ error: { code: 'bad-request' } });
    }
    // Too large for an offer.
    expect((await post('v=0\r\n'.padEnd(100_000, 'a'), whip.bearerToken)).status).toBe(413);
    expect(server.ingest.status(sid)).toBeNull();
    expect(room.peer('encoder')).toBeUndefined();

    const next = await publish(whip.url, whip.bearerToken!);
    expect(next.status, next.body).toBe(201);
    await connectionState(next.index, 'connected');
    expect(room.peer('encoder')?.producerOf('video')).toBeDefined();
  });

  it('a new WHIP secret cuts the encoder off; the old token is refused from then on', async () => {
    const operator = await server.tokens.sign({ sid, sub: 'dieu-hanh', role: 'operator', name: 'Điều hành' });
    const res = await fetch(`${server.url}/api/sessions/${sid}/ingest/rotate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}` },
      body: JSON.stringify({ protocol: 'whip' }),
    });
    expect(res.status).toBe(200);
    const rotated = ((await res.json()) as { addresses: IngestAddress[] }).addresses.find((a) => a.protocol === 'whip')!;
    expect(rotated.bearerToken).not.toBe(whip.bearerToken);
    expect(server.ingest.status(sid)).toBeNull();
    expect(room.peer('encoder')).toBeUndefined();
    expect((await post('v=0\r\n', whip.bearerToken)).status).toBe(401);
    whip = rotated;
  });

  it('an encoder that closes its connection goes off air by itself', async () => {
    const last = await publish(whip.url, whip.bearerToken!);
    expect(last.status, last.body).toBe(201);
    await connectionState(last.index, 'connected');
    await waitFor('the studio', () => room.peer('encoder') !== undefined, 5000);
    await page.evaluate((index) => (window as unknown as { whips: { pc: RTCPeerConnection }[] }).whips[index].pc.close(), last.index);
    await waitFor('the studio gone', () => room.peer('encoder') === undefined && server.ingest.status(sid) === null, 15_000);
    // Its DTLS close_notify is its goodbye.
    await waitFor(
      'its departure audited',
      async () => (await audit('ingest.disconnected')).at(-1)?.details?.reason === 'the encoder stopped',
    );
  });

  it('takes simulcast (rids) from an encoder that sends it, and the participant receives it', async () => {
    const layered = await publish(whip.url, whip.bearerToken!, { simulcast: true });
    expect(layered.status, layered.body).toBe(201);
    expect(layered.body).toMatch(/a=simulcast:recv q;h;f/);
    await connectionState(layered.index, 'connected');
    const video = room.peer('encoder')!.producerOf('video')!;
    expect(video.type).toBe('simulcast');
    expect(video.rtpParameters.encodings!.map((e) => e.rid)).toEqual(['q', 'h', 'f']);
    const listener = plains[0];
    await waitFor('a consumer of the layered picture', () => listener.ssrcOf(video.id) !== undefined, 10_000);
    await waitFor('the layered picture received', () => listener.sink!.count(listener.ssrcOf(video.id)!) > 100, 20_000);
    // The size shown is the top layer's the browser sends (the encoder's picture; Chrome sends fewer, smaller layers of a
    // 360p camera than asked), not a lower layer's.
    await waitFor(
      "the top layer's size shown",
      async () => {
        const sent = await sentPicture(layered.index);
        const shown = server.ingest.status(sid)?.stats;
        return sent !== null && sent.smallestWidth < sent.width && shown?.width === sent.width && shown?.height === sent.height;
      },
      20_000,
    );
    await page.evaluate((index) => (window as unknown as { whips: { pc: RTCPeerConnection }[] }).whips[index].pc.close(), layered.index);
    await waitFor('the studio gone', () => room.peer('encoder') === undefined, 15_000);
  });

  it('ending the session takes the encoder off air, and no encoder is taken after', async () => {
    const last = await publish(whip.url, whip.bearerToken!);
    expect(last.status, last.body).toBe(201);
    await connectionState(last.index, 'connected');
    await room.end('dieu-hanh');
    await waitFor('the encoder cut off', () => server.ingest.status(sid) === null, 10_000);
    await waitFor('the session recorded as ended', () => server.sessions.get(sid).status === 'ended', 10_000);
    const res = await post('v=0\r\n', whip.bearerToken);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'conflict', message: 'the session is ended' } });
  });
});
