import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { spawnEncoder } from '../../../recorder/encoderProcess.js';
import { holdsUdpPort, stopChild } from './childProcesses.js';
import { SrtFfmpegError, SrtPortInUseError } from './errors.js';
import { audioPlan, receiverArgs, remuxerArgs } from './ffmpegArgs.js';
import { isAddressInUse, parseAcceptedStreamId, parseInputStream, parseSrtRejection, StderrLines } from './ffmpegStderr.js';
import { SrtConnection } from './SrtConnection.js';

/** How often, and how long, to look whether the receiver has bound its port. */
const bindPollMs = 25;
const bindPollLimitMs = 10_000;
/**
 * How long an accepted caller has to send MPEG-TS that ffmpeg makes sense of
 * (it probes 1 s). ffmpeg alone would read garbage until its probe size is
 * used up: many seconds at a low rate, with the port taken meanwhile.
 */
const streamsDeadlineMs = 6000;

export interface SrtReceiverOptions {
  host: string;
  port: number;
  passphrase: string;
  streamId: string | undefined;
  latencyMs: number;
  ffmpegPath: string;
  logger: Logger;
}

/** How a receiver ended, for the listener to decide when to start the next. */
export type ReceiverOutcome =
  /** A caller's program went to a remuxer (its connection may still be draining). */
  | { kind: 'served' }
  /** A caller got in but was not served (garbage, no H.264, wrong stream id); `refused` was emitted. */
  | { kind: 'turned-away' }
  /** ffmpeg failed before any caller came. */
  | { kind: 'failed'; error: Error }
  /** stop() was called. */
  | { kind: 'stopped' };

export interface SrtReceiverEvents {
  /** Bound and waiting for a caller. */
  listening: [];
  refused: [{ reason: string }];
  /** The first FLV bytes of the caller's program are out. */
  connection: [SrtConnection];
  /** The receiving ffmpeg is gone: the port is free for the next. */
  exit: [ReceiverOutcome];
}

interface InputStream {
  index: number;
  codec: string;
}

/**
 * One run of the listening ffmpeg: it binds the port, waits for one caller
 * (libsrt refusing the ones without the passphrase meanwhile), relays that
 * caller's MPEG-TS, and exits when the caller leaves. Once its input dump
 * names the codecs, a remuxer is started to make FLV of it.
 */
export class SrtReceiver extends EventEmitter<SrtReceiverEvents> {
  readonly #o: SrtReceiverOptions;
  readonly #log: Logger;
  readonly #child: ChildProcess;
  readonly #stderr: StderrLines;
  #listening = false;
  #accepted = false;
  #streamId = '';
  #inInputDump = false;
  #video: InputStream | undefined;
  #audio: InputStream | undefined;
  #refusedCaller = false;
  #connection: SrtConnection | null = null;
  #portInUse = false;
  #stopping = false;
  #spawnError: Error | null = null;
  #streamsTimer: NodeJS.Timeout | null = null;
  #finished = false;

