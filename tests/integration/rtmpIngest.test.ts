/**
 * An encoder pushing RTMP becomes a session's studio: a real ffmpeg pushes
 * to a real RtmpServer, the test wires each accepted publish to an
 * EncoderFeed (as the server will), and a receiving participant checks what
 * a viewer gets — the studio's RTP, whose in-band SPS says 640×360 and
 * whether it was copied (the encoder's profile) or transcoded (Constrained
 * Baseline). Wrong keys, garbage, slow clients and players are refused
 * without disturbing a good publisher; no ffmpeg of ours outlives its feed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../../recorder/ffmpegBinary.js';
import { createLogger } from '../../sfu/logger.js';
import { EncoderFeed } from '../../sfu/ingest/EncoderFeed.js';
import { parseH264Sps, Rtmp } from '../../sfu/ingest/rtmp/library.js';
import { RtmpServer, type RtmpPublisher } from '../../sfu/ingest/rtmp/RtmpServer.js';
import type { Room } from '../../sfu/room/Room.js';
import { createRequire } from 'node:module';
import { waitFor } from '../helpers/rtp.js';
import { startRtmpFeeds, type RtmpFeeds } from '../helpers/rtmpFeeds.js';
import { startServer } from '../helpers/server.js';

const requireCjs = createRequire(import.meta.url);
const amf = requireCjs('node-media-server/src/protocol/amf.js') as typeof import('node-media-server/src/protocol/amf.js');

const secret = 'khoa-bi-mat-42';
const ffmpegPath = findFfmpeg().path;
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn');

let server: Awaited<ReturnType<typeof startServer>>;
let feeds: RtmpFeeds;
let rtmp: RtmpServer;
/** Feeds started by the wiring below, by session id, and why one could not start. */
const cleanups: (() => Promise<void> | void)[] = [];
let sessionCount = 0;

beforeAll(async () => {
  server = await startServer({ workers: 2 });
  // Short enough for the slow client to be dropped within a case.
  feeds = await startRtmpFeeds(server, { secret, ffmpegPath, logger, limits: { publishTimeoutMs: 3000 } });
  rtmp = feeds.rtmp;
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rtmp?.close();
  await server?.stop();
  expect(ffmpegChildren()).toEqual([]);
});

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(what: string, promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** A new session on air, and a viewer in it. */
async function session(): Promise<{ sid: string; room: Room; viewer: Viewer }> {
  const sid = `rtmp-${++sessionCount}`;
  await server.sessions.create({ id: sid, title: `RTMP ${sessionCount}` });
  const room = await server.sessions.room(sid);
  cleanups.push(() => room.end());
  const viewer = await joinViewer(room, 'viewer');
  room.goLive('operator');
  return { sid, room, viewer };
}

/** The next feed started for `sid` (bounded), closed after the case. */
async function nextFeed(sid: string, timeoutMs = 20000): Promise<EncoderFeed> {
  const feed = await feeds.next(sid, timeoutMs);
  cleanups.push(() => feed.close('test over'));
  return feed;
}

/**
 * An encoder pushing a 640×360 25 fps test picture and a tone (ffmpeg's
 * `sine`: 440 Hz at 1/8 of full scale, an RMS of -21 dBFS), as the brief's
 * OBS would; or digital silence, or no sound at all.
 */
function push(
  path: string,
  options: { bFrames?: boolean; seconds?: number; port?: number; audio?: 'tone' | 'silence' | 'none' } = {},
): ChildProcess {
  // prettier-ignore
  const video = options.bFrames
    ? ['-c:v', 'libx264', '-bf', '2', '-g', '25']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25'];
  const sound = { tone: 'sine', silence: 'anullsrc=r=48000:cl=stereo', none: null }[options.audio ?? 'tone'];
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    ...(sound ? ['-f', 'lavfi', '-i', sound] : []),
    ...(options.seconds ? ['-t', String(options.seconds)] : []),
    ...video, '-pix_fmt', 'yuv420p', ...(sound ? ['-c:a', 'aac'] : []), '-f', 'flv', `rtmp://127.0.0.1:${options.port ?? rtmp.port}/${path}`,
  ];
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  cleanups.push(() => stop(child));
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode!);
    const timer = setTimeout(() => reject(new Error('the encoder did not exit')), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal!);
    });
  });
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

