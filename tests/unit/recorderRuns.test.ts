/**
 * How the recorder cuts a session into encoder runs: what each run encodes
 * (copy, re-encode or a slate), how runs and their files are numbered and
 * picked up again after a restarted server, and which segments of a run
 * join the archive — once each, in order, a jump marked where a run starts.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseRunPlaylist } from '../../recorder/hlsRunPlaylist.js';
import type { ProgramProducer, ProgramSources } from '../../recorder/RecordedRoom.js';
import { earlierRuns, isSegmentOfRun, planRun, runFiles, runName } from '../../recorder/runPlan.js';
import type { SdpStream } from '../../recorder/sdp.js';
import { concatList, datedFrom, segmentsToArchive, type ArchiveState } from '../../recorder/segmentsToArchive.js';

// planRun only asks whether something is on air; a stand-in producer is enough.
const producer = (identity: string) => ({ appData: { identity } }) as unknown as ProgramProducer;
const onAir = (video: string | undefined, ...voices: string[]): ProgramSources => ({
  video: video ? producer(video) : undefined,
  audio: voices.map(producer),
});

const stream = (kind: 'audio' | 'video', mimeType: string, port: number): SdpStream => ({
  kind,
  port,
  rtpParameters: {
    codecs: [{ mimeType, payloadType: kind === 'audio' ? 100 : 101, clockRate: kind === 'audio' ? 48000 : 90000 }],
  },
});
const h264 = stream('video', 'video/H264', 40000);
const vp8 = stream('video', 'video/VP8', 40000);
const voice = (port: number) => stream('audio', 'audio/opus', port);

describe('planning an encoder run', () => {
  it('copies an H.264 picture as it is and counts every voice heard', () => {
    expect(planRun(onAir('studio', 'studio'), [h264, voice(40002)])).toEqual({ video: 'copy', audio: 1 });
    expect(planRun(onAir('xa-a', 'studio', 'xa-a'), [h264, voice(40002), voice(40004)])).toEqual({ video: 'copy', audio: 2 });
  });

  it('knows H.264 however its MIME type is spelled', () => {
    expect(planRun(onAir('studio'), [stream('video', 'video/h264', 40000)]).video).toBe('copy');
  });

  it('re-encodes a picture sent in another codec, such as VP8 from a browser', () => {
    expect(planRun(onAir('xa-b', 'xa-b'), [vp8, voice(40002)])).toEqual({ video: 'transcode', audio: 1 });
  });

  it('shows a slate while nobody’s picture is on air, with whatever voices are heard', () => {
    expect(planRun(onAir(undefined, 'studio'), [voice(40002)])).toEqual({ video: 'slate', audio: 1 });
    expect(planRun(onAir(undefined), [])).toEqual({ video: 'slate', audio: 0 });
  });

  it('shows a slate when the picture on air could not be taken for this run', () => {
    expect(planRun(onAir('studio', 'studio'), [voice(40002)])).toEqual({ video: 'slate', audio: 1 });
  });
});

describe('numbering runs', () => {
  it('names runs r0001, r0002, … and each run’s playlist, SDP and segments after it', () => {
    expect(runName(1)).toBe('r0001');
    expect(runName(42)).toBe('r0042');
    expect(runName(10000)).toBe('r10000');
    expect(runFiles('/data/recordings/ky-hop-7', 3)).toEqual({
      playlist: '/data/recordings/ky-hop-7/r0003.m3u8',
      sdp: '/data/recordings/ky-hop-7/r0003.sdp',
      segmentPattern: '/data/recordings/ky-hop-7/r0003-%05d.ts',
    });
  });

  it('finds the runs an earlier server left in the folder, oldest first, and nothing else', () => {
    const folder = [
      'meta.json',
      'segments.jsonl',
      'live.m3u8',
      'archive.m3u8',
      'r0002.m3u8',
      'r0002.sdp',
      'r0002-00000.ts',
      'r0001.m3u8',
      'r0001.m3u8.tmp',
      'r0001-00000.ts',
      'r0003-00000.ts.tmp',
    ];
    expect(earlierRuns(folder)).toEqual([
      { id: 1, playlist: 'r0001.m3u8' },
      { id: 2, playlist: 'r0002.m3u8' },
    ]);
    expect(earlierRuns(['meta.json'])).toEqual([]);
  });

  it('goes on past run 9999 and still finds every run after a restart, in order, so no number is used twice', () => {
    const runs = earlierRuns(['r10001.m3u8', 'r9999.m3u8', 'r10000.m3u8', 'r0007.m3u8']);
    expect(runs.map((r) => r.id)).toEqual([7, 9999, 10000, 10001]);
    // The next run after a restart is numbered after the last one.
    expect(runName(Math.max(...runs.map((r) => r.id)) + 1)).toBe('r10002');
  });

  it('tells a run’s segments from those of a run whose number starts the same', () => {
    expect(isSegmentOfRun('r1000-00004.ts', 1000)).toBe(true);
    expect(isSegmentOfRun('r10000-00004.ts', 1000)).toBe(false);
    expect(isSegmentOfRun('r0001-00000.ts', 1)).toBe(true);
    expect(isSegmentOfRun('r0010-00000.ts', 1)).toBe(false);
  });
});

/** ffmpeg's own playlist for a run, as it writes it (time in the server's zone, Asia/Ho_Chi_Minh). */
const runPlaylist = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:4.000000,
#EXT-X-PROGRAM-DATE-TIME:2031-03-02T08:00:00.040+0700
r0002-00000.ts
#EXTINF:3.960000,
#EXT-X-PROGRAM-DATE-TIME:2031-03-02T08:00:04.040+0700
r0002-00001.ts
#EXTINF:4.000000,
r0002-00002.ts
`;

describe('reading the playlist ffmpeg keeps for a run', () => {
  it('lists each finished segment with its duration and wall-clock start', () => {
    expect(parseRunPlaylist(runPlaylist)).toEqual([
      { file: 'r0002-00000.ts', duration: 4, pdt: Date.parse('2031-03-02T01:00:00.040Z') },
      { file: 'r0002-00001.ts', duration: 3.96, pdt: Date.parse('2031-03-02T01:00:04.040Z') },
      { file: 'r0002-00002.ts', duration: 4, pdt: undefined },
    ]);
  });

  it('reads nothing from a playlist ffmpeg has only begun, or from CRLF text', () => {
    expect(parseRunPlaylist('#EXTM3U\n#EXT-X-VERSION:6\n')).toEqual([]);
    expect(parseRunPlaylist('')).toEqual([]);
    expect(parseRunPlaylist('#EXTM3U\r\n#EXTINF:2.5,\r\nr0001-00000.ts\r\n')).toEqual([
      { file: 'r0001-00000.ts', duration: 2.5, pdt: undefined },
    ]);
  });

  it('keeps nothing of the playlist’s text alive through the names it returns', () => {
    // The recording keeps every segment's name while the server runs, and the run's playlist is read again
    // every half second: were the names views into its text, a long session would keep a whole text per segment.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const earlier = '#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2031-03-02T08:00:00.040+0700\nr0001-00000.ts\n'.repeat(1000);
    const kept: string[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 80; i++) {
      // A text of ~85 kB each time, as ffmpeg's playlist is half an hour into a run.
      const text = `#EXTM3U\n${earlier}#EXTINF:2.000000,\nr0001-${String(i + 1).padStart(5, '0')}.ts\n`;
      kept.push(parseRunPlaylist(text).at(-1)!.file);
    }
    gc();
    const grownMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    expect(kept.at(-1)).toBe('r0001-00080.ts');
    // Views would keep 80 texts: ~7 MB.
    expect(grownMb).toBeLessThan(2);
  });
});

