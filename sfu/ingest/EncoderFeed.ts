import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { types } from 'mediasoup';
import pino from 'pino';
import { spawnEncoder } from '../../recorder/encoderProcess.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import { AudioLevelMeter } from './audioLevel.js';
import {
  feedAudioLevelFd,
  feedAudioRtpParameters,
  feedFfmpegArgs,
  feedLadderRtpParameters,
  feedVideoRtpParameters,
  feedVideoSsrc,
  type FeedLadderPlan,
} from './feedFfmpegArgs.js';
import { defaultProbeLimits, picturePath, probeVerdict, type InspectedStats, type ProbeLimits } from './feedInspector.js';
import { lowerLayers, topLayerHeight } from './feedLadder.js';
import { FlvWatcher } from './FlvWatcher.js';
import { freeUdpPort } from './freeUdpPort.js';
import { StderrLines } from './srt/ffmpegStderr.js';

/** One layer of the picture as the session gets it. */
export interface FeedLayer {
  /** Lines of the picture; null for an original whose size the feed did not say. */
  height: number | null;
  /** What the session receives of it now (mediasoup's measure); null until measured. */
  kbps: number | null;
}

export interface FeedStats extends InspectedStats {
  /** The feed is running (false once closed). */
  connected: boolean;
  /** The picture is re-encoded (B-frames, not H.264, a profile browsers do not decode). */
  transcoding: boolean;
  /** The picture's simulcast layers, low → high (spatial layer 0 first); the last is the original (or its transcode). */
  layers: FeedLayer[];
  /** The sound's loudness over about the last second, LUFS ≈ dBFS (floored at -90); null without sound or until measured. */
  audioLevelDb: number | null;
}

export interface EncoderFeedOptions {
  room: Room;
  /** The studio peer's identity in the session. */
  identity: string;
  name: string;
  /** The encoder's FLV stream (an RTMP publisher's, an SRT listener's). The feed reads it, and destroys it when it closes. */
  flv: Readable;
  ffmpegPath: string;
  logger?: Logger;
  probe?: Partial<ProbeLimits>;
  /**
   * Make lower layers (360p, 180p: feedLadder.ts) beside the picture, offered
   * as simulcast layers of the studio's one video producer, for points on weak
   * links and in 'low' mode. True by default; false sends the picture alone.
   */
  ladder?: boolean;
}

export interface EncoderFeedEvents {
  /** What the feed carries, at most once a second while it runs. */
  stats: [stats: FeedStats];
  /** The feed ended (the encoder stopped, ffmpeg exited, the studio peer left, close()), once. */
  close: [reason: string];
}

/** The feed could not start: its stream ended, is not FLV, carries no picture, or the session refused it. */
export class EncoderFeedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EncoderFeedError';
  }
}

const statsIntervalMs = 1000;
/** How long ffmpeg is given to exit once killed. */
const exitWaitMs = 5000;
/** ffmpeg's last words kept for the log. */
const stderrTailBytes = 2048;

/**
 * An encoder's program (OBS, vMix, a hardware encoder, over RTMP or SRT) as
 * the studio of a session: a plain-RTP studio peer in the Room, fed by an
 * ffmpeg that reads the FLV on stdin and sends RTP to the peer's two
 * PlainTransports.
 *
 * The first tags are read before ffmpeg starts (bounded: ProbeLimits) to
 * decide whether the picture can be copied — H.264 without B-frames — or
 * must be transcoded; the tags go on being measured as they pass, for the
 * operator's stats. ffmpeg is started so that it dies with the server.
 *
 * With the ladder (the default), the same ffmpeg also encodes 360p and 180p
 * layers below the picture (those smaller than it: feedLadder.ts), and the
 * video producer declares them as simulcast encodings: points in 'low' mode
 * or on a weak link get the smallest, others the original, by the Room's
 * usual layer preference. A receiver changes layer at the next keyframe of
 * the layer it goes to: a second at most going down (the lower layers get
 * one a second), and for the original copied, whatever interval the encoder
 * is set to (1–2 s is what to ask of the hall).
 */
export class EncoderFeed extends EventEmitter<EncoderFeedEvents> {
  readonly peer: Peer;
  readonly #room: Room;
  readonly #flv: Readable;
  readonly #watcher: FlvWatcher;
  readonly #child: ChildProcess;
  readonly #transcoding: boolean;
  readonly #video: types.Producer;
  /** The layers' heights, low → high, with their SSRCs (the producer's encodings). */
  readonly #layers: { height: number | null; ssrc: number }[];
  /** Bits per second of each layer, by SSRC, from the producer's last stats. */
  readonly #layerBitrates = new Map<number, number>();
  readonly #log: Logger;
  readonly #statsTimer: NodeJS.Timeout;
  readonly #exited: Promise<void>;
  /** The sound's level, from what ffmpeg prints on feedAudioLevelFd; null when the feed has no sound. */
  readonly #audioLevel: AudioLevelMeter | null;
  #stderrTail = '';
  #closing: Promise<void> | null = null;
  #closed = false;
  #warnedBFrames = false;