/** The command lines of our ffmpegs that read an encoder's FLV (the feeds'), as opposed to the pushing encoders. */
function feedFfmpegs(): string[][] {
  const found: string[][] = [];
  for (const pid of ffmpegChildren()) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.includes('pipe:0')) found.push(argv);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The video codec the one running feed ffmpeg was given ('copy', 'libx264'). */
function feedVideoCodec(): string | undefined {
  const [argv, ...others] = feedFfmpegs();
  expect(others).toEqual([]);
  return argv?.[argv.indexOf('-c:v') + 1];
}

/**
 * A plain-RTP participant that receives the program, and reads the H.264 it
 * gets: packets per SSRC and the last SPS seen in band.
 */
interface Viewer {
  packets(ssrc: number | undefined): number;
  sps: Buffer | null;
  ssrcOf(producerId: string | undefined): number | undefined;
}

async function joinViewer(room: Room, identity: string): Promise<Viewer> {
  const socket = dgram.createSocket('udp4');
  const counts = new Map<number, number>();
  const viewer: Viewer = {
    packets: (ssrc) => (ssrc === undefined ? 0 : (counts.get(ssrc) ?? 0)),
    sps: null,
    ssrcOf: (producerId) => (producerId ? peer.consumers.get(producerId)?.rtpParameters.encodings?.[0]?.ssrc : undefined),
  };
  socket.on('message', (msg) => {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const payloadType = msg[1] & 0x7f;
    if (payloadType >= 72 && payloadType <= 76) return; // RTCP
    const ssrc = msg.readUInt32BE(8);
    counts.set(ssrc, (counts.get(ssrc) ?? 0) + 1);
    let offset = 12 + (msg[0] & 0x0f) * 4;
    if (msg[0] & 0x10 && msg.length >= offset + 4) offset += 4 + msg.readUInt16BE(offset + 2) * 4;
    const payload = msg.subarray(offset);
    const nalType = (payload[0] ?? 0) & 0x1f;
    if (nalType === 7) viewer.sps = Buffer.from(payload);
    if (nalType === 24) {
      // STAP-A: several NAL units, each after its 16-bit size.
      for (let p = 1; p + 2 < payload.length;) {
        const size = payload.readUInt16BE(p);
        const nal = payload.subarray(p + 2, p + 2 + size);
        if (((nal[0] ?? 0) & 0x1f) === 7) viewer.sps = Buffer.from(nal);
        p += 2 + size;
      }
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => {
    socket.close();
  });
  // No header extensions: this socket sends no congestion feedback, and declaring transport-cc would hold
  // mediasoup's estimate of its link at 600 kbit/s — below the original, when the feed has a ladder.
  const rtpCapabilities = { codecs: room.rtpCapabilities.codecs, headerExtensions: [] };
  const peer = room.join({ identity, name: identity, role: 'point', plain: true, rtpCapabilities });
  const transport = await room.createPlainTransport(peer, 'recv');
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  return viewer;
}

/** Waits until the viewer gets the feed's picture (and sound), then returns the in-band SPS's size and profile. */
async function pictureSeenBy(viewer: Viewer, feed: EncoderFeed): Promise<{ width: number; height: number; profileIdc: number }> {
  const video = () => viewer.ssrcOf(feed.peer.producerOf('video')?.id);
  const audio = () => viewer.ssrcOf(feed.peer.producerOf('audio')?.id);
  await waitFor('the program picture and sound at the viewer', () => viewer.packets(video()) > 100 && viewer.packets(audio()) > 50, 20_000);
  await waitFor('an SPS in band', () => viewer.sps !== null, 10_000);
  const size = parseH264Sps(viewer.sps!);
  expect(size).not.toBeNull();
  return { ...size!, profileIdc: viewer.sps![1] };
}

describe('RTMP ingest', () => {
  it('makes an H.264 encoder without B-frames the studio, its picture copied', async () => {
    const { sid, room, viewer } = await session();
    const feeding = nextFeed(sid);
    push(`live/${sid}.${secret}`);
    const feed = await feeding;
    expect(room.peer('encoder')?.role).toBe('studio');
    expect(room.snapshot().programSource).toBe('encoder');
    const picture = await pictureSeenBy(viewer, feed);
    expect(picture).toMatchObject({ width: 640, height: 360 });
    await waitFor('a full second of stats', () => (feed.stats.fps ?? 0) > 0 && feed.stats.keyframeIntervalSeconds !== null, 10_000);
    const stats = feed.stats;
    expect(stats).toMatchObject({ connected: true, videoCodec: 'h264', width: 640, height: 360, audioCodec: 'aac', bFrames: false });
    expect(stats.transcoding).toBe(false);
    expect(stats.fps).toBeGreaterThan(23);
    expect(stats.fps).toBeLessThan(27);
    expect(stats.keyframeIntervalSeconds).toBeCloseTo(1, 1);
    expect(stats.bitrateKbps).toBeGreaterThan(50);
    // The running ffmpeg copies the encoder's picture (ultrafast is Constrained Baseline, as a transcode would be).
    expect(picture.profileIdc).toBe(66);
    expect(feedVideoCodec()).toBe('copy');
    const emitted = await within('a stats event', new Promise<unknown>((resolve) => feed.once('stats', resolve)), 3000);
    expect(emitted).toMatchObject({ width: 640, height: 360, transcoding: false });
    // The tone's level as the console shows it: ffmpeg's sine is -21 dBFS RMS (AAC keeps it within a dB or two).
    await waitFor('the sound measured', () => feed.stats.audioLevelDb != null, 10_000);
    expect(feed.stats.audioLevelDb).toBeGreaterThan(-25);
    expect(feed.stats.audioLevelDb).toBeLessThan(-17);
  });

  it("measures the sound's level: silence reads at the floor, a feed without sound has none", async () => {
    const quiet = await session();
    const quietFeed = nextFeed(quiet.sid);
    push(`live/${quiet.sid}.${secret}`, { audio: 'silence' });
    const silent = await quietFeed;
    expect(silent.stats.audioCodec).toBe('aac');
    await waitFor('the silence measured', () => silent.stats.audioLevelDb != null, 10_000);
    expect(silent.stats.audioLevelDb).toBe(-90);
    // What the console gets: a number JSON can carry (never -Infinity, which JSON.stringify turns into null).
    expect(JSON.parse(JSON.stringify(silent.stats)).audioLevelDb).toBe(-90);

    const mute = await session();
    const muteFeed = nextFeed(mute.sid);
    push(`live/${mute.sid}.${secret}`, { audio: 'none' });
    const soundless = await muteFeed;
    await waitFor('a full second of stats', () => (soundless.stats.fps ?? 0) > 0, 10_000);
    expect(soundless.stats).toMatchObject({ audioCodec: null, audioLevelDb: null, width: 640, height: 360 });
    expect(mute.room.peer('encoder')?.producerOf('audio')).toBeUndefined();
  });

  it('transcodes an encoder that sends B-frames, and the picture still arrives', async () => {
    const { sid, viewer } = await session();
    const feeding = nextFeed(sid);
    const encoder = push(`live/${sid}.${secret}`, { bFrames: true });
    const feed = await feeding;
    expect(feed.stats).toMatchObject({ videoCodec: 'h264', profile: 'High', bFrames: true, transcoding: true, width: 640, height: 360 });
    const picture = await pictureSeenBy(viewer, feed);
    // What the viewer decodes is our Constrained Baseline, not the encoder's High.
    expect(picture).toEqual({ width: 640, height: 360, profileIdc: 66 });
    expect(feedVideoCodec()).toBe('libx264');
    // An encoder that dies mid-stream (power cut, network): the studio leaves as well, and so does our transcoder.
    const closed = new Promise<string>((resolve) => feed.once('close', resolve));
    await stop(encoder);
    expect(await within('the feed to close', closed)).toBe('the encoder stopped');
    await feed.close();
    expect(feedFfmpegs()).toEqual([]);
  });

  it('refuses a wrong key: the encoder fails and nothing joins the session', async () => {
    const { sid, room } = await session();
    const before = feeds.refusals.length;
    const encoder = push(`live/${sid}.not-the-key`);
    expect(await exitOf(encoder, 15_000)).not.toBe(0);
    expect(feeds.refusals.slice(before)).toEqual([
      { app: 'live', name: `${sid}.not-the-key`, remoteAddress: '127.0.0.1', reason: 'wrong stream key' },
    ]);
    expect([...room.peers.keys()]).toEqual(['viewer']);
    await waitFor('the refused connection to be gone', () => rtmp.connectionCount === 0, 3000);
  });

  it('keeps a good publisher going through garbage, a slow client, a bad connect and a player', async () => {
    const { sid, viewer } = await session();
    const feeding = nextFeed(sid);
    push(`live/${sid}.${secret}`);
    const feed = await feeding;
    await pictureSeenBy(viewer, feed);
    const video = viewer.ssrcOf(feed.peer.producerOf('video')?.id);

    // Each is closed for what it sent, well before the 3 s a client is given to publish.
    const garbage = attacker(2000);
    garbage.socket.write(Buffer.alloc(100_000, 0x5a));
    const badConnect = attacker(2000);
    badConnect.socket.write(
      Buffer.concat([handshake(), command({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: 'khong phai url' } })]),
    );
    const hugeMessage = attacker(2000);
    // A header claiming a 16 MiB message: refused before the parser allocates it.
    hugeMessage.socket.write(Buffer.concat([handshake(), Buffer.from([0x03, 0, 0, 0, 0xff, 0xff, 0xff, 0x14, 0, 0, 0, 0, 0x02])]));
    const player = attacker(2000);
    const before = feeds.refusals.length;
    player.socket.write(
      Buffer.concat([
        handshake(),
        command({ cmd: 'connect', transId: 1, cmdObj: { app: 'live', tcUrl: `rtmp://127.0.0.1:${rtmp.port}/live` } }),
        command({ cmd: 'createStream', transId: 2, cmdObj: null }),
        command({ cmd: 'play', transId: 3, cmdObj: null, streamName: `${sid}.${secret}` }, 1),
      ]),
    );
    const chatty = attacker(2000);
    // Well-formed commands, but more of them than a publish needs.
    chatty.socket.write(
      Buffer.concat([
        handshake(),
        ...Array.from({ length: 2000 }, (_, n) => command({ cmd: 'createStream', transId: n + 2, cmdObj: null })),
      ]),
    );
    const slow = attacker();
    const drip = setInterval(() => slow.socket.writable && slow.socket.write(Buffer.from([0x03])), 200);
    try {
      await Promise.all([garbage.closed, badConnect.closed, hugeMessage.closed, player.closed, chatty.closed]);
      expect(feeds.refusals.slice(before)).toMatchObject([
        { app: 'live', name: `${sid}.${secret}`, reason: expect.stringMatching(/play/) },
      ]);
      // The slow client is dropped once its time to publish is up (3 s here).
      await slow.closed;
    } finally {
      clearInterval(drip);
    }
    const packets = viewer.packets(video);
    await waitFor('the program still flowing', () => viewer.packets(video) > packets + 50, 10_000);
    expect(feed.closed).toBe(false);
    expect(rtmp.connectionCount).toBe(1);
  });

  it('pauses an encoder whose reader is behind, and drops it when the reader does not catch up', async () => {
    const limits = { flvBufferBytes: 64 * 1024, stalledReaderMs: 1500 };
    const own = await RtmpServer.listen({ host: '127.0.0.1', port: 0, limits, authorize: async () => ({ ok: true, feedId: 'stuck' }) });
    cleanups.push(() => own.close());
    const published = new Promise<RtmpPublisher>((resolve) => own.once('publish', resolve));
    const encoder = push(`live/anything`, { port: own.port });
    const publisher = await within('the publish', published);
    // Nobody reads: the buffer fills to its bound and stays there, then the encoder is dropped.
    const closed = new Promise<string>((resolve) => publisher.once('close', resolve));
    await waitFor('the buffer to fill', () => publisher.flv.readableLength >= limits.flvBufferBytes, 10_000);
    expect(await within('the publisher to be dropped', closed)).toBe('the reader of the stream is too slow');
    // Bounded: the buffer, plus what one socket read and one RTMP message can add.
    expect(publisher.flv.readableLength).toBeLessThan(limits.flvBufferBytes + 512 * 1024);
    expect(await exitOf(encoder, 10_000)).not.toBe(0);
  });

  it('closes connections beyond its limit at once', async () => {
    const own = await RtmpServer.listen({
      host: '127.0.0.1',
      port: 0,
      limits: { maxConnections: 2 },
      authorize: async () => ({ ok: false, reason: 'no' }),
    });
    cleanups.push(() => own.close());
    const first = attacker(15_000, own.port);
    const second = attacker(15_000, own.port);
    await waitFor('two connections', () => own.connectionCount === 2, 5000);
    const third = attacker(2000, own.port);
    await third.closed;
    expect(own.connectionCount).toBe(2);
    first.socket.destroy();
    second.socket.destroy();
    await Promise.all([first.closed, second.closed]);
    await waitFor('the server to forget them', () => own.connectionCount === 0, 5000);
  });

  it('makes the studio leave when the encoder stops, and leaves no ffmpeg behind', async () => {
    const { sid, room, viewer } = await session();
    const feeding = nextFeed(sid);
    // The operator stops the encoder after 5 s: it unpublishes and hangs up.
    const encoder = push(`live/${sid}.${secret}`, { seconds: 5 });
    const feed = await feeding;
    const closed = new Promise<string>((resolve) => feed.once('close', resolve));
    await pictureSeenBy(viewer, feed);
    expect(feedVideoCodec()).toBe('copy');
    expect(await exitOf(encoder, 15_000)).toBe(0);
    expect(await within('the feed to close', closed)).toBe('the encoder stopped');
    await feed.close();
    expect(room.peer('encoder')).toBeUndefined();
    expect(room.snapshot().programSource).toBeNull();
    expect(feed.stats.connected).toBe(false);
    expect(feedFfmpegs()).toEqual([]);
  });
});

/**
 * A raw TCP client of the RTMP server, and when the server closed it: within
 * `timeoutMs` of connecting, or the case fails.
 */
function attacker(timeoutMs = 8000, port = rtmp.port): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume(); // what the server answers is not read, only whether it hangs up
  cleanups.push(() => void socket.destroy());
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server kept a hostile connection open for ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { socket, closed };
}

/** C0, C1 and C2 of RTMP's simple handshake (the server does not check C2). */
function handshake(): Buffer {
  return Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1), Buffer.alloc(1536, 2)]);
}

/** An AMF0 command message on chunk stream 3, chunked as the server reads by default (128 bytes). */
function command(body: Record<string, unknown>, streamId = 0): Buffer {
  const payload = amf.encodeAmf0Cmd(body);
  expect(payload.length).toBeLessThanOrEqual(128);
  return Rtmp.chunksCreate({
    header: { fmt: 0, cid: 3, timestamp: 0, length: payload.length, type: 20, stream_id: streamId },
    clock: 0,
    payload,
  });
}