describe('taking a run’s segments into the archive', () => {
  const now = Date.parse('2031-03-02T01:00:30Z');
  const listed = parseRunPlaylist(runPlaylist);
  const state = (over: Partial<ArchiveState> = {}): ArchiveState => ({
    inArchive: () => false,
    onDisk: () => true,
    runHasSegments: false,
    archiveEmpty: false,
    now,
    ...over,
  });

  it('marks the first segment of a run after earlier ones as a jump, and opens the run’s chapter there', () => {
    const taken = segmentsToArchive(listed, state());
    expect(taken.map((s) => [s.file, s.discontinuity, s.opensRun])).toEqual([
      ['r0002-00000.ts', true, true],
      ['r0002-00001.ts', false, false],
      ['r0002-00002.ts', false, false],
    ]);
  });

  it('starts a recording’s very first run without a jump', () => {
    const taken = segmentsToArchive(listed, state({ archiveEmpty: true }));
    expect(taken.map((s) => s.discontinuity)).toEqual([false, false, false]);
    expect(taken[0].opensRun).toBe(true);
  });

  it('takes each segment once: looking again adds only what ffmpeg finished since, without a new jump', () => {
    const archive = new Set(['r0002-00000.ts', 'r0002-00001.ts']);
    const taken = segmentsToArchive(listed, state({ inArchive: (f) => archive.has(f), runHasSegments: true }));
    expect(taken.map((s) => [s.file, s.discontinuity, s.opensRun])).toEqual([['r0002-00002.ts', false, false]]);
    expect(segmentsToArchive([...listed, ...listed], state()).map((s) => s.file)).toEqual(listed.map((s) => s.file));
  });

  it('continues a run a restarted server finds half taken, without marking a jump inside it', () => {
    const taken = segmentsToArchive(listed, state({ inArchive: (f) => f === 'r0002-00000.ts', runHasSegments: true }));
    expect(taken.map((s) => s.discontinuity)).toEqual([false, false]);
  });

  it('keeps ffmpeg’s wall-clock time, and takes a segment listed without one as just finished', () => {
    const taken = segmentsToArchive(listed, state());
    expect(taken[0].pdt).toBe(Date.parse('2031-03-02T01:00:00.040Z'));
    expect(taken[2].pdt).toBe(now - 4000);
  });

  it('leaves out segments that are gone from the folder and the empty one of a run stopped before its first packet', () => {
    const stoppedAtOnce = parseRunPlaylist('#EXTM3U\n#EXTINF:0.000000,\nr0003-00000.ts\n#EXTINF:4.0,\nr0003-00001.ts\n');
    const taken = segmentsToArchive(stoppedAtOnce, state());
    // The run's chapter and jump go with the first segment that has something to play.
    expect(taken.map((s) => [s.file, s.discontinuity, s.opensRun])).toEqual([['r0003-00001.ts', true, true]]);
    expect(segmentsToArchive(listed, state({ onDisk: (f) => f !== 'r0002-00001.ts' })).map((s) => s.file)).toEqual([
      'r0002-00000.ts',
      'r0002-00002.ts',
    ]);
    expect(segmentsToArchive(parseRunPlaylist('#EXTINF:nan,\nr0004-00000.ts\n'), state())).toEqual([]);
  });
});

