import { EventEmitter } from 'node:events';
import { LowLatencyClosedError, LowLatencyRequestError } from './errors.js';
import type { Fragment, InitSegment } from './fmp4.js';
import type { LowLatencyStats, LowLatencyStreamEvents, LowLatencyStreamOptions } from './LowLatencyStreamTypes.js';
import type { PlaylistRequest } from './playlistRequest.js';

export type * from './LowLatencyStreamTypes.js';

interface Run {
  id: number;
  init: InitSegment;
  mapUri: string;
  /** The track that times parts: the picture if there is one, else the first track. */
  timingTrack: number;
  timescale: number;
  hasVideo: boolean;
  /** Wall clock (ms) of media time `anchorTime` (s), set by the run's first fragment. */
  anchorWall: number | undefined;
  /** When the run's first picture was taken in, if the recorder knows (else its first fragment's arrival dates it). */
  startedAt: (() => number | undefined) | undefined;
  anchorTime: number;
  segments: number;
  /** pending: announced, no keyframe yet; current: its fragments are listed; ended: no more. */
  state: 'pending' | 'current' | 'ended';
}

interface Part {
  gpn: number;
  index: number;
  duration: number;
  independent: boolean;
  bytes: Buffer;
}

interface Segment {
  msn: number;
  run: Run;
  discontinuity: boolean;
  programDateTime: number;
  parts: Part[];
  /** Parts still listed: false once the segment left the part window (then only the whole segment is served). */
  partsListed: boolean;
  duration: number;
  complete: boolean;
  /** The whole segment, once complete; its parts are views of it. */
  bytes: Buffer | null;
  /** Its playlist lines, once complete (until its parts leave the window). */
  text: string | null;
}

interface OpenPart {
  fragments: Buffer[];
  duration: number;
  independent: boolean;
}

