import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { SrtOptionsError } from './errors.js';
import type { SrtConnection } from './SrtConnection.js';
import { SrtReceiver, type ReceiverOutcome } from './SrtReceiver.js';
import { isUriSafe } from './srtLiveTransmit.js';

export type { SrtConnection };
export { SrtFfmpegError, SrtOptionsError, SrtPortInUseError } from './errors.js';
export { findSrtLiveTransmit } from './srtLiveTransmit.js';

export interface SrtListenerOptions {
  /** The address to listen on ('0.0.0.0' for every interface). */
  host: string;
  /** The UDP port. */
  port: number;
  /** AES passphrase, 10 to 79 characters: a caller without it is refused. */
  passphrase: string;
  /** SRT receive latency: how long lost packets may take to be sent again (default 120 ms). */
  latencyMs?: number;
  /** srt-live-transmit (Debian's srt-tools): it receives the caller and reports the link's statistics. */
  transmitterPath: string;
  /** The ffmpeg making FLV of the caller's MPEG-TS. */
  ffmpegPath: string;
  logger?: Logger;
}

export interface SrtListenerEvents {
  /** A caller's program flows: its first FLV bytes are readable. */
  connection: [SrtConnection];
  /** A caller was turned away (wrong or no passphrase, nothing playable); the listener waits for the next. */
  refused: [{ reason: string }];
  /** srt-live-transmit cannot listen (SrtPortInUseError, SrtFfmpegError); the listener tries again after a pause. */
  error: [Error];
  /** Bound and waiting for a caller (again after each caller). */
  listening: [];
}

/** Pause before restarting a receiver that failed or turned a caller away: doubled each time, up to the maximum. */
const firstRetryMs = 500;
const maxRetryMs = 15_000;

const defaultLatencyMs = 120;

/**
 * The SRT listener of one session: the broadcast desk's encoder (OBS, vMix,
 * a hardware encoder) calls it with MPEG-TS, and each caller that has the
 * passphrase becomes an SrtConnection carrying its program as FLV.
 *
 * srt-live-transmit in listener mode serves one caller and exits when it
 * leaves; a fresh one is then started for the next (the encoder
 * reconnecting). Its link statistics reach the operator through the
 * connection (SrtConnection.linkStats). The caller's stream id is not
 * checked (srt-live-transmit does not report it): the passphrase, derived
 * for each session, is what admits a caller. Failures (a port in use, a
 * process that keeps dying, callers sending garbage) are retried after a
 * pause that grows up to 15 s, never in a tight loop. Every child process
 * dies with the server (parent-death signal, as the recorder's encoders),
 * and close() stops them all.
 */
export class SrtListener extends EventEmitter<SrtListenerEvents> {
  readonly port: number;
  readonly #o: Required<SrtListenerOptions>;
  readonly #log: Logger;
  readonly #connections = new Set<SrtConnection>();
  #receiver: SrtReceiver | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #closed = false;

  static start(options: SrtListenerOptions): SrtListener {
    validate(options);
    const listener = new SrtListener(options);
    listener.#startReceiver();
    return listener;
  }

  private constructor(options: SrtListenerOptions) {
    super();
    this.port = options.port;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ srtPort: options.port });
    this.#o = {
      host: options.host,
      port: options.port,
      passphrase: options.passphrase,
      latencyMs: options.latencyMs ?? defaultLatencyMs,
      ffmpegPath: options.ffmpegPath,
      transmitterPath: options.transmitterPath,
      logger: this.#log,
    };
  }

  /** Whether srt-live-transmit has the port bound and waits for a caller (false while it serves one, and between runs). */
  get listening(): boolean {
    return this.#receiver?.listening ?? false;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The pid of the srt-live-transmit holding the port, for diagnostics. */
  get pid(): number | undefined {
    return this.#receiver?.pid;
  }

  /** Stops listening for good: drops the caller, if any, and resolves once every child process is gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const receiver = this.#receiver;
    this.#receiver = null;
    const connections = [...this.#connections];
    for (const connection of connections) connection.close('the listener closed');
    await Promise.all([receiver?.stop(), ...connections.map((c) => c.stopped())]);
    this.#log.info('srt listener closed');
  }

  #startReceiver(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    const receiver = new SrtReceiver(this.#o);
    this.#receiver = receiver;
    receiver.on('listening', () => {
      this.#log.debug('srt listener waiting for a caller');
      this.emit('listening');
    });
    receiver.on('refused', (refusal) => this.emit('refused', refusal));
    receiver.on('connection', (connection) => {
      this.#connections.add(connection);
      connection.once('close', () => this.#connections.delete(connection));
      if (this.#closed) return connection.close('the listener closed');
      this.emit('connection', connection);
    });
    receiver.once('exit', (outcome) => this.#onReceiverExit(receiver, outcome));
  }

  #onReceiverExit(receiver: SrtReceiver, outcome: ReceiverOutcome): void {
    if (this.#receiver === receiver) this.#receiver = null;
    if (this.#closed || outcome.kind === 'stopped') return;
    if (outcome.kind === 'served') {
      // The caller left (or was dropped): its encoder may be reconnecting right now.
      this.#failures = 0;
      this.#startReceiver();
      return;
    }
    this.#failures += 1;
    const delay = Math.min(firstRetryMs * 2 ** (this.#failures - 1), maxRetryMs);
    if (outcome.kind === 'failed') {
      this.#log.error({ err: outcome.error, retryInMs: delay }, 'srt listener failed');
      // An unhandled 'error' event would throw: the server goes on without this listener instead.
      if (this.listenerCount('error') > 0) this.emit('error', outcome.error);
    }
    this.#retryTimer = setTimeout(() => this.#startReceiver(), delay);
  }
}

function validate(o: SrtListenerOptions): void {
  if (!o.host) throw new SrtOptionsError('SRT listener: no host');
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new SrtOptionsError(`SRT listener: bad port ${o.port}`);
  // libsrt counts bytes; fewer than 10 or more than 79 makes it fail every connection.
  const passphraseBytes = Buffer.byteLength(o.passphrase ?? '', 'utf8');
  if (passphraseBytes < 10 || passphraseBytes > 79)
    throw new SrtOptionsError('SRT listener: the passphrase must be 10 to 79 characters long');
  // It goes into srt-live-transmit's listener URI, which decodes no escapes.
  if (!isUriSafe(o.passphrase)) throw new SrtOptionsError('SRT listener: the passphrase has characters a URI cannot carry as they are');
  const latency = o.latencyMs ?? defaultLatencyMs;
  if (!Number.isFinite(latency) || latency < 0 || latency > 60_000) throw new SrtOptionsError(`SRT listener: bad latency ${latency} ms`);
  if (!o.ffmpegPath) throw new SrtOptionsError('SRT listener: no ffmpeg path');
  if (!o.transmitterPath) throw new SrtOptionsError('SRT listener: no srt-live-transmit path');
}