describe('dating a run and laying the archive end to end', () => {
  const listed = [
    { file: 'r0002-00000.ts', duration: 1.6, pdt: 1_000_900 },
    { file: 'r0002-00001.ts', duration: 2.0, pdt: 1_002_500 },
    { file: 'r0002-00002.ts', duration: 2.04, pdt: 1_004_500 },
  ];

  it('dates a run from its first picture, each segment right after the one before', () => {
    expect(datedFrom(1_000_000, listed).map((s) => s.pdt)).toEqual([1_000_000, 1_001_600, 1_003_600]);
    // The files and durations are ffmpeg's, untouched.
    expect(datedFrom(1_000_000, listed).map((s) => [s.file, s.duration])).toEqual(listed.map((s) => [s.file, s.duration]));
  });

  it('lists every segment for the concat reader with the duration the archive gives it, in order', () => {
    expect(concatList(listed)).toBe(
      [
        'ffconcat version 1.0',
        "file 'r0002-00000.ts'",
        'duration 1.600000',
        "file 'r0002-00001.ts'",
        'duration 2.000000',
        "file 'r0002-00002.ts'",
        'duration 2.040000',
        '',
      ].join('\n'),
    );
  });

  it('quotes a name with an apostrophe so that it cannot end the entry', () => {
    expect(concatList([{ file: "a'b.ts", duration: 1 }])).toContain("file 'a'\\''b.ts'");
  });
});
