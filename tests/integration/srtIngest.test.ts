import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../../recorder/ffmpegBinary.js';
import { findSrtLiveTransmit, SrtListener, SrtPortInUseError, type SrtConnection } from '../../sfu/ingest/srt/SrtListener.js';
import { FlvTagReader } from '../helpers/flvTags.js';
import { freeTcpPort } from '../helpers/freePort.js';

// libsrt's longest: 79 characters.
const passphrase = 'provincial-broadcast-desk-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNO';
const waitMs = 20_000;

const children = new Set<ChildProcess>();

/** srt-live-transmit, from Debian's srt-tools (scripts/setup.mjs installs it). */
function transmitterPath(): string {
  const found = findSrtLiveTransmit();
  if (!found) throw new Error('srt-live-transmit is not installed (Debian package srt-tools)');
  return found;
}

/** An encoder calling the listener over SRT, as OBS or vMix would: a live test picture and tone in MPEG-TS. */
function caller(
  port: number,
  o: { passphrase?: string; streamId?: string; audio?: 'aac' | 'mp2'; hevc?: boolean; garbage?: boolean } = {},
): ChildProcess {
  const query = ['mode=caller', 'pbkeylen=16'];
  if (o.passphrase !== undefined) query.push(`passphrase=${o.passphrase}`);
  if (o.streamId !== undefined) query.push(`streamid=${o.streamId}`);
  const url = `srt://127.0.0.1:${port}?${query.join('&')}`;
  // prettier-ignore
  const args = o.garbage
    // Noise as raw PCM: bytes that are no MPEG-TS at all.
    ? ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'anoisesrc=r=48000:a=1', '-f', 's16le', url]
    : [
        '-hide_banner', '-loglevel', 'error',
        '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-re', '-f', 'lavfi', '-i', 'sine',
        '-c:v', o.hevc ? 'libx265' : 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
        '-c:a', o.audio ?? 'aac', '-f', 'mpegts', url,
      ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops a caller: SIGTERM as an operator stopping the stream (ffmpeg closes the SRT socket), SIGKILL as a crash or a cut line. */
function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = once(child, 'exit').then(() => undefined);
  child.kill(signal);
  return gone;
}

/** Resolves with what `promise` gives, or fails after `ms`: every wait is bounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function next<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, what = event): Promise<T> {
  return within(once(emitter, event) as Promise<T>, waitMs, what);
}

async function listening(listener: SrtListener): Promise<void> {
  if (!listener.listening) await next(listener, 'listening');
}

/** Reads the connection's FLV until `done` says it has enough; returns the bytes and tags read. */
async function readFlv(
  connection: SrtConnection,
  done: (reader: FlvTagReader) => boolean,
): Promise<{ bytes: Buffer; reader: FlvTagReader }> {
  const reader = new FlvTagReader();
  const chunks: Buffer[] = [];
  await within(
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        reader.push(chunk);
        if (done(reader)) {
          connection.flv.off('data', onData);
          connection.flv.pause();
          resolve();
        }
      };
      connection.flv.on('data', onData);
      connection.flv.once('end', () => reject(new Error('the FLV ended early')));
    }),
    waitMs,
    'FLV tags',
  );
  return { bytes: Buffer.concat(chunks), reader };
}

