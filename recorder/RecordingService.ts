import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { identityPattern } from '../protocol/index.js';
import { findFfmpeg, type FfmpegBinary } from './ffmpegBinary.js';
import type { RecordedRoom, RecordedRooms } from './RecordedRoom.js';
import { endOrphanEncoders } from './encoderProcess.js';
import { LowLatencyStream } from './lowLatency/LowLatencyStream.js';
import { Recorder } from './Recorder.js';
import type { RecordingMeta } from './RecordingJournal.js';

export interface RecordingServiceOptions {
  dir: string;
  logger: Logger;
  /** Start recording as soon as a session goes on air. */
  autoRecord: boolean;
  segmentSeconds: number;
  dvrWindowSeconds: number;
}

export interface RecordingServiceEvents {
  /** A session's archive is complete (finalized after the session ended): playable and downloadable. */
  ready: [sessionId: string, meta: RecordingMeta];
}

/** The session has no recorder here (not open on this node, or its recorder could not start). */
export class RecorderMissingError extends Error {
  constructor(sessionId: string) {
    super(`session ${sessionId} has no recorder on this server`);
    this.name = 'RecorderMissingError';
  }
}

/** A session id is a safe folder name (the protocol's identity rule); anything else never reaches the disk. */
export const sessionIdPattern = identityPattern;

/**
 * Gives every session on air a Recorder, lets the operator stop and start
 * it, finalizes the archive when the session ends, and lists recordings.
 */
export class RecordingService extends EventEmitter<RecordingServiceEvents> {
  readonly ffmpeg: FfmpegBinary;
  readonly #o: RecordingServiceOptions;
  readonly #recorders = new Map<string, { room: RecordedRoom; recorder: Recorder }>();
  /** Sessions whose operator stopped recording: going live again does not restart it. */
  readonly #heldByOperator = new Set<string>();
  readonly #finalizing = new Set<Promise<void>>();
  /** Each session's Low-Latency HLS, kept a minute after the session ends so that players read its end. */
  readonly #lowLatency = new Map<string, LowLatencyStream>();
  readonly #finalizingRooms = new Set<string>();
  /** Shutting down: no recorder starts any more. */
  #closed = false;

  constructor(options: RecordingServiceOptions) {
    super();
    this.#o = options;
    this.ffmpeg = findFfmpeg();
    fs.mkdirSync(options.dir, { recursive: true });
    const orphans = endOrphanEncoders(options.dir);
    if (orphans.length) options.logger.warn({ pids: orphans }, 'ended encoders an earlier server left running');
    options.logger.info({ ffmpeg: this.ffmpeg.path, origin: this.ffmpeg.origin, version: this.ffmpeg.version }, 'recorder ffmpeg');
  }

  /** Gives every session that opens from now on its Recorder. */
  follow(sessions: RecordedRooms): void {
    sessions.on('room', (room, record) => {
      // A recorder that cannot start must not take the session down with it.
      try {
        this.#attach(room, record);
      } catch (error) {
        this.#o.logger.error({ err: error, session: room.id }, 'this session cannot be recorded');
      }
    });
  }

  has(sessionId: string): boolean {
    return this.#recorders.has(sessionId);
  }

  /** The operator starts the recording of a session on air; going live again keeps it going. */
  async start(sessionId: string, actor: string): Promise<void> {
    const entry = this.#entry(sessionId);
    this.#heldByOperator.delete(sessionId);
    if (entry.room.status !== 'live') return;
    await this.#start(entry, actor);
  }

  /** The operator stops the recording: it stays stopped until started again, even across going live. */
  async stop(sessionId: string, actor: string): Promise<void> {
    const entry = this.#entry(sessionId);
    this.#heldByOperator.add(sessionId);
    await entry.recorder.stop();
    entry.room.setRecording(false, actor);
  }

  get dir(): string {
    return this.#o.dir;
  }