  private constructor(options: {
    room: Room;
    peer: Peer;
    flv: Readable;
    watcher: FlvWatcher;
    head: Buffer[];
    child: ChildProcess;
    transcoding: boolean;
    video: types.Producer;
    layers: { height: number | null; ssrc: number }[];
    hasAudio: boolean;
    log: Logger;
  }) {
    super();
    this.peer = options.peer;
    this.#room = options.room;
    this.#flv = options.flv;
    this.#watcher = options.watcher;
    this.#child = options.child;
    this.#transcoding = options.transcoding;
    this.#video = options.video;
    this.#layers = options.layers;
    this.#log = options.log;
    const child = options.child;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else {
        child.once('exit', () => resolve());
        // Never started (a wrong ffmpegPath): no 'exit' will come.
        child.once('error', () => resolve());
      }
    });
    child.once('exit', (code, signal) => void this.close(`ffmpeg exited (${signal ?? `code ${code}`})`));
    child.once('error', (error) => void this.close(`ffmpeg failed: ${error.message}`));
    child.stderr?.on('data', (data: Buffer) => (this.#stderrTail = (this.#stderrTail + data.toString('utf8')).slice(-stderrTailBytes)));
    this.#audioLevel = options.hasAudio ? new AudioLevelMeter() : null;
    const levels = child.stdio[feedAudioLevelFd] as Readable | null | undefined;
    if (levels) {
      const meter = this.#audioLevel;
      // Read to the end whatever the feed carries: a pipe nobody drains would stall ffmpeg.
      new StderrLines(levels, (line) => meter?.line(line, Date.now()));
    }
    const stdin = child.stdin!;
    // ffmpeg gone: its exit closes the feed; the broken pipe is no news.
    stdin.on('error', () => {});
    for (const chunk of options.head) stdin.write(chunk);
    this.#flv.on('data', (chunk: Buffer) => this.#watch(chunk));
    this.#flv.once('end', () => void this.close('the encoder stopped'));
    this.#flv.once('error', (error) => void this.close(`the encoder's stream failed: ${error.message}`));
    this.#flv.once('close', () => void this.close('the encoder stopped'));
    // pipe() pauses the encoder's stream while ffmpeg is behind (which, for an RTMP publisher, pauses its socket).
    this.#flv.pipe(stdin);
    this.peer.once('close', (reason) => void this.close(`the studio left the session (${reason})`));
    this.#statsTimer = setInterval(() => {
      this.emit('stats', this.stats);
      void this.#measureLayers();
    }, statsIntervalMs);
    this.#statsTimer.unref();
  }

  static async start(options: EncoderFeedOptions): Promise<EncoderFeed> {
    const { room, flv } = options;
    const log = (options.logger ?? pino({ level: 'silent' })).child({ session: room.id, feed: options.identity });
    const limits = { ...defaultProbeLimits, ...options.probe };
    const watcher = new FlvWatcher();
    let head: Buffer[];
    try {
      head = await readStart(flv, watcher, limits);
    } catch (error) {
      flv.destroy();
      throw error;
    }
    const path = picturePath(watcher.meter, limits);
    const hasAudio = watcher.meter.audioCodec !== null;
    const picture = watcher.meter.stats(Date.now());
    const topHeight = topLayerHeight(picture, !path.copy);
    const lower = options.ladder === false ? [] : lowerLayers(topHeight);
    const layers = [...lower.map((rung) => ({ height: rung.height, ssrc: rung.ssrc })), { height: topHeight, ssrc: feedVideoSsrc }];
    log.info(
      { copy: path.copy, reason: path.reason, audio: watcher.meter.audioCodec, layers: layers.map((layer) => layer.height) },
      'encoder feed starting',
    );
    let peer: Peer;
    try {
      peer = room.join({ identity: options.identity, name: options.name, role: 'studio', plain: true });
    } catch (error) {
      flv.destroy();
      throw new EncoderFeedError(`the session refused the feed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    let child: ChildProcess;
    let video: types.Producer;
    try {
      const videoTransport = await room.createPlainTransport(peer, 'send');
      const audioTransport = hasAudio ? await room.createPlainTransport(peer, 'send') : null;
      const rtpParameters = lower.length ? feedLadderRtpParameters(lower) : feedVideoRtpParameters;
      video = await room.produce(peer, videoTransport.id, 'video', rtpParameters, 'camera');
      if (audioTransport) await room.produce(peer, audioTransport.id, 'audio', feedAudioRtpParameters, 'mic');
      const ip = videoTransport.tuple.localAddress;
      // Chosen now and bound by ffmpeg a moment later: another socket taking it meanwhile makes ffmpeg exit, which closes the feed.
      const ladder: FeedLadderPlan | null = lower.length ? { layers: lower, localPort: await freeUdpPort(ip), fps: picture.fps } : null;
      const args = feedFfmpegArgs({
        copyVideo: path.copy,
        video: { ip, port: videoTransport.tuple.localPort },
        audio: audioTransport ? { ip: audioTransport.tuple.localAddress, port: audioTransport.tuple.localPort } : null,
        ladder,
      });
      child = spawnEncoder(options.ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe', 'pipe'] });
    } catch (error) {
      room.leave(peer, 'feed failed');
      flv.destroy();
      throw new EncoderFeedError(`the feed could not start: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    return new EncoderFeed({ room, peer, flv, watcher, head, child, transcoding: !path.copy, video, layers, hasAudio, log });
  }

  get stats(): FeedStats {
    const layers = this.#layers.map(({ height, ssrc }) => {
      const bitrate = this.#layerBitrates.get(ssrc);
      return { height, kbps: bitrate === undefined ? null : Math.round(bitrate / 1000) };
    });
    const now = Date.now();
    const audioLevelDb = this.#audioLevel?.level(now) ?? null;
    return { connected: !this.#closed, ...this.#watcher.meter.stats(now), transcoding: this.#transcoding, layers, audioLevelDb };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Ends the feed: ffmpeg is killed, the studio peer leaves the session, the
   * encoder's stream is destroyed (an RTMP publisher's connection closes).
   * Resolves once ffmpeg has exited; idempotent.
   */
  close(reason = 'closed'): Promise<void> {
    if (this.#closing) return this.#closing;
    // Set first: the studio leaving below calls close() again (its peer's 'close').
    this.#closing = bounded(this.#exited, exitWaitMs);
    this.#closed = true;
    clearInterval(this.#statsTimer);
    this.#flv.unpipe();
    this.#flv.destroy();
    this.#child.stdin?.destroy();
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    this.#room.leave(this.peer, reason);
    const stderr = this.#stderrTail.trim();
    this.#log.info({ reason, ...(stderr ? { ffmpeg: stderr.slice(-500) } : {}) }, 'encoder feed closed');
    this.emit('close', reason);
    return this.#closing;
  }

  /** What the session receives of each layer, for the next stats (the producer's stats come from the worker). */
  async #measureLayers(): Promise<void> {
    if (this.#closed || this.#video.closed) return;
    try {
      for (const stream of await this.#video.getStats()) this.#layerBitrates.set(stream.ssrc, stream.bitrate);
    } catch {
      // Closed meanwhile (the feed, the worker): nothing more to measure.
    }
  }

  #watch(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#watcher.write(chunk);
    } catch (error) {
      void this.close(`the encoder's stream is not FLV: ${error instanceof Error ? error.message : String(error)}`);
    }
    // A change of encoder settings mid-stream is not followed: the operator sees it in the stats.
    if (!this.#transcoding && this.#watcher.meter.bFrames && !this.#warnedBFrames) {
      this.#warnedBFrames = true;
      this.#log.warn('the encoder started sending B-frames while its picture is copied: reconnect it to transcode');
    }
  }
}

/**
 * Reads the start of the stream until `probeVerdict` is ready (or gives
 * up), measuring each chunk; returns the chunks read, for ffmpeg. Leaves
 * the stream paused.
 */
function readStart(flv: Readable, watcher: FlvWatcher, limits: ProbeLimits): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      flv.off('data', onData);
      flv.off('end', onEnd);
      flv.off('close', onEnd);
      flv.off('error', onError);
      flv.pause();
      if (error) reject(error);
      else resolve(chunks);
    };
    const check = (timedOut = false) => {
      const verdict = probeVerdict(watcher.meter, { bytes, elapsedMs: timedOut ? Infinity : Date.now() - started }, limits);
      if (verdict === 'ready') done();
      else if (verdict === 'give-up') done(new EncoderFeedError('the stream carries no picture'));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      try {
        watcher.write(chunk);
      } catch (error) {
        done(new EncoderFeedError(`the stream is not FLV: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
        return;
      }
      check();
    };
    const onEnd = () => done(new EncoderFeedError('the stream ended before its picture started'));
    const onError = (error: Error) => done(new EncoderFeedError(`the stream failed: ${error.message}`, { cause: error }));
    const timer = setTimeout(() => check(true), limits.maxMs);
    flv.on('data', onData);
    flv.once('end', onEnd);
    flv.once('close', onEnd);
    flv.once('error', onError);
  });
}

function bounded(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
