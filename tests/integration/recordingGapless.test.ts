/**
 * The archive is the official record of the meeting: it must hold the
 * program without a hole across floor switches and a sender that returns,
 * start with the studio's first picture, and make an MP4 on the same
 * timeline. How fast the first picture comes after going on air, and how
 * long a slate takes to fill in for a sender that vanished, are speeds:
 * bench/recordingGaps.ts measures them.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeDuration, probeSegment } from '../helpers/hls.js';
import { holes, recordMeeting, startOf, type RecordedMeeting } from '../helpers/recordedMeeting.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let meeting: RecordedMeeting;

beforeAll(async () => {
  server = await startServer({ workers: 2, autoRecord: true });
  meeting = await recordMeeting(server, 'gapless');
}, 300_000);

afterAll(async () => {
  await Promise.all((meeting?.participants ?? []).map((p) => p.stop()));
  await server?.stop();
});

/** Where each program chapter starts in the archive: the segment that opens its encoder run. */
function chapterSegments() {
  let position = 0;
  const starts = new Map<number, string>();
  for (const entry of meeting.segments) {
    starts.set(Math.round(position * 1000), entry.file);
    position += entry.duration;
  }
  return meeting.chapters
    .filter((c) => c.kind === 'program')
    .map((chapter) => ({ chapter, file: starts.get(Math.round(chapter.start * 1000)) }));
}

/** One frame of a file at `seconds`, shrunk to 32×18 grey: enough to tell the test pictures apart. */
function frameAt(file: string, seconds: number, filter = ''): Buffer {
  const args = ['-v', 'error', '-ss', seconds.toFixed(3), '-i', file, '-frames:v', '1'];
  const result = spawnSync('ffmpeg', [...args, '-vf', `${filter}scale=32:18,format=gray`, '-f', 'rawvideo', '-'], { maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`no frame at ${seconds} s of ${file}: ${result.stderr.toString()}`);
  return result.stdout;
}

/** The archive's frame at `seconds` of its timeline (the sum of the listed durations), from the segment that holds it. */
function archiveFrameAt(seconds: number): Buffer {
  let start = 0;
  for (const entry of meeting.segments) {
    if (seconds < start + entry.duration) {
      const offset = (seconds - start).toFixed(3);
      return frameAt(path.join(meeting.dir, entry.file), 0, `setpts=PTS-STARTPTS,select=gte(t\\,${offset}),`);
    }
    start += entry.duration;
  }
  throw new Error(`the archive is shorter than ${seconds} s`);
}

function meanDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

describe('the archive of a meeting with floor switches, a stalled link and a sender that drops', () => {
  it('opens with the studio, from its first picture after going on air', () => {
    expect(startOf(meeting.segments[0])).toBeGreaterThanOrEqual(meeting.liveAt - 200);
    expect(chapterSegments()[0]).toMatchObject({ chapter: { identity: 'studio', start: 0 }, file: meeting.segments[0].file });
  });

  it('records each change of the program as a chapter where an encoder run starts', () => {
    const chapters = chapterSegments();
    expect(chapters.map((c) => c.chapter.identity ?? null)).toEqual(['studio', 'xa-a', 'xa-b', 'studio', null, 'studio']);
    for (const { chapter, file } of chapters) expect(file, `${chapter.title} at ${chapter.start} s`).toBeDefined();
    // One run per change and no more: the studio's 2.5 s stall did not end its run.
    expect(meeting.segments.filter((s) => s.discontinuity).map((s) => s.file)).toEqual(chapters.slice(1).map((c) => c.file));
  });

  it('loses at most half a second at a floor switch or when a sender comes back, and nothing inside a run', () => {
    // The slate that follows a vanished sender starts after it: how long that takes is a speed (the bench).
    const slate = chapterSegments().find((c) => c.chapter.identity === undefined)!.file;
    const measured = holes(meeting.segments).filter((h) => h.before.file !== slate);
    const worst = measured.reduce((a, b) => (Math.abs(b.ms) > Math.abs(a.ms) ? b : a));
    expect(Math.abs(worst.ms), `${Math.round(worst.ms)} ms before ${worst.before.file}`).toBeLessThanOrEqual(500);
  });

  it('starts every run and every segment with a keyframe, the picture copied as H.264', () => {
    const runStarts = new Set(chapterSegments().map((c) => c.file));
    // Every run's first segment, and every third of the others: ffprobe is slow on a busy machine.
    const probed = meeting.segments.filter((entry, i) => runStarts.has(entry.file) || i % 3 === 0);
    for (const entry of probed) {
      const probe = probeSegment(path.join(meeting.dir, entry.file));
      expect(probe.codecs[0], entry.file).toBe('h264');
      expect(probe.firstVideoFrameIsKey, entry.file).toBe(true);
    }
  }, 120_000);

  it('gives an MP4 as long as the archive, showing the same picture at every chapter', () => {
    const mp4 = path.join(meeting.dir, 'recording.mp4');
    const total = meeting.segments.reduce((sum, e) => sum + e.duration, 0);
    expect(Math.abs(probeDuration(mp4) - total)).toBeLessThanOrEqual(0.2);
    for (const { chapter } of chapterSegments().slice(1)) {
      const inside = chapter.start + 1;
      const before = Math.max(0, chapter.start - 1);
      // The same moment in both files shows the same picture, and not the picture before the chapter.
      expect(meanDifference(frameAt(mp4, inside), archiveFrameAt(inside)), `at ${inside} s (${chapter.title})`).toBeLessThan(8);
      expect(meanDifference(archiveFrameAt(inside), archiveFrameAt(before)), `the switch at ${chapter.start} s`).toBeGreaterThan(8);
    }
  }, 120_000);
});
