import fs from 'node:fs';
import path from 'node:path';
import type { Chapter, RecordingMeta, RecordingStatus } from '../protocol/index.js';
import { writeFileAtomic } from './atomicWrite.js';

export interface SegmentEntry {
  seq: number;
  file: string;
  duration: number;
  /** Wall-clock time of the segment's first frame (ms since epoch). */
  pdt: number;
  /** The first segment after a restart of the encoder (switch, crash, resume). */
  discontinuity: boolean;
}

export type ChapterEntry = Chapter;
export type { RecordingMeta, RecordingStatus };

export const playlistNames = { live: 'live.m3u8', archive: 'archive.m3u8' } as const;

/**
 * What a recording holds, kept on disk as it grows: every finished segment
 * is appended to `segments.jsonl` before the playlists are rewritten, so a
 * crash at any moment loses no segment that was written.
 */
export class RecordingJournal {
  readonly segments: SegmentEntry[] = [];
  readonly chapters: ChapterEntry[] = [];
  meta: RecordingMeta;

  private constructor(
    readonly dir: string,
    meta: RecordingMeta,
  ) {
    this.meta = meta;
  }

  /** Opens the recording in `dir`, continuing it if it exists. */
  static open(dir: string, init: Omit<RecordingMeta, 'status' | 'duration' | 'startedAt'>): RecordingJournal {
    fs.mkdirSync(dir, { recursive: true });
    const existing = readJson<RecordingMeta>(path.join(dir, 'meta.json'));
    const journal = new RecordingJournal(dir, existing ?? { ...init, status: 'recording', startedAt: Date.now(), duration: 0 });
    for (const line of readLines(path.join(dir, 'segments.jsonl'))) journal.segments.push(line as SegmentEntry);
    for (const line of readLines(path.join(dir, 'chapters.jsonl'))) journal.chapters.push(line as ChapterEntry);
    journal.meta.duration = journal.duration;
    return journal;
  }

  get duration(): number {
    return this.segments.reduce((sum, s) => sum + s.duration, 0);
  }

  get nextSeq(): number {
    return this.segments.length ? this.segments[this.segments.length - 1].seq + 1 : 0;
  }

  has(file: string): boolean {
    return this.segments.some((s) => s.file === file);
  }

  addSegment(entry: Omit<SegmentEntry, 'seq'>): SegmentEntry {
    const segment = { seq: this.nextSeq, ...entry };
    appendLine(path.join(this.dir, 'segments.jsonl'), segment);
    this.segments.push(segment);
    this.meta.duration = this.duration;
    return segment;
  }

  addChapter(chapter: ChapterEntry): void {
    const last = this.chapters[this.chapters.length - 1];
    if (last && last.title === chapter.title && last.kind === chapter.kind) return;
    appendLine(path.join(this.dir, 'chapters.jsonl'), chapter);
    this.chapters.push(chapter);
  }

  setMeta(patch: Partial<RecordingMeta>): void {
    this.meta = { ...this.meta, ...patch, duration: this.duration };
    writeFileAtomic(path.join(this.dir, 'meta.json'), JSON.stringify(this.meta, null, 2));
  }

  /**
   * Rewrites the live playlist (the last `windowSeconds`, for rewinding a
   * live session) and the archive playlist (everything; VOD once final).
   */
  writePlaylists(windowSeconds: number, final: boolean): void {
    let window: SegmentEntry[] = [];
    let seconds = 0;
    for (let i = this.segments.length - 1; i >= 0 && seconds < windowSeconds; i--) {
      window.unshift(this.segments[i]);
      seconds += this.segments[i].duration;
    }
    if (!window.length) window = [];
    writeFileAtomic(path.join(this.dir, playlistNames.live), this.#playlist(window, final ? 'end' : 'live'));
    writeFileAtomic(path.join(this.dir, playlistNames.archive), this.#playlist(this.segments, final ? 'vod' : 'event'));
    writeFileAtomic(path.join(this.dir, 'chapters.json'), JSON.stringify(this.chapters, null, 2));
    this.setMeta({});
  }

  #playlist(segments: SegmentEntry[], type: 'live' | 'end' | 'event' | 'vod'): string {
    // The spec asks for each duration rounded to the nearest second; a target
    // that is too large makes players stay further behind live.
    const target = Math.max(1, ...this.segments.map((s) => Math.round(s.duration)));
    const first = segments[0];
    // Each segment keeps its discontinuity number as the live window slides
    // (RFC 8216 6.2.2): the window's first segment gets no tag of its own, so
    // a discontinuity there counts in the sequence with those before it.
    const discontinuitiesBefore = first ? this.segments.filter((s) => s.seq <= first.seq && s.discontinuity).length : 0;
    const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`];
    if (type === 'event') lines.push('#EXT-X-PLAYLIST-TYPE:EVENT');
    if (type === 'vod') lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? 0}`);
    lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitiesBefore}`);
    lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
    segments.forEach((s, i) => {
      if (s.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdt).toISOString()}`);
      lines.push(`#EXTINF:${s.duration.toFixed(3)},`);
      lines.push(s.file);
    });
    if (type === 'end' || type === 'vod') lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Reads a JSON-lines file. A last line torn by a crash is cut off the file:
 * left there, the next entry appended would continue it and be unreadable
 * at the following start. (The torn segment itself is taken again from the
 * encoder's own playlist.)
 */
function readLines(file: string): unknown[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return [];
  }
  const whole = bytes.lastIndexOf(0x0a) + 1;
  if (whole < bytes.length) fs.truncateSync(file, whole);
  const out: unknown[] = [];
  for (const line of bytes.subarray(0, whole).toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a damaged line within the file: its segment, too, is recovered from the encoder's playlist
    }
  }
  return out;
}

function appendLine(file: string, value: unknown): void {
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, JSON.stringify(value) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
