/**
 * The ladder for weak communes: a real ffmpeg pushes 1280×720 H.264 over
 * RTMP, the feed copies it and makes 360p and 180p beside it, offered as the
 * simulcast layers of the studio's one video producer. Plain receiving
 * points read the SPS in band of what they get: a point in 'auto' gets the
 * original (720 lines), a point in 'low' the 180p layer, and a point that
 * changes its mode is switched between them. The feed's ffmpeg still copies
 * the original and sends every layer from one local port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ReceiveMode } from '../../protocol/index.js';
import { findFfmpeg } from '../../recorder/ffmpegBinary.js';
import { EncoderFeed } from '../../sfu/ingest/EncoderFeed.js';
import { parseH264Sps } from '../../sfu/ingest/rtmp/library.js';
import { createLogger } from '../../sfu/logger.js';
import type { Peer } from '../../sfu/room/Peer.js';
import type { Room } from '../../sfu/room/Room.js';
import { waitFor } from '../helpers/rtp.js';
import { startRtmpFeeds, type RtmpFeeds } from '../helpers/rtmpFeeds.js';
import { startServer } from '../helpers/server.js';

const secret = 'thang-bac-thang';
const ffmpegPath = findFfmpeg().path;
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn');

let server: Awaited<ReturnType<typeof startServer>>;
let feeds: RtmpFeeds;
/** Whether the next feed gets a ladder, as the wiring below starts it. */
let ladder = true;
const cleanups: (() => Promise<void> | void)[] = [];
let sessionCount = 0;

beforeAll(async () => {
  server = await startServer({ workers: 2 });
  feeds = await startRtmpFeeds(server, { secret, ffmpegPath, logger, ladder: () => ladder });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await feeds?.close();
  await server?.stop();
  expect(ffmpegChildren()).toEqual([]);
});

/** A plain point that receives the program and reads the SPS in band of the picture it gets. */
interface Point {
  peer: Peer;
  /** Picture packets received so far. */
  videoPackets: number;
  /** Size in the last SPS received. */
  size: { width: number; height: number } | null;
  /** The spatial layer mediasoup sends this point now (of the program picture's consumer). */
  spatialLayer(producerId: string): number | undefined;
}