  constructor(o: SrtReceiverOptions) {
    super();
    this.#o = o;
    this.#log = o.logger;
    this.#child = spawnEncoder(o.ffmpegPath, receiverArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.once('error', (error) => {
      this.#spawnError = error;
      // Never started: there will be no 'exit' to wait for.
      if (this.#child.pid === undefined) this.#finish();
    });
    this.#stderr = new StderrLines(this.#child.stderr, (line) => this.#onLine(line));
    // 'exit' may come before the last lines (the reason it exited) are read.
    this.#child.once('exit', () => void this.#stderr.done.then(() => this.#finish()));
    void this.#watchBind();
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Bound and waiting for a caller. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Stops the receiver (and drops its caller, if any); resolves once it is gone. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#listening = false;
    // Its connection too, even one not announced yet (its remuxer still probing).
    this.#connection?.close('the listener closed');
    await Promise.all([stopChild(this.#child), this.#connection?.stopped()]);
  }

  async #watchBind(): Promise<void> {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    const deadline = Date.now() + bindPollLimitMs;
    while (!this.#finished && !this.#accepted && !this.#stopping) {
      const held = holdsUdpPort(pid, this.#o.port);
      // null: no /proc to look at; a caller early by a moment retries its handshake anyway.
      if (held !== false) {
        this.#listening = true;
        this.emit('listening');
        return;
      }
      if (Date.now() > deadline) {
        this.#log.warn({ port: this.#o.port }, 'srt listener: cannot see ffmpeg bind its port');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, bindPollMs));
    }
  }

  #onLine(line: string): void {
    const rejection = parseSrtRejection(line);
    if (rejection) {
      const reason = `${rejection.reason} (SRT reject ${rejection.code})`;
      this.#log.warn({ reason, port: this.#o.port }, 'srt caller refused');
      this.emit('refused', { reason });
      return;
    }
    if (isAddressInUse(line)) {
      this.#portInUse = true;
      return;
    }
    const streamId = parseAcceptedStreamId(line);
    if (streamId !== null) {
      this.#onAccepted(streamId);
      return;
    }
    if (/^Input #0/.test(line)) this.#inInputDump = true;
    else if (/^(Output #0|Stream mapping:)/.test(line)) this.#inInputDump = false;
    if (this.#inInputDump) {
      const stream = parseInputStream(line);
      if (stream) {
        const current = stream.type === 'video' ? this.#video : this.#audio;
        // -map 0:v:0 / 0:a:0 take the lowest index of each kind.
        if (!current || stream.index < current.index) {
          if (stream.type === 'video') this.#video = stream;
          else this.#audio = stream;
        }
      }
    }
    // Printed once inputs and outputs are set up, before any data is relayed.
    if (line === 'Stream mapping:' && this.#accepted && !this.#connection) this.#startRemuxer();
  }

  #onAccepted(streamId: string): void {
    this.#accepted = true;
    this.#listening = false;
    this.#streamId = streamId;
    this.#log.info({ port: this.#o.port, streamId }, 'srt caller connected');
    const expected = this.#o.streamId;
    // ffmpeg's listener has no hook to refuse during the handshake: the caller is dropped right after.
    if (expected !== undefined && streamId !== expected) return this.#refuse(`stream id "${streamId}" is not the expected one`);
    this.#streamsTimer = setTimeout(
      () => this.#refuse(`no MPEG-TS from the caller within ${streamsDeadlineMs / 1000} s`),
      streamsDeadlineMs,
    );
  }

  #refuse(reason: string): void {
    if (this.#refusedCaller) return;
    this.#refusedCaller = true;
    this.#log.warn({ reason, port: this.#o.port }, 'srt caller refused');
    this.emit('refused', { reason });
    void stopChild(this.#child);
  }

  #startRemuxer(): void {
    this.#clearStreamsTimer();
    if (this.#refusedCaller || this.#stopping) return;
    const video = this.#video;
    if (!video) return this.#refuse('the caller sends no picture');
    // FLV (before enhanced RTMP, which Debian's ffmpeg 5.1 cannot write) carries H.264 only.
    if (video.codec !== 'h264') return this.#refuse(`the caller sends ${video.codec}, not H.264`);
    const audio = audioPlan(this.#audio?.codec);
    const remuxer = spawnEncoder(this.#o.ffmpegPath, remuxerArgs(audio), { stdio: ['pipe', 'pipe', 'pipe'] });
    remuxer.once('error', (error) => this.#log.error({ err: error }, 'srt remuxer failed to start'));
    const remuxerStderr = new StderrLines(remuxer.stderr, (line) => this.#log.debug({ line }, 'srt remuxer'));
    // A remuxer gone early makes writes fail with EPIPE; its exit closes the connection.
    remuxer.stdin!.on('error', () => {});
    this.#child.stdout!.pipe(remuxer.stdin!);
    this.#log.info({ video: video.codec, audio: this.#audio?.codec ?? 'none', plan: audio }, 'srt caller streams');
    let flowed = false;
    const connection = new SrtConnection({
      receiver: this.#child,
      remuxer,
      remuxerStderr,
      streamId: this.#streamId,
      audio,
      logger: this.#log,
      onFlowing: () => {
        flowed = true;
        this.emit('connection', connection);
      },
    });
    this.#connection = connection;
    connection.once('close', (reason) => {
      // Never flowed: to whoever watches the listener, the caller was turned away.
      if (!flowed && !this.#stopping) this.emit('refused', { reason: `no program from the caller: ${reason}` });
    });
  }

  #clearStreamsTimer(): void {
    if (this.#streamsTimer) clearTimeout(this.#streamsTimer);
    this.#streamsTimer = null;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearStreamsTimer();
    this.#listening = false;
    const tail = this.#stderr.tail;
    let outcome: ReceiverOutcome;
    if (this.#connection) {
      outcome = { kind: 'served' };
    } else if (this.#accepted) {
      if (!this.#refusedCaller && !this.#stopping) {
        this.#refusedCaller = true;
        const reason = `the caller sent no usable MPEG-TS: ${this.#stderr.last}`;
        this.#log.warn({ reason, stderr: tail }, 'srt caller refused');
        this.emit('refused', { reason });
      }
      outcome = { kind: 'turned-away' };
    } else if (this.#stopping) {
      outcome = { kind: 'stopped' };
    } else if (this.#portInUse) {
      outcome = { kind: 'failed', error: new SrtPortInUseError(this.#o.host, this.#o.port) };
    } else {
      const why = this.#spawnError?.message ?? (this.#stderr.last || `exit code ${this.#child.exitCode}`);
      outcome = { kind: 'failed', error: new SrtFfmpegError(`SRT listener ffmpeg exited before a caller came: ${why}`, tail) };
    }
    this.emit('exit', outcome);
  }
}
