import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { spawnEncoder } from '../../../recorder/encoderProcess.js';
import { exited, holdsUdpPort, stopChild } from './childProcesses.js';
import { SrtFfmpegError, SrtPortInUseError } from './errors.js';
import { audioPlan, receiverArgs, remuxerArgs } from './ffmpegArgs.js';
import { parseInputStream, parseSrtRejection, StderrLines } from './ffmpegStderr.js';
import { SrtConnection } from './SrtConnection.js';
import { parseSrtStatsReport, SrtLinkMeter } from './SrtLinkMeter.js';
import { isAcceptedLine, isBindFailure, transmitterArgs } from './srtLiveTransmit.js';
import { StatsFifo } from './StatsFifo.js';

/** How often, and how long, to look whether srt-live-transmit has bound its port. */
const bindPollMs = 25;
const bindPollLimitMs = 10_000;
/**
 * How long an accepted caller has to send MPEG-TS that ffmpeg makes sense of
 * (it probes 1 s). ffmpeg alone would read garbage until its probe size is
 * used up: many seconds at a low rate, with the port taken meanwhile.
 */
const streamsDeadlineMs = 6000;
/** A statistics report is one JSON line of ~1 KB; longer is not one. */
const maxStatsLineLength = 4096;

export interface SrtReceiverOptions {
  host: string;
  port: number;
  passphrase: string;
  latencyMs: number;
  ffmpegPath: string;
  transmitterPath: string;
  logger: Logger;
}

/** How a receiver ended, for the listener to decide when to start the next. */
export type ReceiverOutcome =
  /** A caller's program went to a remuxer (its connection may still be draining). */
  | { kind: 'served' }
  /** A caller got in but was not served (garbage, no H.264); `refused` was emitted. */
  | { kind: 'turned-away' }
  /** srt-live-transmit failed before any caller came. */
  | { kind: 'failed'; error: Error }
  /** stop() was called. */
  | { kind: 'stopped' };

export interface SrtReceiverEvents {
  /** Bound and waiting for a caller. */
  listening: [];
  refused: [{ reason: string }];
  /** The first FLV bytes of the caller's program are out. */
  connection: [SrtConnection];
  /** srt-live-transmit is gone: the port is free for the next. */
  exit: [ReceiverOutcome];
}

interface InputStream {
  index: number;
  codec: string;
}

/**
 * One run of srt-live-transmit: it binds the port, waits for one caller
 * (libsrt refusing the ones without the passphrase meanwhile), writes that
 * caller's MPEG-TS to its stdout and its link statistics to fd 3, and exits
 * when the caller leaves. Once a caller is in, an ffmpeg probes the MPEG-TS;
 * once its input dump names the codecs, a remuxer makes FLV of it.
 */
