/**
 * The recording journal: what a session's recording holds, kept on disk as
 * it grows, so that a crash or a restarted server loses no written segment
 * and the archive goes on where it stopped; and the live and archive
 * playlists viewers play, written from it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordingJournal, type SegmentEntry } from '../../recorder/RecordingJournal.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-journal-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const open = () => RecordingJournal.open(dir, { sessionId: 'ky-hop-7', title: 'Kỳ họp thứ 7', public: true });
const t0 = Date.parse('2031-03-02T08:00:00+07:00');

/** Segment n of a run, as the recorder journals it: 4 s each, back to back on the wall clock. */
function segment(run: number, n: number, at: number, over: Partial<Omit<SegmentEntry, 'seq'>> = {}): Omit<SegmentEntry, 'seq'> {
  return { file: `r${String(run).padStart(4, '0')}-${String(n).padStart(5, '0')}.ts`, duration: 4, pdt: at, discontinuity: false, ...over };
}

/** Two runs: three segments of r0001, then two of r0002 (after a floor switch). */
function twoRuns(journal: RecordingJournal): void {
  for (let n = 0; n < 3; n++) journal.addSegment(segment(1, n, t0 + n * 4000));
  journal.addSegment(segment(2, 0, t0 + 12_500, { discontinuity: true }));
  journal.addSegment(segment(2, 1, t0 + 16_500));
}

/** A playlist as a player reads it: its tags, and each segment with its discontinuity sequence number. */
function play(file: string) {
  const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
  const tag = (name: string) => lines.find((l) => l.startsWith(`#${name}:`))?.slice(name.length + 2);
  let discontinuity = Number(tag('EXT-X-DISCONTINUITY-SEQUENCE') ?? 0);
  let sequence = Number(tag('EXT-X-MEDIA-SEQUENCE') ?? 0);
  let duration = 0;
  let pdt = '';
  const segments: { file: string; seq: number; discontinuity: number; duration: number; pdt: string }[] = [];
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') discontinuity++;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length);
    else if (line && !line.startsWith('#')) segments.push({ file: line, seq: sequence++, discontinuity, duration, pdt });
  }
  return { lines, tag, segments, ended: lines.includes('#EXT-X-ENDLIST') };
}

