/**
 * The duel's program feed: a clip encoded once (testsrc 640x360 25 fps, H.264
 * baseline ~1 Mbit/s with a keyframe every 2 s and SPS/PPS at each keyframe,
 * a 440 Hz tone as Opus 64 kbit/s), replayed as RTP with `ffmpeg -re
 * -stream_loop -1 -c copy`: both SFUs get the same packets, and the feed
 * costs ~1 % of a core instead of a live x264 encode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface FeedTarget {
  videoPort: number;
  audioPort: number;
  videoPt: number;
  audioPt: number;
  videoSsrc: number;
  audioSsrc: number;
}

/** ffmpeg failed to make the clip. */
export class ClipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClipError';
  }
}

/** Encodes the clip into `dir`; returns its path. */
export async function prepareClip(dir: string, seconds = 20): Promise<string> {
  const file = path.join(dir, 'program.mp4');
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=640x360:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-map', '0:v', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p',
    '-b:v', '1M', '-maxrate', '1M', '-bufsize', '1M', '-g', '50', '-keyint_min', '50', '-x264-params', 'repeat-headers=1',
    '-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
    file,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new ClipError(`ffmpeg could not make the clip (${code}): ${err.slice(-500)}`);
  return file;
}

/** One replay of the clip to one SFU, looping until closed. */
export class ClipFeed {
  readonly #child: ChildProcess;

  constructor(clip: string, target: FeedTarget, host = '127.0.0.1') {
    // No h264_mp4toannexb here: with -stream_loop it stops the video after the first loop
    // (ffmpeg 5.1); the RTP muxer reads the MP4's length-prefixed NAL units itself.
    // prettier-ignore
    const args = [
      '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip,
      '-map', '0:v', '-c:v', 'copy',
      '-payload_type', String(target.videoPt), '-ssrc', String(target.videoSsrc),
      '-f', 'rtp', `rtp://${host}:${target.videoPort}?pkt_size=1200`,
      '-map', '0:a', '-c:a', 'copy',
      '-payload_type', String(target.audioPt), '-ssrc', String(target.audioSsrc),
      '-f', 'rtp', `rtp://${host}:${target.audioPort}?pkt_size=1200`,
    ];
    this.#child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child.stderr?.on('data', () => {});
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Packets per second the replayed clip sends (video, audio), counted on two local sockets: the nominal rate. */
export async function measureNominal(clip: string, seconds = 4): Promise<{ video: number; audio: number }> {
  const dgram = await import('node:dgram');
  const counts = { video: 0, audio: 0 };
  const bind = (kind: 'video' | 'audio') =>
    new Promise<import('node:dgram').Socket>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (msg) => {
        // RTP only (RTCP sender reports are 200–204).
        if (msg.length >= 12 && !(msg[1] >= 192 && msg[1] <= 223)) counts[kind]++;
      });
      socket.bind(0, '127.0.0.1', () => resolve(socket));
    });
  const [video, audio] = await Promise.all([bind('video'), bind('audio')]);
  const feed = new ClipFeed(clip, {
    videoPort: video.address().port,
    audioPort: audio.address().port,
    videoPt: 96,
    audioPt: 111,
    videoSsrc: 1,
    audioSsrc: 2,
  });
  // From the first packet on: ffmpeg's start-up is not part of the rate.
  const deadline = performance.now() + 10_000;
  while (counts.video === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const start = { ...counts };
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  await feed.close();
  video.close();
  audio.close();
  return { video: (counts.video - start.video) / elapsed, audio: (counts.audio - start.audio) / elapsed };
}