/** Decodes FLV with ffprobe: the picture's size and how many frames decoded. */
async function decode(flv: Buffer): Promise<{ width: number; height: number; frames: number }> {
  // prettier-ignore
  const probe = spawn('ffprobe', ['-v', 'error', '-f', 'flv', '-i', 'pipe:0', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,nb_read_frames', '-of', 'json'], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(probe);
  let out = '';
  probe.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  probe.stderr.resume();
  probe.stdin.on('error', () => {});
  probe.stdin.end(flv);
  const [code] = await within(once(probe, 'exit'), waitMs, 'ffprobe');
  children.delete(probe);
  expect(code).toBe(0);
  const stream = (JSON.parse(out) as { streams: { width: number; height: number; nb_read_frames: string }[] }).streams[0];
  return { width: stream.width, height: stream.height, frames: Number(stream.nb_read_frames) };
}

/** This test process's ffmpeg and srt-live-transmit children that are not callers (Linux: /proc). */
function listenerProcesses(): { ffmpeg: number[]; transmitter: number[] } {
  const found = { ffmpeg: [] as number[], transmitter: [] as number[] };
  const callers = new Set([...children].map((c) => c.pid));
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || callers.has(Number(entry))) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      // The kernel keeps 15 characters of a command's name.
      if (stat.includes('(ffmpeg)')) found.ffmpeg.push(Number(entry));
      if (stat.includes('(srt-live-transm)')) found.transmitter.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function listenerPids(): number[] {
  const { ffmpeg, transmitter } = listenerProcesses();
  return [...ffmpeg, ...transmitter];
}

/** Whether process `pid` still runs (a zombie does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function hasVideoKeyframesAndAudio(reader: FlvTagReader): boolean {
  const keyframes = reader.tags.filter((t) => t.type === 9 && t.keyframe && t.packetType === 1).length;
  return keyframes >= 2 && reader.tags.some((t) => t.type === 8 && t.packetType === 1);
}

describe('SrtListener (srt-live-transmit) with real ffmpegs on both sides', () => {
  let ffmpegPath: string;
  let port: number;
  let listener: SrtListener;
  const refusals: string[] = [];

  beforeAll(async () => {
    ffmpegPath = findFfmpeg().path;
    port = await freeTcpPort();
    listener = SrtListener.start({ host: '127.0.0.1', port, passphrase, ffmpegPath, transmitterPath: transmitterPath() });
    listener.on('refused', ({ reason }) => refusals.push(reason));
    await listening(listener);
  });

  afterAll(async () => {
    await listener?.close();
    await Promise.all([...children].map((child) => stop(child, 'SIGKILL')));
  });

  it('serves a caller: H.264 keyframes and AAC in FLV that decodes at 640x360, then close when it leaves', async () => {
    const connections: SrtConnection[] = [];
    listener.on('connection', (c) => connections.push(c));
    const startedAt = Date.now();
    const feed = caller(port, { passphrase });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    const startMs = Date.now() - startedAt;
    expect(connection.audio).toBe('copy');
    expect(connection.closed).toBe(false);

    const { bytes, reader } = await readFlv(connection, hasVideoKeyframesAndAudio);
    const video = reader.tags.filter((t) => t.type === 9);
    const audio = reader.tags.filter((t) => t.type === 8);
    expect(video.every((t) => t.videoCodecId === 7)).toBe(true);
    expect(video[0]).toMatchObject({ packetType: 0, keyframe: true }); // the AVC sequence header first
    expect(audio.every((t) => t.soundFormat === 10)).toBe(true);
    expect(audio[0].packetType).toBe(0); // the AAC sequence header first
    const picture = await decode(bytes);
    expect(picture).toMatchObject({ width: 640, height: 360 });
    expect(picture.frames).toBeGreaterThan(10);

    connection.flv.resume();
    const closed = next<[string]>(connection, 'close');
    await stop(feed);
    const [reason] = await closed;
    expect(reason).toBe('the caller left');
    expect(connection.closed).toBe(true);
    expect(connections).toEqual([connection]);
    expect(startMs).toBeLessThan(5000);
    console.info(`srt: first FLV bytes ${startMs} ms after the caller started`);
  });

  it('serves the encoder again when it reconnects, and notices one that vanishes', async () => {
    await listening(listener);
    const feed = caller(port, { passphrase });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    const { reader } = await readFlv(connection, hasVideoKeyframesAndAudio);
    expect(reader.tags.some((t) => t.type === 9 && t.keyframe)).toBe(true);
    connection.flv.resume();
    const closed = next(connection, 'close');
    // No SRT shutdown: the listener finds out by the silence (SRT's peer idle timeout, 5 s).
    await stop(feed, 'SIGKILL');
    await closed;
  });

  it('refuses a wrong passphrase, then serves the right one', async () => {
    await listening(listener);
    let connected = false;
    const onConnection = () => (connected = true);
    listener.on('connection', onConnection);
    const refused = next<[{ reason: string }]>(listener, 'refused');
    const wrong = caller(port, { passphrase: 'not-the-passphrase-at-all' });
    const [{ reason }] = await refused;
    expect(reason).toMatch(/Incorrect passphrase/);
    const [code] = await within(once(wrong, 'exit'), waitMs, 'the refused caller to give up');
    expect(code).not.toBe(0);
    expect(connected).toBe(false);
    listener.off('connection', onConnection);

    // Still the same ffmpeg, still waiting.
    expect(listener.listening).toBe(true);
    const feed = caller(port, { passphrase });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    await readFlv(connection, hasVideoKeyframesAndAudio);
    connection.flv.resume();
    const closed = next(connection, 'close');
    await stop(feed);
    await closed;
  });

  it('refuses a caller without a passphrase', async () => {
    await listening(listener);
    const refused = next<[{ reason: string }]>(listener, 'refused');
    const clear = caller(port);
    const [{ reason }] = await refused;
    expect(reason).toMatch(/Password required/);
    await within(once(clear, 'exit'), waitMs, 'the refused caller to give up');
    expect(listener.listening).toBe(true);
  });

  it('turns away a caller sending garbage, and keeps listening', async () => {
    await listening(listener);
    const refused = next<[{ reason: string }]>(listener, 'refused');
    const garbage = caller(port, { passphrase, garbage: true });
    const [{ reason }] = await refused;
    expect(reason).toMatch(/MPEG-TS/);
    await stop(garbage, 'SIGKILL');
    // A fresh ffmpeg (after a short pause) takes the next caller.
    await listening(listener);
    const feed = caller(port, { passphrase });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    await readFlv(connection, hasVideoKeyframesAndAudio);
    connection.flv.resume();
    const closed = next(connection, 'close');
    await stop(feed);
    await closed;
  });

  it('converts audio that is not AAC (MP2) to AAC', async () => {
    await listening(listener);
    const feed = caller(port, { passphrase, audio: 'mp2' });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    expect(connection.audio).toBe('convert');
    const { reader } = await readFlv(connection, hasVideoKeyframesAndAudio);
    expect(reader.tags.filter((t) => t.type === 8).every((t) => t.soundFormat === 10)).toBe(true);
    connection.flv.resume();
    const closed = next(connection, 'close');
    await stop(feed);
    await closed;
  });

  it('turns away a picture FLV cannot carry (HEVC), saying why', async () => {
    await listening(listener);
    const refused = next<[{ reason: string }]>(listener, 'refused');
    const hevc = caller(port, { passphrase, hevc: true });
    const [{ reason }] = await refused;
    expect(reason).toMatch(/hevc, not H\.264/);
    await stop(hevc, 'SIGKILL');
  });

  it('close() drops the caller and leaves no process behind', async () => {
    await listening(listener);
    const feed = caller(port, { passphrase });
    const [connection] = await next<[SrtConnection]>(listener, 'connection');
    connection.flv.resume();
    const running = listenerProcesses();
    expect(running.ffmpeg.length).toBe(2); // the receiver and the remuxer
    expect(running.transmitter.length).toBe(1);
    const pids = [...running.ffmpeg, ...running.transmitter];
    const closed = next<[string]>(connection, 'close');
    await within(listener.close(), waitMs, 'close()');
    expect(await closed).toEqual(['the listener closed']);
    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(pids.some(alive)).toBe(false);
    expect(listenerPids()).toEqual([]);
    expect(listener.listening).toBe(false);
    await stop(feed);
  });
});

describe('SrtListener link statistics', () => {
  it("reports libsrt's statistics of the caller's link (RTT, rate, counters) while it is connected", async () => {
    const port = await freeTcpPort();
    const listener = SrtListener.start({
      host: '127.0.0.1',
      port,
      passphrase,
      ffmpegPath: findFfmpeg().path,
      transmitterPath: transmitterPath(),
    });
    try {
      await listening(listener);
      // Any stream id: srt-live-transmit does not report it, the passphrase admits the caller.
      const feed = caller(port, { passphrase, streamId: 'studio-1' });
      const [connection] = await next<[SrtConnection]>(listener, 'connection');
      connection.flv.resume();
      const deadline = Date.now() + waitMs;
      // A report every 100 packets: ~0.7 s at the test picture's rate.
      while ((connection.linkStats?.packetsReceived ?? 0) < 300 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const stats = connection.linkStats;
      expect(stats).not.toBeNull();
      expect(stats!.packetsReceived).toBeGreaterThanOrEqual(300);
      // Loopback: well under a millisecond, never nothing.
      expect(stats!.rttMs).toBeGreaterThan(0);
      expect(stats!.rttMs).toBeLessThan(1000);
      expect(stats!.receiveMbps).toBeGreaterThan(0.1);
      expect(stats!.latencyMs).toBe(120);
      expect(stats!.packetsDropped).toBe(0);
      expect(stats!.lossPercent).toBeGreaterThanOrEqual(0);
      expect(Date.now() - stats!.updatedAt).toBeLessThan(5000);
      console.info(`srt link: ${JSON.stringify(stats)}`);
      const closed = next(connection, 'close');
      await stop(feed);
      await closed;
    } finally {
      await listener.close();
    }
    expect(listenerPids()).toEqual([]);
  });
});

describe('SrtListener in a server that is killed', () => {
  it('takes its srt-live-transmit along (parent-death signal)', async () => {
    const port = await freeTcpPort();
    // prettier-ignore
    const script = [
      "import { SrtListener } from './sfu/ingest/srt/SrtListener.ts';",
      `const listener = SrtListener.start({ host: '127.0.0.1', port: ${port}, passphrase: '${passphrase}', ffmpegPath: 'ffmpeg', transmitterPath: '${transmitterPath()}' });`,
      "listener.once('listening', () => console.log('receiver ' + listener.pid));",
    ].join('\n');
    const server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(server);
    let out = '';
    const pid = await within(
      new Promise<number>((resolve) =>
        server.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          const match = /receiver (\d+)/.exec(out);
          if (match) resolve(Number(match[1]));
        }),
      ),
      waitMs,
      'the server to listen',
    );
    expect(alive(pid)).toBe(true);
    await stop(server, 'SIGKILL');
    // The kernel kills it (pid reaped by init); look until it is gone, within bounds.
    await within(
      (async () => {
        while (alive(pid)) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      waitMs,
      'the orphaned srt-live-transmit to die',
    );
  });
});

describe('SrtListener on a port in use', () => {
  it('reports SrtPortInUseError and retries with a growing pause, not in a loop', async () => {
    const port = await freeTcpPort();
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(port, '127.0.0.1', resolve));
    const listener = SrtListener.start({
      host: '127.0.0.1',
      port,
      passphrase,
      ffmpegPath: findFfmpeg().path,
      transmitterPath: transmitterPath(),
    });
    try {
      const errors: { error: Error; at: number }[] = [];
      const third = within(
        new Promise<void>((resolve) =>
          listener.on('error', (error) => {
            errors.push({ error, at: Date.now() });
            if (errors.length === 3) resolve();
          }),
        ),
        waitMs,
        'three failed attempts',
      );
      await third;
      expect(errors[0].error).toBeInstanceOf(SrtPortInUseError);
      expect(errors[0].error.message).toMatch(new RegExp(`port ${port}`));
      // 500 ms, then 1 s between attempts.
      expect(errors[1].at - errors[0].at).toBeGreaterThanOrEqual(450);
      expect(errors[2].at - errors[1].at).toBeGreaterThanOrEqual(950);
      expect(listener.listening).toBe(false);
    } finally {
      await listener.close();
      squatter.close();
    }
    expect(listenerPids()).toEqual([]);
  });
});