interface Waiter {
  request: PlaylistRequest;
  resolve: (text: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface PartWaiter {
  gpn: number;
  resolve: (bytes: Buffer | undefined) => void;
  timer: NodeJS.Timeout;
}

const NAME = /^(?:init-(0|[1-9]\d{0,8})\.mp4|seg-(0|[1-9]\d{0,11})\.m4s|part-(0|[1-9]\d{0,11})\.m4s)$/;
/** Durations are compared to the targets with this slack: timescale ticks are not decimal. */
const EPSILON = 0.0005;

const round3 = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * Apple Low-Latency HLS for one session's program, live: the fragments of
 * ffmpeg's fragmented MP4 (run after run) become parts and segments held in
 * memory, and blocking playlist requests are answered as parts arrive.
 *
 * Parts group whole fragments (they are never split), so their durations are
 * ffmpeg's; a part starts at every keyframe, and a segment starts at the first
 * keyframe once `segmentTarget` has passed — or earlier, when the part before
 * the keyframe is short, since a short part may only end a segment (Safari
 * refuses short parts in the middle). Each run (a floor switch may change the
 * picture's size) starts a segment with EXT-X-DISCONTINUITY and its own map.
 */
export class LowLatencyStream extends EventEmitter<LowLatencyStreamEvents> {
  readonly partTarget: number;
  readonly segmentTarget: number;
  readonly targetDuration: number;
  readonly #rewindSeconds: number;
  readonly #partWindowSeconds: number;
  readonly #maxWaiting: number;
  readonly #maxWaitMs: number;
  readonly #runs = new Map<number, Run>();
  #run: Run | null = null;
  #runCounter = 0;
  #segments: Segment[] = [];
  /** Parts listed in the playlist, by their stream-wide number (the name's number). */
  readonly #parts = new Map<number, Part>();
  #nextGpn = 0;
  #nextMsn = 0;
  #discontinuitySequence = 0;
  #open: OpenPart | null = null;
  readonly #waiters = new Set<Waiter>();
  /** Requests for the hinted part, held until it exists. */
  readonly #partWaiters = new Set<PartWaiter>();
  /** Rendered playlists, by variant, until the next change: a crowd of viewers costs one rendering. */
  readonly #rendered = new Map<string, string>();
  #closed = false;
  /** The session ended: the playlist is final (ENDLIST), and nothing is waited for any more. */
  #finished = false;
  readonly #stats = {
    runs: 0,
    parts: 0,
    segments: 0,
    partsOverTarget: 0,
    shortParts: 0,
    segmentsWithoutKeyframe: 0,
    droppedFragments: 0,
    waitsRefused: 0,
  };

  constructor(options: LowLatencyStreamOptions) {
    super();
    this.partTarget = options.partTarget ?? 0.235;
    this.segmentTarget = options.segmentTarget ?? 1;
    this.targetDuration = options.targetDuration ?? 2;
    if (!Number.isInteger(this.targetDuration) || this.targetDuration < 1) throw new TypeError('targetDuration must be an integer ≥ 1');
    if (!(this.partTarget > 0 && this.partTarget <= this.segmentTarget && this.segmentTarget <= this.targetDuration)) {
      throw new TypeError('expected 0 < partTarget ≤ segmentTarget ≤ targetDuration');
    }
    this.#rewindSeconds = Math.max(options.rewindSeconds, 6 * this.targetDuration);
    this.#partWindowSeconds = options.partWindowSeconds ?? 3 * this.targetDuration;
    this.#maxWaiting = options.maxWaiting ?? 1000;
    this.#maxWaitMs = options.maxWaitMs ?? 3000 * this.targetDuration;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): LowLatencyStats {
    let bytesHeld = this.#open?.fragments.reduce((n, b) => n + b.length, 0) ?? 0;
    for (const s of this.#segments) bytesHeld += s.bytes?.length ?? s.parts.reduce((n, p) => n + p.bytes.length, 0);
    return { ...this.#stats, waiting: this.#waiters.size + this.#partWaiters.size, bytesHeld };
  }

  /**
   * Announces an encoder run by its init segment; returns its id for push()
   * and endRun(). Runs overlap (the recorder starts the next before it stops
   * the current): the new run takes over at its first keyframe-led fragment,
   * with EXT-X-DISCONTINUITY and its own map; the older run's later
   * fragments are dropped from then on.
   */
  beginRun(init: InitSegment, startedAt?: () => number | undefined): number {
    if (this.#closed) throw new LowLatencyClosedError();
    const video = init.tracks.find((t) => t.handler === 'vide');
    const timing = video ?? init.tracks[0];
    const id = ++this.#runCounter;
    const run: Run = {
      id,
      init,
      mapUri: `init-${id}.mp4`,
      timingTrack: timing.id,
      timescale: timing.timescale,
      hasVideo: video !== undefined,
      anchorWall: undefined,
      startedAt,
      anchorTime: 0,
      segments: 0,
      state: 'pending',
    };
    this.#runs.set(id, run);
    this.#stats.runs++;
    this.emit('run', id);
    return id;
  }

  /**
   * Takes the run's next fragment. `arrivedAt` is the wall clock when it came
   * off the pipe (ms); the run's program date-time is anchored on its first
   * fragment (arrival minus its duration) and follows media time from there.
   */
  push(runId: number, fragment: Fragment, arrivedAt = Date.now()): void {
    if (this.#closed) throw new LowLatencyClosedError();
    const run = this.#runs.get(runId);
    if (!run || run.state === 'ended' || (this.#run && run.id < this.#run.id)) {
      // A run replaced by a newer one, still writing while it stops.
      this.#stats.droppedFragments++;
      return;
    }
    const timing = fragment.tracks.find((t) => t.id === run.timingTrack && t.sampleCount > 0);
    const ticks = timing?.duration ?? 0;
    // Without a sample of the timing track (sound alone at the very end), the longest track times it.
    const duration = timing
      ? ticks / run.timescale
      : Math.max(0, ...fragment.tracks.map((t) => t.duration / (run.init.tracks.find((i) => i.id === t.id)?.timescale ?? 1)));
    const independent = run.hasVideo ? timing?.startsWithSync === true : true;
    if (run !== this.#run) {
      if (!independent) {
        // A run's first segment must decode on its own: what comes before the first keyframe is dropped.
        this.#stats.droppedFragments++;
        this.emit('warning', { kind: 'fragment-before-keyframe', msn: this.#nextMsn, duration });
        return;
      }
      this.#takeOver(run);
    }
    if (run.anchorWall === undefined) {
      // The run's first picture arrived at the recorder at startedAt; failing that, ffmpeg writes a
      // fragment once it has its last picture, so that picture was taken about now.
      const startedAt = run.startedAt?.();
      run.anchorWall = startedAt !== undefined && startedAt <= arrivedAt ? startedAt : arrivedAt - duration * 1000;
      run.anchorTime = (timing?.decodeTime ?? 0) / run.timescale;
    }
    // A run's segment stays open from its first fragment to the run's end: none means this run starts here.
    let segment = this.#current();
    if (segment) {
      const held = segment.duration + (this.#open?.duration ?? 0);
      const lastPart = this.#open ?? segment.parts[segment.parts.length - 1];
      const lastShort = lastPart !== undefined && lastPart.duration < 0.85 * this.partTarget - EPSILON;
      // EXTINF rounded to the nearest integer must not exceed TARGETDURATION.
      const tooLong = held + duration >= this.targetDuration + 0.5 - EPSILON;
      if ((independent && (held >= this.segmentTarget - EPSILON || lastShort)) || tooLong) {
        this.#closeSegment();
        segment = null;
        if (!independent) {
          this.#stats.segmentsWithoutKeyframe++;
          this.emit('warning', { kind: 'segment-without-keyframe', msn: this.#nextMsn, duration });
        }
      }
    }
    const startTime = timing ? timing.decodeTime / run.timescale : undefined;
    if (!segment) segment = this.#openSegment(run, startTime, arrivedAt, duration);
    const open = this.#open;
    if (open && (independent || open.duration + duration > this.partTarget + EPSILON)) this.#closePart();
    this.#open ??= { fragments: [], duration: 0, independent };
    this.#open.fragments.push(fragment.bytes);
    this.#open.duration += duration;
    // Publish as soon as a fragment like this one would not fit: a player gets the part without waiting for the next.
    if (this.#open.duration + duration > this.partTarget + EPSILON) this.#closePart();
  }

  /** The run's pipe ended: what is held becomes the last part and segment of the run. */
  endRun(runId: number): void {
    const run = this.#runs.get(runId);
    if (this.#closed || !run || run.state === 'ended') return;
    if (run === this.#run) {
      this.#closeSegment();
      this.#run = null;
    }
    run.state = 'ended';
    this.#trim();
    this.#changed();
  }

  #takeOver(run: Run): void {
    const previous = this.#run;
    if (previous) {
      this.#closeSegment();
      previous.state = 'ended';
    }
    run.state = 'current';
    this.#run = run;
  }

  /**
   * The playlist, after a blocking wait if asked: resolves once segment
   * `msn` (part `part`) exists, after maxWaitMs at most; rejects with a
   * LowLatencyRequestError (400) for what cannot come soon, and with
   * LowLatencyClosedError if the stream closes.
   */
  playlist(request: PlaylistRequest = {}): Promise<string> {
    if (this.#closed) return Promise.reject(new LowLatencyClosedError());
    const { msn, part } = request;
    if (msn === undefined) {
      if (part !== undefined) return Promise.reject(new LowLatencyRequestError('part-without-msn', '_HLS_part needs _HLS_msn'));
      return Promise.resolve(this.#render(request.skip === true));
    }
    const last = this.#segments[this.#segments.length - 1];
    const lastMsn = last?.msn ?? -1;
    if (msn > lastMsn + 2) return Promise.reject(new LowLatencyRequestError('msn-too-far', `_HLS_msn=${msn} is beyond ${lastMsn} + 2`));
    // The Advance Part Limit (RFC 8216bis §6.2.5.2): 3 s of parts ahead of the last one.
    const limit = this.partTarget < 1 ? Math.floor(3 / this.partTarget) : 3;
    if (part !== undefined && last && msn === last.msn && !last.complete && part > last.parts.length - 1 + limit) {
      return Promise.reject(new LowLatencyRequestError('part-too-far', `_HLS_part=${part} is beyond the Advance Part Limit`));
    }
    if (this.#finished || this.#satisfied(msn, part)) return Promise.resolve(this.#render(request.skip === true));
    if (this.#waiters.size + this.#partWaiters.size >= this.#maxWaiting) {
      this.#stats.waitsRefused++;
      return Promise.resolve(this.#render(request.skip === true));
    }
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = {
        request,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          resolve(this.#render(request.skip === true));
        }, this.#maxWaitMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** The bytes (video/mp4) of an init segment, a listed part or a whole segment in the rewind window, by its playlist name. */
  file(name: string): Buffer | undefined {
    const match = NAME.exec(name);
    if (!match || this.#closed) return undefined;
    if (match[1] !== undefined) return this.#runs.get(Number(match[1]))?.init.bytes;
    if (match[2] !== undefined) {
      const msn = Number(match[2]);
      const first = this.#segments[0];
      const segment = first ? this.#segments[msn - first.msn] : undefined;
      return segment?.complete ? (segment.bytes ?? undefined) : undefined;
    }
    return this.#parts.get(Number(match[3]))?.bytes;
  }

  /**
   * file(), but the part named by EXT-X-PRELOAD-HINT may be asked before it
   * exists (Safari does): that request is held until the part is complete,
   * maxWaitMs at most, within the same cap as blocking playlist requests.
   * Resolves undefined (404) for anything else unknown, on timeout and on close().
   */
  fileWhenReady(name: string): Promise<Buffer | undefined> {
    const bytes = this.file(name);
    const match = /^part-(0|[1-9]\d{0,11})\.m4s$/.exec(name);
    if (bytes || this.#closed || this.#finished || !match || Number(match[1]) !== this.#nextGpn) return Promise.resolve(bytes);
    if (this.#waiters.size + this.#partWaiters.size >= this.#maxWaiting) {
      this.#stats.waitsRefused++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const waiter: PartWaiter = {
        gpn: this.#nextGpn,
        resolve,
        timer: setTimeout(() => {
          this.#partWaiters.delete(waiter);
          resolve(undefined);
        }, this.#maxWaitMs),
      };
      this.#partWaiters.add(waiter);
    });
  }

  /** Ends the stream: everything held is released, and waiting requests reject with LowLatencyClosedError. */
  /**
   * The session ended: the playlist gets EXT-X-ENDLIST (players stop and say
   * so), and every request held or to come is answered at once with it.
   */
  finish(): void {
    if (this.#finished || this.#closed) return;
    this.#finished = true;
    if (this.#run) this.endRun(this.#run.id);
    this.#rendered.clear();
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.#render(waiter.request.skip === true));
    }
    this.#waiters.clear();
    for (const waiter of this.#partWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    this.#partWaiters.clear();
  }

  get finished(): boolean {
    return this.#finished;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new LowLatencyClosedError());
    }
    this.#waiters.clear();
    for (const waiter of this.#partWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    this.#partWaiters.clear();
    this.#segments = [];
    this.#parts.clear();
    this.#runs.clear();
    this.#open = null;
    this.#run = null;
    this.#rendered.clear();
    this.emit('close');
  }

  // ---- Parts and segments -----------------------------------------------------------

  #current(): Segment | null {
    const last = this.#segments[this.#segments.length - 1];
    return last && !last.complete ? last : null;
  }

  #openSegment(run: Run, startTime: number | undefined, arrivedAt: number, duration: number): Segment {
    const programDateTime =
      startTime !== undefined && run.anchorWall !== undefined
        ? run.anchorWall + (startTime - run.anchorTime) * 1000
        : arrivedAt - duration * 1000;
    const segment: Segment = {
      msn: this.#nextMsn,
      run,
      // The stream's very first segment needs none: nothing comes before it.
      discontinuity: run.segments === 0 && this.#nextMsn > 0,
      programDateTime: Math.round(programDateTime),
      parts: [],
      partsListed: true,
      duration: 0,
      complete: false,
      bytes: null,
      text: null,
    };
    this.#nextMsn++;
    run.segments++;
    this.#segments.push(segment);
    return segment;
  }

  #closePart(): void {
    const open = this.#open;
    const segment = this.#current();
    this.#open = null;
    if (!open || !segment) return;
    const part: Part = {
      gpn: this.#nextGpn++,
      index: segment.parts.length,
      duration: open.duration,
      independent: open.independent,
      bytes: open.fragments.length === 1 ? open.fragments[0] : Buffer.concat(open.fragments),
    };
    segment.parts.push(part);
    segment.duration += part.duration;
    this.#parts.set(part.gpn, part);
    for (const waiter of this.#partWaiters) {
      if (waiter.gpn !== part.gpn) continue;
      clearTimeout(waiter.timer);
      this.#partWaiters.delete(waiter);
      waiter.resolve(part.bytes);
    }
    this.#stats.parts++;
    if (part.duration > this.partTarget + EPSILON) {
      this.#stats.partsOverTarget++;
      this.emit('warning', { kind: 'part-over-target', msn: segment.msn, duration: part.duration });
    }
    // A short part is fine as a segment's last; the one before it becomes a violation only when another part follows.
    const previous = segment.parts[part.index - 1];
    if (previous && !previous.independent && previous.duration < 0.85 * this.partTarget - EPSILON) {
      this.#stats.shortParts++;
      this.emit('warning', { kind: 'part-short', msn: segment.msn, duration: previous.duration });
    }
    this.emit('part', {
      name: `part-${part.gpn}.m4s`,
      msn: segment.msn,
      index: part.index,
      duration: part.duration,
      independent: part.independent,
      byteLength: part.bytes.length,
    });
    this.#changed();
  }

  #closeSegment(): void {
    this.#closePart();
    const segment = this.#current();
    if (!segment) return;
    if (!segment.parts.length) {
      this.#segments.pop();
      this.#nextMsn--;
      segment.run.segments--;
      return;
    }
    segment.complete = true;
    // One copy of the media: the parts become views of the whole segment.
    const bytes = Buffer.concat(segment.parts.map((p) => p.bytes));
    let offset = 0;
    for (const part of segment.parts) {
      part.bytes = bytes.subarray(offset, offset + part.bytes.length);
      offset += part.bytes.length;
    }
    segment.bytes = bytes;
    this.#stats.segments++;
    this.emit('segment', {
      name: `seg-${segment.msn}.m4s`,
      msn: segment.msn,
      run: segment.run.id,
      duration: segment.duration,
      parts: segment.parts.length,
      independent: segment.parts[0].independent,
      discontinuity: segment.discontinuity,
      programDateTime: segment.programDateTime,
      byteLength: bytes.length,
    });
    this.#trim();
    this.#changed();
  }

  /** Drops what left the windows: parts beyond the part window, segments beyond the rewind window, maps no segment uses. */
  #trim(): void {
    let fromEnd = 0;
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const segment = this.#segments[i];
      fromEnd += segment.duration;
      // fromEnd: how far the segment's start is from the end of the playlist.
      if (segment.partsListed && fromEnd > this.#partWindowSeconds + EPSILON) {
        segment.partsListed = false;
        segment.text = null;
        for (const part of segment.parts) this.#parts.delete(part.gpn);
      }
    }
    let total = this.#segments.reduce((n, s) => n + s.duration, 0);
    while (this.#segments.length > 1 && total - this.#segments[0].duration >= this.#rewindSeconds) {
      const gone = this.#segments.shift()!;
      total -= gone.duration;
      if (gone.discontinuity) this.#discontinuitySequence++;
      for (const part of gone.parts) this.#parts.delete(part.gpn);
      gone.run.segments--;
    }
    // Maps no segment uses any more (and runs that ended without a segment) go too.
    for (const run of this.#runs.values()) if (run.segments === 0 && run.state === 'ended') this.#runs.delete(run.id);
  }

  // ---- Playlists -----------------------------------------------------------------------

  #changed(): void {
    this.#rendered.clear();
    for (const waiter of this.#waiters) {
      if (!this.#satisfied(waiter.request.msn!, waiter.request.part)) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(this.#render(waiter.request.skip === true));
    }
  }

  /** Segment `msn` is complete, or (with `part`) its part `part` or anything later exists. */
  #satisfied(msn: number, part: number | undefined): boolean {
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const segment = this.#segments[i];
      if (segment.msn < msn) return false;
      if (segment.msn > msn) {
        if (part !== undefined && segment.parts.length > 0) return true;
        if (segment.complete) return true;
        continue;
      }
      return segment.complete || (part !== undefined && segment.parts.length > part);
    }
    return false;
  }

  /**
   * The playlist text. Written here rather than with hls-parser's stringify(),
   * which checks each tag line against all lines before it: O(n²), ~50 ms for
   * a 10-minute window of 1 s segments, re-rendered at every part. A
   * complete segment's lines never change (but for its parts leaving the
   * window), so they are kept and joined.
   */
  #render(skip: boolean): string {
    const key = skip ? 'skip' : 'full';
    const cached = this.#rendered.get(key);
    if (cached !== undefined) return cached;
    const canSkipUntil = 6 * this.targetDuration;
    let skipped = 0;
    if (skip) {
      // Segments wholly older than CAN-SKIP-UNTIL from the playlist's end may be skipped.
      let fromEnd = this.#segments.reduce((n, s) => n + s.duration, 0);
      for (const segment of this.#segments) {
        if (!segment.complete || fromEnd - segment.duration < canSkipUntil) break;
        fromEnd -= segment.duration;
        skipped++;
      }
    }
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${canSkipUntil},HOLD-BACK=${3 * this.targetDuration},` +
        `PART-HOLD-BACK=${round3(3 * this.partTarget)}`,
      `#EXT-X-PART-INF:PART-TARGET=${this.partTarget}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.#segments[0]?.msn ?? this.#nextMsn}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.#discontinuitySequence}`,
    ];
    if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
    let map: string | undefined;
    for (const segment of this.#segments.slice(skipped)) {
      if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      // The map is restated after a skip too: a delta update must be playable from its first segment.
      if (segment.run.mapUri !== map) lines.push(`#EXT-X-MAP:URI="${(map = segment.run.mapUri)}"`);
      lines.push(segment.text ?? this.#segmentText(segment));
    }
    // The next part, for players that ask for it ahead (Safari); hls.js ignores it. None comes after the end.
    if (this.#finished) lines.push('#EXT-X-ENDLIST', '');
    else lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-${this.#nextGpn}.m4s"`, '');
    const text = lines.join('\n');
    this.#rendered.set(key, text);
    return text;
  }

  /** A segment's date, parts and (once complete) duration and URI; kept once complete. */
  #segmentText(segment: Segment): string {
    const lines = [`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.programDateTime).toISOString()}`];
    if (segment.partsListed) {
      for (const p of segment.parts) {
        lines.push(`#EXT-X-PART:DURATION=${round3(p.duration)},URI="part-${p.gpn}.m4s"${p.independent ? ',INDEPENDENT=YES' : ''}`);
      }
    }
    if (!segment.complete) return lines.join('\n');
    lines.push(`#EXTINF:${round3(segment.duration).toFixed(3)},`, `seg-${segment.msn}.m4s`);
    return (segment.text = lines.join('\n'));
  }
}