  dirFor(sessionId: string): string {
    if (!sessionIdPattern.test(sessionId)) throw new Error(`not a session id: ${JSON.stringify(sessionId.slice(0, 80))}`);
    return path.join(this.#o.dir, sessionId);
  }

  recorder(sessionId: string): Recorder | undefined {
    return this.#recorders.get(sessionId)?.recorder;
  }

  /** The session's Low-Latency HLS while it is open on this node. */
  lowLatency(sessionId: string): LowLatencyStream | undefined {
    return this.#lowLatency.get(sessionId);
  }

  meta(sessionId: string): RecordingMeta | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dirFor(sessionId), 'meta.json'), 'utf8')) as RecordingMeta;
    } catch {
      return undefined;
    }
  }

  /** Every recording on disk, newest first. */
  list(): RecordingMeta[] {
    const out: RecordingMeta[] = [];
    for (const entry of fs.readdirSync(this.#o.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const meta = this.meta(entry.name);
      if (meta) out.push(meta);
    }
    return out.sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Resolves when every archive being finalized is complete (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#finalizing]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const stream of this.#lowLatency.values()) stream.close();
    this.#lowLatency.clear();
    await Promise.all([...this.#recorders.values()].map(({ recorder }) => recorder.close()));
    this.#recorders.clear();
    await this.idle();
  }

  #attach(room: RecordedRoom, record: { public: boolean }): void {
    if (this.#closed) return;
    // Parts of ~0.2 s, segments at the keyframes the recorder asks for every
    // segment; the rewind window as the live playlist's (~75 MB per 10 minutes at 1 Mbit/s).
    const lowLatency = new LowLatencyStream({
      rewindSeconds: this.#o.dvrWindowSeconds,
      segmentTarget: Math.max(1, this.#o.segmentSeconds / 2),
      targetDuration: Math.ceil(this.#o.segmentSeconds) + 1,
    });
    const recorder = new Recorder({
      lowLatency,
      room,
      dir: this.dirFor(room.id),
      ffmpeg: this.ffmpeg,
      logger: this.#o.logger,
      public: record.public,
      segmentSeconds: this.#o.segmentSeconds,
      dvrWindowSeconds: this.#o.dvrWindowSeconds,
    });
    const entry = { room, recorder };
    this.#recorders.set(room.id, entry);
    this.#lowLatency.get(room.id)?.close();
    this.#lowLatency.set(room.id, lowLatency);
    room.on('snapshot', (snapshot) => {
      if (this.#closed) return;
      if (snapshot.status === 'live' && this.#o.autoRecord && !recorder.recording && !this.#heldByOperator.has(room.id)) {
        void this.#start(entry, 'system');
      }
      if (snapshot.status === 'ended') {
        lowLatency.finish();
        this.#finalize(room, recorder);
      }
    });
    room.once('close', () => {
      this.#recorders.delete(room.id);
      const forget = () => {
        lowLatency.close();
        if (this.#lowLatency.get(room.id) === lowLatency) this.#lowLatency.delete(room.id);
      };
      if (lowLatency.finished && !this.#closed) setTimeout(forget, 60_000).unref();
      else forget();
      if (room.status !== 'ended') void recorder.close();
    });
  }

  async #start({ room, recorder }: { room: RecordedRoom; recorder: Recorder }, actor: string): Promise<void> {
    await recorder.start();
    room.setRecording(true, actor);
  }

  #entry(sessionId: string): { room: RecordedRoom; recorder: Recorder } {
    const entry = this.#recorders.get(sessionId);
    if (!entry) throw new RecorderMissingError(sessionId);
    return entry;
  }

  /**
   * The session ended: the encoder stops while the program still flows (so it
   * closes its last segment at once), then the archive is completed.
   */
  #finalize(room: RecordedRoom, recorder: Recorder): void {
    if (this.#finalizingRooms.has(room.id)) return;
    // A session that was never recorded leaves no archive behind.
    if (!this.meta(room.id)) return;
    this.#finalizingRooms.add(room.id);
    const stopped = recorder.stop();
    if (recorder.recording || room.recording) room.setRecording(false, 'system');
    room.delayClose(stopped);
    const done = stopped
      .then(() => recorder.finalize())
      .then(() => {
        const meta = this.meta(room.id);
        // A session that was never recorded has an empty archive: nothing to announce.
        if (meta?.status === 'complete' && meta.duration > 0) this.emit('ready', room.id, meta);
      })
      .finally(() => {
        this.#finalizing.delete(done);
        this.#finalizingRooms.delete(room.id);
      });
    this.#finalizing.add(done);
  }
}