export class SrtReceiver extends EventEmitter<SrtReceiverEvents> {
  readonly #o: SrtReceiverOptions;
  readonly #log: Logger;
  /** srt-live-transmit. */
  readonly #child: ChildProcess;
  readonly #stderr: StderrLines;
  readonly #meter = new SrtLinkMeter();
  readonly #fifo: StatsFifo | null;
  /** The link statistics srt-live-transmit writes to its named pipe. */
  readonly #statsLines: StderrLines;
  /** The ffmpeg probing and relaying the caller's MPEG-TS, once a caller is in. */
  #probe: ChildProcess | null = null;
  #probeStderr: StderrLines | null = null;
  #listening = false;
  #accepted = false;
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
    const fifo = StatsFifo.open();
    this.#fifo = fifo;
    if (!fifo) this.#log.warn('srt listener: no named pipe for the link statistics; the caller is received without them');
    this.#child = spawnEncoder(o.transmitterPath, transmitterArgs({ ...o, statsPath: fifo?.path ?? null }), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.once('error', (error) => {
      this.#spawnError = error;
      // Never started: there will be no 'exit' to wait for.
      if (this.#child.pid !== undefined) return;
      fifo?.close();
      this.#finish();
    });
    this.#stderr = new StderrLines(this.#child.stderr, (line) => this.#onLine(line));
    this.#statsLines = new StderrLines(
      fifo?.stream ?? null,
      (line) => {
        const report = parseSrtStatsReport(line);
        if (report) this.#meter.add(report, Date.now());
      },
      maxStatsLineLength,
    );
    // 'exit' may come before the last lines (the reason it exited) are read.
    this.#child.once('exit', () => {
      fifo?.close();
      void Promise.all([this.#stderr.done, this.#statsLines.done]).then(() => this.#finish());
    });
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
    await Promise.all([stopChild(this.#child), this.#probe && stopChild(this.#probe), this.#connection?.stopped()]);
  }

  async #watchBind(): Promise<void> {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    const deadline = Date.now() + bindPollLimitMs;
    while (!this.#finished && !this.#accepted && !this.#stopping) {
      const held = holdsUdpPort(pid, this.#o.port);
      // null: no /proc to look at; a caller early by a moment retries its handshake anyway.
      if (held !== false) {
        // Bound, so past opening its statistics file (a name gone before that would send them to stdout, into the MPEG-TS).
        if (held) this.#fifo?.removePath();
        this.#listening = true;
        this.emit('listening');
        return;
      }
      if (Date.now() > deadline) {
        this.#log.warn({ port: this.#o.port }, 'srt listener: cannot see srt-live-transmit bind its port');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, bindPollMs));
    }
  }

  /** srt-live-transmit's stderr: its own messages and libsrt's log. */
  #onLine(line: string): void {
    const rejection = parseSrtRejection(line);
    if (rejection) {
      const reason = `${rejection.reason} (SRT reject ${rejection.code})`;
      this.#log.warn({ reason, port: this.#o.port }, 'srt caller refused');
      this.emit('refused', { reason });
      return;
    }
    if (isBindFailure(line)) {
      this.#portInUse = true;
      return;
    }
    if (isAcceptedLine(line) && !this.#accepted) this.#onAccepted();
  }

  /** The probing ffmpeg's stderr: its input dump names the caller's streams. */
  #onProbeLine(line: string): void {
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
    if (line === 'Stream mapping:' && !this.#connection) this.#startRemuxer();
  }

  #onAccepted(): void {
    this.#accepted = true;
    this.#listening = false;
    // srt-live-transmit does not report the caller's stream id: the session's own passphrase is what lets it in.
    this.#log.info({ port: this.#o.port }, 'srt caller connected');
    if (this.#stopping) return;
    this.#streamsTimer = setTimeout(
      () => this.#refuse(`no MPEG-TS from the caller within ${streamsDeadlineMs / 1000} s`),
      streamsDeadlineMs,
    );
    const probe = spawnEncoder(this.#o.ffmpegPath, receiverArgs(), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#probe = probe;
    probe.once('error', (error) => this.#log.error({ err: error }, 'srt receiving ffmpeg failed to start'));
    // A probe gone early makes writes fail with EPIPE; its exit says why.
    probe.stdin!.on('error', () => {});
    this.#child.stdout!.pipe(probe.stdin!);
    const stderr = new StderrLines(probe.stderr, (line) => this.#onProbeLine(line));
    this.#probeStderr = stderr;
    void Promise.all([exited(probe), stderr.done]).then(() => {
      // Served: the connection follows its ffmpegs. Otherwise ffmpeg found nothing to relay.
      if (this.#connection || this.#stopping) return;
      this.#refuse(`the caller sent no usable MPEG-TS: ${stderr.last || `exit code ${probe.exitCode}`}`);
    });
  }

  #refuse(reason: string): void {
    if (this.#refusedCaller) return;
    this.#refusedCaller = true;
    this.#clearStreamsTimer();
    this.#log.warn({ reason, port: this.#o.port, stderr: this.#probeStderr?.tail }, 'srt caller refused');
    this.emit('refused', { reason });
    void stopChild(this.#child);
    if (this.#probe) void stopChild(this.#probe);
  }

  #startRemuxer(): void {
    this.#clearStreamsTimer();
    const probe = this.#probe;
    if (this.#refusedCaller || this.#stopping || this.#finished || !probe) return;
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
    probe.stdout!.pipe(remuxer.stdin!);
    this.#log.info({ video: video.codec, audio: this.#audio?.codec ?? 'none', plan: audio }, 'srt caller streams');
    let flowed = false;
    const connection = new SrtConnection({
      transmitter: this.#child,
      receiver: probe,
      receiverStderr: this.#probeStderr!,
      remuxer,
      remuxerStderr,
      audio,
      meter: this.#meter,
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
      // The caller left before its streams were known: its ffmpeg has nothing more to read.
      if (this.#probe) void stopChild(this.#probe);
      if (!this.#refusedCaller && !this.#stopping) {
        this.#refusedCaller = true;
        const reason = `the caller left before sending a program: ${this.#probeStderr?.last || this.#stderr.last}`;
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
      outcome = { kind: 'failed', error: new SrtFfmpegError(`SRT listener exited before a caller came: ${why}`, tail) };
    }
    this.emit('exit', outcome);
  }
}