describe('the journal of a recording', () => {
  it('opens an empty folder as a new recording without writing anything yet, so a session never recorded leaves no archive', () => {
    const journal = open();
    expect(journal.segments).toEqual([]);
    expect(journal.duration).toBe(0);
    expect(journal.meta).toMatchObject({ sessionId: 'ky-hop-7', title: 'Kỳ họp thứ 7', status: 'recording', duration: 0 });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('numbers segments from 0 in the order they are written and adds up their duration', () => {
    const journal = open();
    twoRuns(journal);
    expect(journal.segments.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(journal.nextSeq).toBe(5);
    expect(journal.duration).toBe(20);
    expect(journal.meta.duration).toBe(20);
    expect(journal.has('r0002-00000.ts')).toBe(true);
    expect(journal.has('r0002-00002.ts')).toBe(false);
  });

  it('reads back every segment, chapter and the meta after a restart, and numbering and the clock go on from there', () => {
    const first = open();
    first.setMeta({ status: 'recording' });
    twoRuns(first);
    first.addChapter({ start: 0, title: 'Studio', kind: 'program', identity: 'studio' });
    first.addChapter({ start: 12, title: 'Xã A', kind: 'program', identity: 'xa-a' });

    const again = open();
    expect(again.segments).toEqual(first.segments);
    expect(again.chapters).toEqual(first.chapters);
    expect(again.meta.startedAt).toBe(first.meta.startedAt);
    // The next encoder run's timestamps start where the archive ends: no gap, no overlap.
    expect(again.duration).toBe(20);
    expect(again.addSegment(segment(3, 0, t0 + 21_000, { discontinuity: true })).seq).toBe(5);
    expect(open().segments.map((s) => s.file)).toEqual([...first.segments.map((s) => s.file), 'r0003-00000.ts']);
  });

  it('skips a segment line torn by a crash, and the segments written after it survive the next restart', () => {
    const first = open();
    twoRuns(first);
    // The server died halfway through appending the sixth line.
    fs.appendFileSync(path.join(dir, 'segments.jsonl'), '{"seq":5,"file":"r0002-000');

    const afterCrash = open();
    expect(afterCrash.segments.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4]);
    // The torn segment is taken again from the encoder's own playlist, then the recording goes on.
    afterCrash.addSegment(segment(2, 2, t0 + 20_500));
    afterCrash.addSegment(segment(3, 0, t0 + 25_000, { discontinuity: true }));

    const afterRestart = open();
    expect(afterRestart.segments.map((s) => s.file)).toEqual([
      'r0001-00000.ts',
      'r0001-00001.ts',
      'r0001-00002.ts',
      'r0002-00000.ts',
      'r0002-00001.ts',
      'r0002-00002.ts',
      'r0003-00000.ts',
    ]);
    expect(afterRestart.segments.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('skips a chapter line torn by a crash, and the chapters written after it survive the next restart', () => {
    const first = open();
    first.addChapter({ start: 0, title: 'Studio', kind: 'program', identity: 'studio' });
    fs.appendFileSync(path.join(dir, 'chapters.jsonl'), '{"start":12,"title":"X');

    const afterCrash = open();
    expect(afterCrash.chapters.map((c) => c.title)).toEqual(['Studio']);
    afterCrash.addChapter({ start: 30, title: 'Báo cáo tình hình', kind: 'agenda' });
    expect(open().chapters.map((c) => c.title)).toEqual(['Studio', 'Báo cáo tình hình']);
  });

  it('does not repeat a chapter when the same speaker is on air again after an encoder restart', () => {
    const journal = open();
    journal.addChapter({ start: 0, title: 'Studio', kind: 'program', identity: 'studio' });
    journal.addChapter({ start: 8, title: 'Studio', kind: 'program', identity: 'studio' });
    // An agenda item named like the speaker is another kind of chapter.
    journal.addChapter({ start: 8, title: 'Studio', kind: 'agenda' });
    journal.addChapter({ start: 16, title: 'Xã A', kind: 'program', identity: 'xa-a' });
    journal.addChapter({ start: 24, title: 'Studio', kind: 'program', identity: 'studio' });
    expect(journal.chapters.map((c) => `${c.kind} ${c.title} ${c.start}`)).toEqual([
      'program Studio 0',
      'agenda Studio 8',
      'program Xã A 16',
      'program Studio 24',
    ]);
    expect(open().chapters).toHaveLength(4);
  });
});

describe('the playlists written from the journal', () => {
  it('lists the whole recording in the archive as an event while recording, and as VOD with an end once final', () => {
    const journal = open();
    twoRuns(journal);
    journal.writePlaylists(60, false);
    let archive = play('archive.m3u8');
    expect(archive.tag('EXT-X-PLAYLIST-TYPE')).toBe('EVENT');
    expect(archive.tag('EXT-X-MEDIA-SEQUENCE')).toBe('0');
    expect(archive.segments.map((s) => s.file)).toEqual(journal.segments.map((s) => s.file));
    expect(archive.ended).toBe(false);

    journal.writePlaylists(60, true);
    archive = play('archive.m3u8');
    expect(archive.tag('EXT-X-PLAYLIST-TYPE')).toBe('VOD');
    expect(archive.ended).toBe(true);
    expect(archive.lines.filter((l) => l === '#EXT-X-ENDLIST')).toHaveLength(1);
    // The live playlist ends too, so live viewers' players stop instead of waiting.
    const live = play('live.m3u8');
    expect(live.ended).toBe(true);
    expect(live.tag('EXT-X-PLAYLIST-TYPE')).toBeUndefined();
  });

  it('marks where the encoder restarted, never before the first segment, with each segment’s wall-clock time', () => {
    const journal = open();
    twoRuns(journal);
    journal.writePlaylists(60, false);
    const archive = play('archive.m3u8');
    expect(archive.lines.filter((l) => l === '#EXT-X-DISCONTINUITY')).toHaveLength(1);
    expect(archive.segments.map((s) => s.discontinuity)).toEqual([0, 0, 0, 1, 1]);
    expect(archive.segments[3].pdt).toBe('2031-03-02T01:00:12.500Z');
    expect(archive.segments.map((s) => s.duration)).toEqual([4, 4, 4, 4, 4]);
    expect(archive.lines).toContain('#EXTINF:4.000,');
    expect(archive.lines).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
  });

  it('keeps only the last minutes in the live playlist, numbered as in the archive', () => {
    const journal = open();
    twoRuns(journal);
    journal.writePlaylists(8, false);
    const live = play('live.m3u8');
    expect(live.segments.map((s) => `${s.seq} ${s.file}`)).toEqual(['3 r0002-00000.ts', '4 r0002-00001.ts']);
    expect(live.tag('EXT-X-PLAYLIST-TYPE')).toBeUndefined();
    expect(live.ended).toBe(false);
    // A window just over two segments takes a third rather than fall short.
    journal.writePlaylists(9, false);
    expect(play('live.m3u8').segments.map((s) => s.seq)).toEqual([2, 3, 4]);
  });

  it('keeps each segment’s discontinuity number as the live window slides past an encoder restart', () => {
    const journal = open();
    twoRuns(journal);
    const numbers = new Map<string, number>();
    // A player reloads the live playlist after every segment: the window slides one segment each time.
    for (const window of [20, 12, 8, 4]) {
      journal.writePlaylists(window, false);
      for (const s of play('live.m3u8').segments) {
        const seen = numbers.get(s.file);
        if (seen !== undefined) expect(s.discontinuity, `${s.file} in a ${window} s window`).toBe(seen);
        numbers.set(s.file, s.discontinuity);
      }
    }
    expect(numbers.get('r0002-00001.ts')).toBe(1);
  });

  it('states one target duration in both playlists: the longest segment, rounded', () => {
    const journal = open();
    journal.addSegment(segment(1, 0, t0, { duration: 4.48 }));
    journal.addSegment(segment(1, 1, t0 + 4480, { duration: 5.5 }));
    journal.addSegment(segment(1, 2, t0 + 9980, { duration: 2.1 }));
    journal.writePlaylists(2, false);
    expect(play('live.m3u8').segments).toHaveLength(1);
    expect(play('live.m3u8').tag('EXT-X-TARGETDURATION')).toBe('6');
    expect(play('archive.m3u8').tag('EXT-X-TARGETDURATION')).toBe('6');
  });

  it('writes playlists for a recording with no segment yet, which players can load and wait on', () => {
    const journal = open();
    journal.writePlaylists(60, false);
    const live = play('live.m3u8');
    expect(live.segments).toEqual([]);
    expect(live.tag('EXT-X-TARGETDURATION')).toBe('1');
    expect(live.tag('EXT-X-MEDIA-SEQUENCE')).toBe('0');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))).toMatchObject({ duration: 0 });
  });
});
