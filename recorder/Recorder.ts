import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Logger } from 'pino';
import { spawnEncoder } from './encoderProcess.js';
import type { FfmpegBinary } from './ffmpegBinary.js';
import { parseRunPlaylist } from './hlsRunPlaylist.js';
import type { LowLatencyStream } from './lowLatency/LowLatencyStream.js';
import { pipeRun } from './lowLatency/pipeRun.js';
import type { RecordedRoom } from './RecordedRoom.js';
import { freeRtpPortPair, nudge, portsBound } from './ports.js';
import { RecordingJournal, type SegmentEntry } from './RecordingJournal.js';
import { hasStalled, writtenSoFar } from './runProgress.js';
import { ffmpegArgs } from './ffmpegArgs.js';
import { earlierRuns, isSegmentOfRun, planRun, runFiles, type RunPlan } from './runPlan.js';
import { buildSdp, type SdpStream } from './sdp.js';
import { concatList, datedFrom, segmentsToArchive } from './segmentsToArchive.js';

export type { RunPlan };

export interface RecorderOptions {
  room: RecordedRoom;
  dir: string;
  ffmpeg: FfmpegBinary;
  logger: Logger;
  public: boolean;
  /** Target segment length; keyframes are requested at this pace. */
  segmentSeconds: number;
  /** How far back a live viewer can rewind. */
  dvrWindowSeconds: number;
  /** Where each run's fragments go for Low-Latency HLS (none: the archive's HLS only). */
  lowLatency?: LowLatencyStream;
  /** An encoder run that writes nothing for this long is replaced (default: three segments, at least 8 s). */
  stallSeconds?: number;
}

export interface RecorderEvents {
  segment: [segment: SegmentEntry];
  /** The encoder exited on its own; a new run starts shortly. */
  encoderExit: [code: number | null];
  /** The encoder wrote nothing for too long while it ran; a new run replaces it. */
  encoderStalled: [run: number];
}

interface Run {
  id: number;
  ffmpeg: ChildProcess;
  exited: Promise<number | null>;
  transports: types.PlainTransport[];
  consumers: types.Consumer[];
  /** The RTP ports ffmpeg reads (each with its RTCP port after it). */
  ports: number[];
  playlist: string;
  segmentPattern: string;
  plan: RunPlan;
  programIdentity: string | null;
  sawFirstSegment: boolean;
  /** Wall-clock time of the run's first picture (or of its start, without a picture): its first segment's date. */
  startedAt: number | undefined;
  timers: NodeJS.Timeout[];
  stopping: boolean;
  /** What it had written when last looked at (runProgress.ts), and since when. */
  progress: { mark: string; changedAt: number };
  /** The end of what ffmpeg said on stderr, for the log when it fails. */
  stderr: string;
}

/**
 * Records one session's program — the picture on air and every voice heard —
 * into HLS: a live playlist with a rewind window and an archive playlist.
 *
 * The program is pulled from the router over one PlainTransport per stream
 * into ffmpeg. Whenever the program changes (floor given or taken, a sender
 * joins or leaves) the next encoder run starts beside the current one, and
 * the current one is closed only once the next has its first picture: make
 * before break, so the archive holds the program without a hole while an
 * encoder starts and waits for a keyframe. The next run's first segment is
 * marked as a discontinuity (the picture may change size there). Segments
 * are journaled as soon as ffmpeg closes them, so neither a killed encoder
 * nor a restarted server loses one.
 */
export class Recorder extends EventEmitter<RecorderEvents> {
  readonly journal: RecordingJournal;
  readonly #o: RecorderOptions;
  readonly #log: Logger;
  #run: Run | null = null;
  #runCounter = 0;
  #queue: Promise<void> = Promise.resolve();
  #active = false;
  #closed = false;
  #debounce: NodeJS.Timeout | null = null;
  /** A switch to a new run is scheduled or under way: the current run's own exit is no news. */
  #switching = false;
  readonly #onProgram = () => this.#scheduleSwitch('program changed');
  readonly #onAgenda = (item: { id: string; title: string } | null) => {
    if (item && this.#active) this.journal.addChapter({ start: this.journal.duration, title: item.title, kind: 'agenda' });
  };

