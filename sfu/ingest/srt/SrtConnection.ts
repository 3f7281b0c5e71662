import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { SrtLinkStats } from '../../../protocol/index.js';
import { exited, hasExited, stopChild } from './childProcesses.js';
import type { AudioPlan } from './ffmpegArgs.js';
import type { StderrLines } from './ffmpegStderr.js';
import type { SrtLinkMeter } from './SrtLinkMeter.js';

/** FLV bytes held for a slow reader before the remuxer (and behind it the caller's SRT buffer) is made to wait. */
const flvHighWaterMark = 1024 * 1024;
/** Once the caller has left, the ffmpegs' time to write out what they still hold, if the reader takes it. */
const drainMs = 5000;
/** A caller that stays connected but sends nothing (SRT keepalives only) is dropped after this long: its encoder is stuck. */
const silenceLimitMs = 5000;
const silenceCheckMs = 1000;

export interface SrtConnectionOptions {
  /** srt-live-transmit, serving this caller: its stdout is the caller's MPEG-TS. */
  transmitter: ChildProcess;
  /** The ffmpeg relaying the caller's MPEG-TS to the remuxer. */
  receiver: ChildProcess;
  receiverStderr: StderrLines;
  /** The ffmpeg turning the receiver's MPEG-TS into FLV. */
  remuxer: ChildProcess;
  remuxerStderr: StderrLines;
  audio: AudioPlan;
  /** The caller's link statistics, as srt-live-transmit reports them. */
  meter: SrtLinkMeter;
  logger: Logger;
  /** The first FLV bytes are out: the connection is worth announcing. */
  onFlowing: () => void;
}

/**
 * One caller's program as FLV (header, then H.264 and AAC tags), and its
 * link statistics. Lasts as long as the caller stays: `close` comes once
 * srt-live-transmit and both ffmpegs are gone, and close() drops the caller
 * (the listener then waits for the next one).
 */
export class SrtConnection extends EventEmitter<{ close: [reason: string] }> {
  readonly flv: Readable;
  /** What became of the caller's audio. */
  readonly audio: AudioPlan;
  readonly #children: ChildProcess[];
  readonly #meter: SrtLinkMeter;
  readonly #log: Logger;
  readonly #silenceTimer: NodeJS.Timeout;
  #reason: string | null = null;
  #ended = false;

  constructor(o: SrtConnectionOptions) {
    super();
    this.audio = o.audio;
    this.#children = [o.transmitter, o.receiver, o.remuxer];
    this.#meter = o.meter;
    this.#log = o.logger;
    const flv = new PassThrough({ highWaterMark: flvHighWaterMark });
    this.flv = flv;
    const { stdout } = o.remuxer;
    if (stdout) {
      stdout.once('data', () => o.onFlowing());
      stdout.pipe(flv);
    } else {
      flv.end();
    }
    // Its only errors come from a reader destroying it with one: that reader has them already.
    flv.on('error', () => {});
    // A reader that destroys the stream has no use for the caller any more.
    flv.once('close', () => {
      if (!flv.readableEnded) this.close('the reader closed the stream');
    });

    let lastDataAt = Date.now();
    o.transmitter.stdout?.on('data', () => (lastDataAt = Date.now()));
    this.#silenceTimer = setInterval(() => {
      if (Date.now() - lastDataAt > silenceLimitMs) this.close(`the caller sent nothing for ${silenceLimitMs / 1000} s`);
    }, silenceCheckMs);
    this.#silenceTimer.unref();

    void exited(o.transmitter).then(() => {
      this.#reason ??= 'the caller left';
      // The ffmpegs end by themselves at the end of their input; a reader that stopped reading must not keep them.
      const pending = [o.receiver, o.remuxer].filter((child) => !hasExited(child));
      if (pending.length === 0) return;
      const timer = setTimeout(() => pending.forEach((child) => void stopChild(child)), drainMs);
      void Promise.all(pending.map(exited)).then(() => clearTimeout(timer));
    });
    const receiverDone = Promise.all([exited(o.receiver), o.receiverStderr.done]);
    void receiverDone.then(() => {
      this.#reason ??= `the receiving ffmpeg stopped: ${o.receiverStderr.last || `exit code ${o.receiver.exitCode}`}`;
      // Without its ffmpegs the caller is received for nothing.
      void stopChild(o.transmitter);
    });
    const remuxerDone = Promise.all([exited(o.remuxer), o.remuxerStderr.done]);
    void remuxerDone.then(() => {
      this.#reason ??= `the remuxer stopped: ${o.remuxerStderr.last || `exit code ${o.remuxer.exitCode}`}`;
      void stopChild(o.transmitter);
      void stopChild(o.receiver);
    });
    void Promise.all([exited(o.transmitter), receiverDone, remuxerDone]).then(() => this.#end());
  }

  /** Whether the connection is over or ending (its `close` follows once its processes are gone). */
  get closed(): boolean {
    return this.#reason !== null || this.#ended;
  }

  /** The caller's link (RTT, rate, loss, retransmissions) as libsrt last reported it; null before its first report. */
  get linkStats(): SrtLinkStats | null {
    return this.#meter.stats(Date.now());
  }

  /** Drops the caller. */
  close(reason = 'closed'): void {
    if (this.#ended) return;
    this.#reason ??= reason;
    for (const child of this.#children) void stopChild(child);
  }

  /** Resolves once srt-live-transmit and both ffmpegs are gone. */
  async stopped(): Promise<void> {
    await Promise.all(this.#children.map(exited));
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#silenceTimer);
    const reason = this.#reason ?? 'ended';
    this.#log.info({ reason }, 'srt connection closed');
    this.emit('close', reason);
  }
}