async function joinPoint(room: Room, identity: string, mode: ReceiveMode): Promise<Point> {
  const socket = dgram.createSocket('udp4');
  // No header extensions, as the recorder asks: this socket sends no transport-wide congestion feedback, and
  // declaring transport-cc would hold mediasoup's estimate of its link at its initial 600 kbit/s — the 360p
  // layer at most. Without it mediasoup sends the layer preferred (onAir.ts): what the modes are about.
  const rtpCapabilities = { codecs: room.rtpCapabilities.codecs, headerExtensions: [] };
  const peer = room.join({ identity, name: identity, role: 'point', plain: true, rtpCapabilities });
  const point: Point = {
    peer,
    videoPackets: 0,
    size: null,
    spatialLayer: (producerId) => peer.consumers.get(producerId)?.currentLayers?.spatialLayer,
  };
  const onSps = (sps: Buffer) => (point.size = parseH264Sps(sps) ?? point.size);
  socket.on('message', (msg) => {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const payloadType = msg[1] & 0x7f;
    // The picture only: H.264 as the router offers it (RTCP and Opus aside).
    const codec = room.rtpCapabilities.codecs?.find((c) => c.preferredPayloadType === payloadType);
    if (codec?.mimeType !== 'video/H264') return;
    point.videoPackets++;
    let offset = 12 + (msg[0] & 0x0f) * 4;
    if (msg[0] & 0x10 && msg.length >= offset + 4) offset += 4 + msg.readUInt16BE(offset + 2) * 4;
    const payload = msg.subarray(offset);
    const nalType = (payload[0] ?? 0) & 0x1f;
    if (nalType === 7) onSps(payload);
    if (nalType === 24) {
      // STAP-A: several NAL units, each after its 16-bit size.
      for (let p = 1; p + 2 < payload.length;) {
        const size = payload.readUInt16BE(p);
        const nal = payload.subarray(p + 2, p + 2 + size);
        if (((nal[0] ?? 0) & 0x1f) === 7) onSps(nal);
        p += 2 + size;
      }
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => void socket.close());
  if (mode !== 'auto') await room.setReceiveMode(peer, mode);
  const transport = await room.createPlainTransport(peer, 'recv');
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  return point;
}

/** A new session on air. */
async function session(): Promise<{ sid: string; room: Room }> {
  const sid = `ladder-${++sessionCount}`;
  await server.sessions.create({ id: sid, title: `Ladder ${sessionCount}` });
  const room = await server.sessions.room(sid);
  cleanups.push(() => room.end());
  room.goLive('operator');
  return { sid, room };
}

/** The next feed started for `sid` (bounded), closed after the case. */
async function nextFeed(sid: string, timeoutMs = 30000): Promise<EncoderFeed> {
  const feed = await feeds.next(sid, timeoutMs);
  cleanups.push(() => feed.close('test over'));
  return feed;
}

/** The hall's encoder: a 25 fps test picture of `size`, a keyframe a second, no B-frames, and a tone. */
function push(path: string, size: string): ChildProcess {
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-f', 'lavfi', '-i', 'sine',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-b:v', '2000k',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', `rtmp://127.0.0.1:${feeds.rtmp.port}/${path}`,
  ];
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  return child;
}

/** ffmpeg processes whose parent is this test process. */
function ffmpegChildren(): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (ppid === process.pid && argv.some((a) => a.includes('ffmpeg'))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The command line of the one feed ffmpeg running (the one reading the encoder's FLV on stdin). */
function feedCommandLine(): string[] {
  const feeds = ffmpegChildren()
    .map((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    })
    .filter((argv) => argv.includes('pipe:0'));
  expect(feeds).toHaveLength(1);
  return feeds[0];
}

describe('encoder feed ladder', () => {
  it('offers a 720p feed as three simulcast layers: the original copied on top, 360p and 180p below', async () => {
    const { sid, room } = await session();
    const auto = await joinPoint(room, 'xa-trung-tam', 'auto');
    const low = await joinPoint(room, 'xa-vung-cao', 'low');
    const feeding = nextFeed(sid);
    push(`live/${sid}.${secret}`, '1280x720');
    const feed = await feeding;
    const producer = feed.peer.producerOf('video')!;
    expect(producer.type).toBe('simulcast');
    const ssrcs = producer.rtpParameters.encodings!.map((e) => e.ssrc!);
    expect(ssrcs).toHaveLength(3);
    // mediasoup switches a receiver to a layer once it has that layer's RTCP sender report (to line up timestamps):
    // watched here, to know when switching can start (they come through the layers' one port as well).
    const reported = new Set<number>();
    producer.on('trace', (trace) => {
      const ssrc = (trace.info as { ssrc?: number } | undefined)?.ssrc;
      if (trace.type === 'sr' && ssrc !== undefined) reported.add(ssrc);
    });
    await producer.enableTraceEvent(['sr']);

    // The original: copied, 720 lines; the lower layers encoded from it, every layer from one local port.
    const argv = feedCommandLine();
    expect(argv[argv.indexOf('-c:v') + 1]).toBe('copy');
    expect(argv).toContain('scale=-2:360');
    expect(argv).toContain('scale=-2:180');
    const sources = argv.filter((a) => a.startsWith('udp://')).map((url) => new URL(url).searchParams.get('localport'));
    expect(sources).toHaveLength(3);
    expect(new Set(sources).size).toBe(1);

    await waitFor('the points to get the picture', () => auto.videoPackets > 100 && low.videoPackets > 20, 30_000);
    await waitFor('the original at the point in auto', () => auto.size?.height === 720 && auto.spatialLayer(producer.id) === 2, 20_000);
    expect(auto.size).toEqual({ width: 1280, height: 720 });
    await waitFor('180p at the point in low', () => low.size?.height === 180 && low.spatialLayer(producer.id) === 0, 20_000);
    expect(low.size).toEqual({ width: 320, height: 180 });

    // The operator sees the layers and what each carries, once each has run for a while (each layer's first second is a keyframe's).
    expect(feed.stats.layers.map((layer) => layer.height)).toEqual([180, 360, 720]);
    const kbps = () => feed.stats.layers.map((layer) => layer.kbps ?? 0);
    await waitFor('each layer measured, smaller below', () => kbps()[0] > 0 && kbps()[0] < kbps()[1] && kbps()[1] < kbps()[2], 15_000);
    expect(kbps()[0]).toBeLessThan(300);

    // A point changing its mode is switched at the next keyframe of the layer it goes to: one a second here, the
    // lower layers' and the encoder's (the original is copied: its keyframes are what the encoder makes).
    // ffmpeg's first report of a layer goes out before its first packet, before mediasoup knows the layer: the
    // next one, ~5 s later, is the first heard. Until then a point stays on the layer it started with.
    await waitFor('a sender report from every layer', () => ssrcs.every((ssrc) => reported.has(ssrc)), 15_000);
    let asked = Date.now();
    await room.setReceiveMode(auto.peer, 'low');
    await waitFor('the point now in low to get 180p', () => auto.size?.height === 180 && auto.spatialLayer(producer.id) === 0, 15_000);
    const down = Date.now() - asked;
    asked = Date.now();
    await room.setReceiveMode(auto.peer, 'auto');
    await waitFor('the point back in auto to get 720p', () => auto.size?.height === 720 && auto.spatialLayer(producer.id) === 2, 15_000);
    const up = Date.now() - asked;
    if (process.env.TEST_LOG_LEVEL) console.log(`switched down in ${down} ms, up in ${up} ms`);
    // A keyframe a second, and a loaded machine's scheduling.
    expect(down).toBeLessThan(4000);
    expect(up).toBeLessThan(4000);
    expect(low.size?.height).toBe(180);
  });

  it('sends the picture alone when the ladder is off', async () => {
    ladder = false;
    try {
      const { sid, room } = await session();
      const point = await joinPoint(room, 'xa-mot', 'low');
      const feeding = nextFeed(sid);
      push(`live/${sid}.${secret}`, '640x360');
      const feed = await feeding;
      expect(feed.peer.producerOf('video')?.type).toBe('simple');
      const argv = feedCommandLine();
      expect(argv.filter((a) => a === '-c:v')).toHaveLength(1);
      expect(argv[argv.indexOf('-c:v') + 1]).toBe('copy');
      // A 'low' point gets the one picture there is.
      await waitFor('the picture at the point', () => point.size?.height === 360, 30_000);
      expect(feed.stats.layers.map((layer) => layer.height)).toEqual([360]);
    } finally {
      ladder = true;
    }
  });
});