  constructor(options: RecorderOptions) {
    super();
    this.#o = options;
    this.#log = options.logger.child({ session: options.room.id, component: 'recorder' });
    this.journal = RecordingJournal.open(options.dir, {
      sessionId: options.room.id,
      title: options.room.title,
      public: options.public,
    });
    if (fs.existsSync(path.join(options.dir, 'meta.json'))) this.#recoverOrphanSegments();
  }

  get recording(): boolean {
    return this.#active;
  }

  get currentPlan(): RunPlan | undefined {
    return this.#run?.plan;
  }

  start(): Promise<void> {
    // After close() (the server shutting down) nothing starts again.
    if (this.#active || this.#closed) return this.#queue;
    this.#active = true;
    this.journal.setMeta({ status: 'recording', endedAt: undefined });
    this.#o.room.on('program', this.#onProgram);
    this.#o.room.on('agenda', this.#onAgenda);
    this.#log.info({ ffmpeg: this.#o.ffmpeg.origin }, 'recording started');
    return this.#enqueue(() => this.#switchRun());
  }

  /** Stops recording; what is written stays, and start() continues the same archive. */
  stop(): Promise<void> {
    if (!this.#active) return this.#queue;
    this.#active = false;
    this.#o.room.off('program', this.#onProgram);
    this.#o.room.off('agenda', this.#onAgenda);
    if (this.#debounce) clearTimeout(this.#debounce);
    return this.#enqueue(async () => {
      await this.#stopRun(this.#run);
      this.#run = null;
      this.journal.setMeta({ status: 'stopped' });
      this.journal.writePlaylists(this.#o.dvrWindowSeconds, false);
      this.#log.info({ duration: this.journal.duration }, 'recording stopped');
    });
  }

  /** Ends the recording for good: closes the playlists, makes the MP4 and the poster. */
  async finalize(): Promise<void> {
    await this.stop();
    await this.#enqueue(async () => {
      const started = Date.now();
      this.journal.setMeta({ status: 'finalizing', endedAt: Date.now() });
      this.journal.writePlaylists(this.#o.dvrWindowSeconds, true);
      // prettier-ignore
      const hasPoster = await this.#derive('poster.jpg', [
        '-ss', String(Math.min(5, this.journal.duration / 2)), '-i', 'archive.m3u8',
        '-frames:v', '1', '-vf', 'scale=640:-2', '-f', 'image2',
      ]);
      // The MP4 is the archive's timeline: each segment placed at the sum of the
      // durations before it (the concat list), as a player of archive.m3u8
      // places it, whatever clock each encoder run kept inside its segments.
      fs.writeFileSync(path.join(this.#o.dir, 'archive.concat'), concatList(this.journal.segments));
      // Cut at the archive's length: the sound an encoder flushes after its last picture is not listed in the playlist either.
      // prettier-ignore
      const hasMp4 = await this.#derive('recording.mp4', [
        '-f', 'concat', '-i', 'archive.concat', '-map', '0', '-c', 'copy', '-t', this.journal.duration.toFixed(3),
        '-bsf:a', 'aac_adtstoasc', '-movflags', '+faststart', '-f', 'mp4',
      ]);
      this.journal.setMeta({ status: 'complete', hasPoster, hasMp4 });
      this.#log.info({ ms: Date.now() - started, duration: this.journal.duration }, 'archive complete');
    });
  }

  // ---- Runs ------------------------------------------------------------------------

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(task).catch((error) => this.#log.error({ err: error }, 'recorder task failed'));
    return this.#queue;
  }

  #scheduleSwitch(reason: string, delayMs = 30): void {
    if (!this.#active) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#switching = true;
    // Changes come in bursts (a floor switch closes and opens consumers): one switch for all.
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      if (!this.#active) {
        this.#switching = false;
        return;
      }
      this.#log.info({ reason }, 'switching the encoder');
      void this.#enqueue(() => this.#switchRun());
    }, delayMs);
  }

  /**
   * Starts the next run beside the current one and hands over once the next
   * has its first picture: the archive goes from one to the other with at
   * most the few milliseconds between the two.
   */
  async #switchRun(): Promise<void> {
    this.#switching = true;
    try {
      const previous = this.#run;
      const next = this.#active ? await this.#startRun() : null;
      if (!next) {
        // Nothing could start (a sender left while we set up): the current run
        // goes on, and the change that follows brings a new switch.
        if (this.#active && !previous) this.#scheduleSwitch('no run', 500);
        return;
      }
      this.#run = next;
      await this.#stopRun(previous);
      next.progress = { mark: '', changedAt: Date.now() };
      next.timers.push(setInterval(() => this.#watch(next, this.#harvest(next)), 500));
      this.#harvest(next);
    } finally {
      this.#switching = this.#debounce !== null;
    }
  }

  /** Starts an encoder run on the program as it is now; resolves once its media flows (null if it cannot start). */
  async #startRun(): Promise<Run | null> {
    const room = this.#o.room;
    if (room.closed) return null;
    const sources = room.programSources();
    const router = room.router(0);
    if (!router) return null;
    const id = ++this.#runCounter;
    const transports: types.PlainTransport[] = [];
    const consumers: types.Consumer[] = [];
    const streams: SdpStream[] = [];
    const capabilities: types.RtpCapabilities = {
      codecs: router.rtpCapabilities.codecs?.filter((c) => !c.mimeType.toLowerCase().endsWith('/rtx')),
      headerExtensions: [],
    };
    try {
      for (const producer of [sources.video, ...sources.audio]) {
        if (!producer) continue;
        const transport = await router.createPlainTransport({
          listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
          rtcpMux: false,
          comedia: false,
        });
        transports.push(transport);
        const port = await freeRtpPortPair();
        await transport.connect({ ip: '127.0.0.1', port, rtcpPort: port + 1 });
        const consumer = await room.consumeOn(0, transport, producer, capabilities);
        consumers.push(consumer);
        if (consumer.type === 'simulcast') await consumer.setPreferredLayers({ spatialLayer: 2, temporalLayer: 2 });
        streams.push({ kind: consumer.kind, port, rtpParameters: consumer.rtpParameters });
      }
    } catch (error) {
      // A sender left while we set up: record what remains, a new change follows.
      this.#log.warn({ err: error }, 'could not take a program stream');
      for (const t of transports) t.close();
      return null;
    }

    const plan = planRun(sources, streams);
    const { playlist, sdp: sdpPath, segmentPattern } = runFiles(this.#o.dir, id);
    fs.writeFileSync(sdpPath, buildSdp(streams));
    const args = ffmpegArgs({
      plan,
      sdpPath: streams.length ? sdpPath : undefined,
      streams,
      segmentSeconds: this.#o.segmentSeconds,
      offsetSeconds: this.#archivePositionNow(),
      segmentPattern,
      playlist,
      lowLatency: !!this.#o.lowLatency,
    });
    const lowLatency = this.#o.lowLatency;
    const ffmpeg = spawnEncoder(this.#o.ffmpeg.path, ['-nostdin', ...args], { stdio: ['ignore', lowLatency ? 'pipe' : 'ignore', 'pipe'] });
    if (lowLatency && ffmpeg.stdout) {
      // The stream takes this run over at its first keyframe, as the archive does at the handover.
      pipeRun(lowLatency, ffmpeg.stdout, { startedAt: () => run.startedAt }).catch((error: unknown) =>
        this.#log.warn({ err: error, run: id }, 'the low-latency stream could not read this run; the archive goes on'),
      );
    }
    ffmpeg.stderr?.on('data', (d: Buffer) => {
      run.stderr = (run.stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<number | null>((resolve) => ffmpeg.once('exit', (code) => resolve(code)));
    const programIdentity = sources.video?.appData.identity ?? null;
    const run: Run = {
      id,
      ffmpeg,
      exited,
      transports,
      consumers,
      ports: streams.map((s) => s.port),
      playlist,
      segmentPattern,
      plan,
      programIdentity,
      sawFirstSegment: false,
      startedAt: undefined,
      timers: [],
      stopping: false,
      progress: { mark: '', changedAt: Date.now() },
      stderr: '',
    };
    this.#log.info({ run: id, plan, program: programIdentity, pid: ffmpeg.pid }, 'encoder run started');

    void exited.then((code) => {
      if (run.stopping) return;
      this.#harvest(run);
      // A run whose senders left ends by itself (no packets for a second): the switch under way replaces it.
      if (run !== this.#run || this.#switching) return;
      this.#log.warn({ run: id, code, stderr: run.stderr.slice(-600) }, 'encoder exited on its own');
      this.emit('encoderExit', code);
      this.#scheduleSwitch('encoder exited', 300);
    });

    // Let media flow once ffmpeg listens, and ask for keyframes: one to start,
    // then one per segment so each segment starts clean.
    const listening = await portsBound(
      streams.map((s) => s.port),
      5000,
    );
    if (!listening) this.#log.warn({ run: id }, 'the encoder is slow to listen; starting anyway');
    const videoConsumer = consumers.find((c) => c.kind === 'video');
    if (videoConsumer) {
      const ask = () => void videoConsumer.requestKeyFrame().catch(() => {});
      // The picture leads: the voices start with its first keyframe. Started
      // together, ffmpeg would write the voices heard while the keyframe is
      // on its way (longer on a busy machine) ahead of any picture, outside
      // the segment durations the playlists list, and the run's timestamps
      // would no longer match its place in the archive.
      const firstKeyframe = this.#firstKeyframe(videoConsumer);
      await videoConsumer.resume().catch(() => {});
      ask();
      run.timers.push(setTimeout(ask, 1000));
      run.timers.push(setInterval(ask, this.#o.segmentSeconds * 1000));
      run.startedAt = await firstKeyframe;
    }
    for (const consumer of consumers) if (consumer !== videoConsumer) await consumer.resume().catch(() => {});
    // A slate has no keyframe to wait for, but ffmpeg takes a while to start
    // making it: the run is ready once it writes its first segment (ffmpeg
    // dates those segments itself, from that moment).
    if (!videoConsumer) await this.#firstSegmentBegun(segmentPattern);
    return run;
  }

  /** Resolves once ffmpeg has opened the run's first segment (or after 5 s). */
  async #firstSegmentBegun(segmentPattern: string): Promise<void> {
    const first = segmentPattern.replace('%05d', '00000');
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(`${first}.tmp`) && !fs.existsSync(first) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Where in the archive the program is now: what is journaled, and what the
   * current run has sent since its last journaled segment. A new run's clock
   * starts there, so the timestamps keep rising from run to run.
   */
  #archivePositionNow(): number {
    const run = this.#run;
    const last = this.journal.segments[this.journal.segments.length - 1];
    if (!run?.startedAt) return this.journal.duration;
    const journaledEnd = last && run.sawFirstSegment ? last.pdt + last.duration * 1000 : run.startedAt;
    return this.journal.duration + Math.max(0, Date.now() - journaledEnd) / 1000;
  }

  /**
   * Resolves when the consumer sends its first keyframe (mediasoup sends
   * nothing of a resumed video stream before one), or after a few seconds
   * if the sender never gives one: then the voices go on without a picture.
   */
  async #firstKeyframe(consumer: types.Consumer): Promise<number> {
    await consumer.enableTraceEvent(['keyframe']).catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    let onTrace: ((trace: types.ConsumerTraceEventData) => void) | undefined;
    const at = await Promise.race([
      new Promise<number>((resolve) => {
        onTrace = (trace) => {
          if (trace.type === 'keyframe') resolve(Date.now());
        };
        consumer.on('trace', onTrace);
        consumer.observer.once('close', () => resolve(Date.now()));
      }),
      new Promise<number>(
        (resolve) =>
          (timer = setTimeout(() => {
            this.#log.warn({ consumer: consumer.id }, 'no keyframe from the picture on air within 5 s: recording its voices without it');
            resolve(Date.now());
          }, 5000)),
      ),
    ]);
    clearTimeout(timer);
    if (onTrace) consumer.off('trace', onTrace);
    if (!consumer.closed) await consumer.enableTraceEvent([]).catch(() => {});
    return at;
  }

  async #stopRun(run: Run | null): Promise<void> {
    if (!run) return;
    run.stopping = true;
    for (const t of run.timers) clearInterval(t);
    // One SIGINT makes ffmpeg stop reading, close the segment it is writing
    // and list it; a packet on its RTCP ports wakes it if none comes any more.
    if (run.ffmpeg.exitCode === null) {
      run.ffmpeg.kill('SIGINT');
      await nudge(run.ports).catch(() => {});
      const timeout = setTimeout(() => run.ffmpeg.kill('SIGKILL'), 5000);
      await run.exited;
      clearTimeout(timeout);
    }
    this.#harvest(run);
    for (const t of run.transports) t.close();
    this.#log.info({ run: run.id }, 'encoder run closed');
  }

  /**
   * Replaces the current run if it has written nothing for too long: an
   * encoder that hangs without exiting would otherwise leave the archive
   * without the program until the next floor switch.
   */
  #watch(run: Run, closedSegments: number): void {
    if (run !== this.#run || run.stopping || this.#switching || !this.#active) return;
    const now = Date.now();
    const mark = writtenSoFar(run.segmentPattern, closedSegments);
    if (mark !== run.progress.mark) {
      run.progress = { mark, changedAt: now };
      return;
    }
    const stallMs = (this.#o.stallSeconds ?? Math.max(8, 3 * this.#o.segmentSeconds)) * 1000;
    if (!hasStalled(run.progress, now, stallMs)) return;
    this.#log.warn(
      { run: run.id, pid: run.ffmpeg.pid, silentMs: now - run.progress.changedAt, stderr: run.stderr.slice(-600) },
      'the encoder has written nothing for too long: a new run replaces it',
    );
    run.progress.changedAt = now;
    this.emit('encoderStalled', run.id);
    this.#scheduleSwitch('encoder stalled', 0);
  }

  /** Journals the segments ffmpeg has finished in a run, then rewrites the playlists; returns how many the run has listed. */
  #harvest(run: Pick<Run, 'playlist' | 'sawFirstSegment' | 'programIdentity' | 'startedAt'> & { id: number }): number {
    let text: string;
    try {
      text = fs.readFileSync(run.playlist, 'utf8');
    } catch {
      return 0;
    }
    const listed = parseRunPlaylist(text);
    const taken = segmentsToArchive(run.startedAt === undefined ? listed : datedFrom(run.startedAt, listed), {
      inArchive: (file) => this.journal.has(file),
      onDisk: (file) => fs.existsSync(path.join(this.#o.dir, file)),
      runHasSegments: run.sawFirstSegment,
      archiveEmpty: this.journal.segments.length === 0,
      now: Date.now(),
    });
    for (const { opensRun, ...entry } of taken) {
      if (opensRun) {
        run.sawFirstSegment = true;
        this.#chapterForRun(run.programIdentity);
      }
      this.emit('segment', this.journal.addSegment(entry));
    }
    if (taken.length) this.journal.writePlaylists(this.#o.dvrWindowSeconds, false);
    return listed.length;
  }

  #chapterForRun(identity: string | null): void {
    const room = this.#o.room;
    const name = identity ? (room.peer(identity)?.name ?? identity) : '—';
    this.journal.addChapter({ start: this.journal.duration, title: name, kind: 'program', identity: identity ?? undefined });
  }

  /**
   * After a crash or a server restart, segments ffmpeg finished but we had
   * not yet journaled are still listed in its run playlists: take them.
   */
  #recoverOrphanSegments(): void {
    for (const { id, playlist } of earlierRuns(fs.readdirSync(this.#o.dir))) {
      this.#runCounter = Math.max(this.#runCounter, id);
      const known = this.journal.segments.some((s) => isSegmentOfRun(s.file, id));
      this.#harvest({
        id,
        playlist: path.join(this.#o.dir, playlist),
        sawFirstSegment: known,
        programIdentity: null,
        startedAt: undefined,
      });
    }
    this.journal.writePlaylists(this.#o.dvrWindowSeconds, false);
  }

  /** Runs ffmpeg once over the archive to make a derived file (poster, MP4). */
  async #derive(name: string, args: string[]): Promise<boolean> {
    const tmp = `${name}.tmp`;
    const child = spawnEncoder(this.#o.ffmpeg.path, ['-hide_banner', '-loglevel', 'error', '-y', ...args, tmp], {
      cwd: this.#o.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) {
      this.#log.warn({ name, code, stderr: stderr.slice(-500) }, 'could not derive file from the archive');
      fs.rmSync(path.join(this.#o.dir, tmp), { force: true });
      return false;
    }
    fs.renameSync(path.join(this.#o.dir, tmp), path.join(this.#o.dir, name));
    return true;
  }

  /** Stops the encoder without finalizing (server shutdown: the recording resumes at the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#active = false;
    this.#o.room.off('program', this.#onProgram);
    this.#o.room.off('agenda', this.#onAgenda);
    if (this.#debounce) clearTimeout(this.#debounce);
    await this.#enqueue(async () => {
      await this.#stopRun(this.#run);
      this.#run = null;
    });
  }
}
