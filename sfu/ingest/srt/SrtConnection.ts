import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { exited, hasExited, stopChild } from './childProcesses.js';
import type { AudioPlan } from './ffmpegArgs.js';
import type { StderrLines } from './ffmpegStderr.js';

/** FLV bytes held for a slow reader before the remuxer (and behind it the caller's SRT buffer) is made to wait. */
const flvHighWaterMark = 1024 * 1024;
/** Once the caller has left, the remuxer's time to write out what it still holds, if the reader takes it. */
const drainMs = 5000;

export interface SrtConnectionOptions {
  /** The receiving ffmpeg, serving this caller. */
  receiver: ChildProcess;
  /** The ffmpeg turning the receiver's MPEG-TS into FLV. */
  remuxer: ChildProcess;
  remuxerStderr: StderrLines;
  streamId: string;
  audio: AudioPlan;
  logger: Logger;
  /** The first FLV bytes are out: the connection is worth announcing. */
  onFlowing: () => void;
}

/**
 * One caller's program as FLV (header, then H.264 and AAC tags). Lasts as
 * long as the caller stays: `close` comes once both its ffmpegs are gone,
 * and close() drops the caller (the listener then waits for the next one).
 */
export class SrtConnection extends EventEmitter<{ close: [reason: string] }> {
  readonly flv: Readable;
  /** The stream id the caller gave ('' for none). */
  readonly streamId: string;
  /** What became of the caller's audio. */
  readonly audio: AudioPlan;
  readonly #receiver: ChildProcess;
  readonly #remuxer: ChildProcess;
  readonly #log: Logger;
  #reason: string | null = null;
  #ended = false;

  constructor(o: SrtConnectionOptions) {
    super();
    this.streamId = o.streamId;
    this.audio = o.audio;
    this.#receiver = o.receiver;
    this.#remuxer = o.remuxer;
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

    void exited(o.receiver).then(() => {
      this.#reason ??= 'the caller left';
      if (hasExited(o.remuxer)) return;
      // The remuxer ends by itself at the end of its input; a reader that stopped reading must not keep it.
      const timer = setTimeout(() => void stopChild(o.remuxer), drainMs);
      void exited(o.remuxer).then(() => clearTimeout(timer));
    });
    const remuxerDone = Promise.all([exited(o.remuxer), o.remuxerStderr.done]);
    void remuxerDone.then(() => {
      this.#reason ??= `the remuxer stopped: ${o.remuxerStderr.last || `exit code ${o.remuxer.exitCode}`}`;
      // Without a remuxer the caller is received for nothing.
      void stopChild(o.receiver);
    });
    void Promise.all([exited(o.receiver), remuxerDone]).then(() => this.#end());
  }

  /** Whether the connection is over or ending (its `close` follows once its ffmpegs are gone). */
  get closed(): boolean {
    return this.#reason !== null || this.#ended;
  }

  /** Drops the caller. */
  close(reason = 'closed'): void {
    if (this.#ended) return;
    this.#reason ??= reason;
    void stopChild(this.#receiver);
    void stopChild(this.#remuxer);
  }

  /** Resolves once both ffmpegs are gone. */
  async stopped(): Promise<void> {
    await Promise.all([exited(this.#receiver), exited(this.#remuxer)]);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const reason = this.#reason ?? 'ended';
    this.#log.info({ reason, streamId: this.streamId }, 'srt connection closed');
    this.emit('close', reason);
  }
}
