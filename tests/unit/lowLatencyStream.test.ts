import { parse, setOptions, types } from 'hls-parser';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LowLatencyClosedError, LowLatencyRequestError } from '../../recorder/lowLatency/errors.js';
import type { Fragment, InitSegment } from '../../recorder/lowLatency/fmp4.js';
import { LowLatencyStream, type LowLatencyStreamOptions } from '../../recorder/lowLatency/LowLatencyStream.js';
import { parsePlaylistRequest } from '../../recorder/lowLatency/playlistRequest.js';

const VIDEO_TIMESCALE = 90000;

function initSegment(width = 640): InitSegment {
  const track = { codec: 'avc1', defaultSampleDuration: 0, defaultSampleFlags: 0 };
  return {
    bytes: Buffer.from(`init ${width}`),
    tracks: [
      { ...track, id: 1, handler: 'vide', timescale: VIDEO_TIMESCALE, width, height: 360 },
      { ...track, id: 2, handler: 'soun', timescale: 48000, codec: 'mp4a', width: 0, height: 0 },
    ],
  };
}

/** Makes the fragments of one run as ffmpeg would: media time rising, a keyframe where asked. */
class Run {
  time = 0;
  sequence = 0;
  readonly id: number;

  constructor(
    readonly stream: LowLatencyStream,
    width = 640,
    startedAt?: () => number | undefined,
  ) {
    this.id = stream.beginRun(initSegment(width), startedAt);
  }

  push(seconds: number, keyframe: boolean): Fragment {
    const fragment: Fragment = {
      bytes: Buffer.alloc(100, this.sequence & 0xff),
      sequence: ++this.sequence,
      tracks: [
        {
          id: 1,
          decodeTime: Math.round(this.time * VIDEO_TIMESCALE),
          duration: Math.round(seconds * VIDEO_TIMESCALE),
          sampleCount: 5,
          startsWithSync: keyframe,
        },
        { id: 2, decodeTime: Math.round(this.time * 48000), duration: Math.round(seconds * 48000), sampleCount: 10, startsWithSync: true },
      ],
    };
    this.time += seconds;
    this.stream.push(this.id, fragment);
    return fragment;
  }

  /** `seconds` of 200 ms fragments with a keyframe every `gop` seconds. */
  play(seconds: number, gop = 1): void {
    for (let i = 0; i < Math.round(seconds / 0.2); i++) this.push(0.2, Math.round(this.time * 1000) % Math.round(gop * 1000) === 0);
  }
}

// hls-parser's reader warns when parts span more than three segments (it takes a segment for a target
// duration); the rule is three target durations, and these tests check it themselves.
beforeAll(() => setOptions({ silent: true }));

const streams: LowLatencyStream[] = [];
function newStream(options: Partial<LowLatencyStreamOptions> = {}): LowLatencyStream {
  const stream = new LowLatencyStream({ rewindSeconds: 60, ...options });
  streams.push(stream);
  return stream;
}

afterEach(() => {
  for (const s of streams.splice(0)) s.close();
});

async function parsed(stream: LowLatencyStream, request = {}): Promise<types.MediaPlaylist> {
  return parse(await stream.playlist(request)) as types.MediaPlaylist;
}

describe('LowLatencyStream: parts and segments', () => {
  it('dates a run from when its first picture reached the recorder, not from when ffmpeg wrote it out', async () => {
    // ffmpeg probes its input before writing anything: the first fragment comes off the pipe late.
    const firstPicture = Date.now() - 900;
    const stream = newStream();
    new Run(stream, 640, () => firstPicture).play(3);
    const playlist = await parsed(stream);
    expect(playlist.segments[0].programDateTime?.getTime()).toBe(firstPicture);
    expect(playlist.segments[1].programDateTime?.getTime()).toBe(firstPicture + 1000);
    // Unknown to the recorder (a slate): dated by the first fragment's arrival, less its length.
    const before = Date.now();
    const slate = newStream();
    new Run(slate, 640, () => undefined).play(1);
    const dated = (await parsed(slate)).segments[0].programDateTime!.getTime();
    expect(dated).toBeGreaterThanOrEqual(before - 200);
    expect(dated).toBeLessThanOrEqual(Date.now() - 200);
  });

  it('200 ms fragments, a keyframe a second: one fragment a part, 1 s segments led by an independent part', async () => {
    const stream = newStream();
    new Run(stream).play(5);
    const text = await stream.playlist();
    expect(text).toContain('#EXT-X-VERSION:9');
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.235');
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,HOLD-BACK=6,PART-HOLD-BACK=0.705');
    expect(text).toContain('#EXT-X-MAP:URI="init-1.mp4"');
    const playlist = parse(text) as types.MediaPlaylist;
    const complete = playlist.segments.filter((s) => s.uri);
    expect(complete.length).toBe(4);
    for (const segment of complete) {
      expect(segment.duration).toBeCloseTo(1, 3);
      expect(segment.programDateTime).toBeInstanceOf(Date);
      expect(segment.parts.map((p) => p.independent === true)).toEqual([true, false, false, false, false]);
      for (const part of segment.parts) expect(part.duration).toBeLessThanOrEqual(0.235);
    }
    // The segment being made lists its parts, then the hint of the next.
    expect(text.trim().split('\n').slice(-1)[0]).toMatch(/^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-25\.m4s"$/);
    expect(stream.stats).toMatchObject({ parts: 25, segments: 4, partsOverTarget: 0, shortParts: 0 });
  });

  it('groups one-frame fragments into parts ≤ PART-TARGET and ≥ 85 % of it but for a segment’s last', async () => {
    const stream = newStream({ partTarget: 0.333 });
    const run = new Run(stream);
    for (let frame = 0; frame < 150; frame++) run.push(1 / 30, frame % 30 === 0);
    const playlist = await parsed(stream);
    const segments = playlist.segments.filter((s) => s.uri);
    expect(segments.length).toBe(4);
    for (const segment of segments) {
      segment.parts.forEach((part, i) => {
        expect(part.duration).toBeLessThanOrEqual(0.333);
        if (i < segment.parts.length - 1) expect(part.duration).toBeGreaterThanOrEqual(0.85 * 0.333);
      });
      expect(segment.parts[0].independent).toBe(true);
    }
    expect(stream.stats.partsOverTarget + stream.stats.shortParts).toBe(0);
  });

  it('ends a segment at a keyframe that follows a short part: a short part may only be a segment’s last', async () => {
    const stream = newStream({ segmentTarget: 2, targetDuration: 3 });
    const run = new Run(stream);
    run.play(0.4, 10);
    run.push(0.08, false); // cut short by the keyframe after it
    run.push(0.2, true);
    run.play(0.4, 10);
    const playlist = await parsed(stream);
    expect(playlist.segments[0].parts.map((p) => p.duration)).toEqual([0.2, 0.2, 0.08]);
    expect(playlist.segments[1].parts[0].independent).toBe(true);
    expect(stream.stats.shortParts).toBe(0);
  });

  it('cuts a segment at TARGETDURATION when no keyframe comes, and says so', async () => {
    const stream = newStream({ segmentTarget: 1, targetDuration: 2 });
    const warnings: string[] = [];
    stream.on('warning', (w) => warnings.push(w.kind));
    new Run(stream).play(5, 100);
    const playlist = await parsed(stream);
    for (const segment of playlist.segments.filter((s) => s.uri)) expect(Math.round(segment.duration)).toBeLessThanOrEqual(2);
    expect(warnings).toContain('segment-without-keyframe');
  });

  it('drops what a run sends before its first keyframe', async () => {
    const stream = newStream();
    const run = new Run(stream);
    run.push(0.2, false);
    run.push(0.2, false);
    run.push(0.2, true);
    run.play(1);
    expect(stream.stats.droppedFragments).toBe(2);
    const playlist = await parsed(stream);
    expect(playlist.segments[0].parts[0].independent).toBe(true);
  });

  it('a new run takes over at its first keyframe, with a discontinuity and its own map; the old run’s tail is dropped', async () => {
    const stream = newStream();
    const first = new Run(stream, 640);
    first.play(2);
    const second = new Run(stream, 1280);
    second.push(0.2, false);
    first.play(1); // make before break: the old run still writes
    second.push(0.2, true);
    first.play(0.4);
    second.play(1.8);
    stream.endRun(first.id);
    stream.endRun(second.id);
    const text = await stream.playlist();
    expect(text).toMatch(
      /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:.*\n#EXT-X-PART:DURATION=0\.2,URI="part-\d+\.m4s",INDEPENDENT=YES/,
    );
    const playlist = parse(text) as types.MediaPlaylist;
    expect(playlist.segments.filter((s) => s.discontinuity).length).toBe(1);
    expect(playlist.segments.reduce((n, s) => n + (s.duration ?? 0), 0)).toBeCloseTo(3 + 2, 3);
    expect(stream.file('init-2.mp4')?.toString()).toBe('init 1280');
    expect(stream.stats.droppedFragments).toBe(1 + 2);
  });
});

describe('LowLatencyStream: blocking reload, delta updates, limits', () => {
  it('holds a request until its part exists, then answers with it', async () => {
    const stream = newStream();
    const run = new Run(stream);
    run.play(1.4);
    const before = await parsed(stream);
    const last = before.segments[before.segments.length - 1];
    const msn = last.mediaSequenceNumber;
    const part = last.parts.filter((p) => !p.hint).length;
    let answered = false;
    const pending = stream.playlist({ msn, part }).then((text) => ((answered = true), text));
    await Promise.resolve();
    expect(answered).toBe(false);
    expect(stream.stats.waiting).toBe(1);
    run.push(0.2, false);
    const text = await pending;
    const after = parse(text) as types.MediaPlaylist;
    expect(after.segments[after.segments.length - 1].parts.filter((p) => !p.hint).length).toBe(part + 1);
    expect(stream.stats.waiting).toBe(0);
    // A part already there: at once. With _HLS_msn alone: once that segment is complete.
    await expect(stream.playlist({ msn, part: 0 })).resolves.toContain('#EXTM3U');
    const whole = stream.playlist({ msn });
    run.play(0.4);
    run.push(0.2, true);
    const complete = parse(await whole) as types.MediaPlaylist;
    expect(complete.segments.find((s) => s.mediaSequenceNumber === msn)?.uri).toBe(`seg-${msn}.m4s`);
  });

  it('refuses at once what is too far ahead (400)', async () => {
    const stream = newStream();
    new Run(stream).play(2.2);
    const last = (await parsed(stream)).segments.at(-1)!.mediaSequenceNumber;
    await expect(stream.playlist({ msn: last + 3 })).rejects.toMatchObject({
      name: 'LowLatencyRequestError',
      code: 'msn-too-far',
      httpStatus: 400,
    });
    await expect(stream.playlist({ msn: last, part: 40 })).rejects.toBeInstanceOf(LowLatencyRequestError);
    await expect(stream.playlist({ part: 1 })).rejects.toMatchObject({ code: 'part-without-msn' });
  });

  it('answers with what exists after the longest wait', async () => {
    const stream = newStream({ maxWaitMs: 30 });
    new Run(stream).play(1);
    const text = await stream.playlist({ msn: 2 });
    expect(text).not.toContain('seg-2.m4s');
  });

  it('holds at most maxWaiting requests; beyond, answers at once', async () => {
    const stream = newStream({ maxWaiting: 2 });
    const run = new Run(stream);
    run.play(1);
    const held = [stream.playlist({ msn: 2 }), stream.playlist({ msn: 2 })];
    await expect(stream.playlist({ msn: 2 })).resolves.toContain('#EXTM3U');
    expect(stream.stats).toMatchObject({ waiting: 2, waitsRefused: 1 });
    run.play(2.2);
    await Promise.all(held);
  });

  it('close() releases the waiting requests and the media', async () => {
    const stream = newStream();
    new Run(stream).play(1);
    const held = stream.playlist({ msn: 2 });
    stream.close();
    await expect(held).rejects.toBeInstanceOf(LowLatencyClosedError);
    await expect(stream.playlist()).rejects.toBeInstanceOf(LowLatencyClosedError);
    expect(stream.file('seg-0.m4s')).toBeUndefined();
    expect(stream.stats.bytesHeld).toBe(0);
  });

  it('finish() ends the playlist for every player: ENDLIST, no hint, nothing held', async () => {
    const stream = newStream();
    new Run(stream).play(1.4);
    const held = stream.playlist({ msn: 2 });
    stream.finish();
    const text = await held;
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('PRELOAD-HINT');
    // What was made stays playable, and a request for what will never come is answered at once.
    expect(stream.file('seg-0.m4s')).toBeDefined();
    await expect(stream.playlist({ msn: 3 })).resolves.toContain('#EXT-X-ENDLIST');
    expect(stream.stats.waiting).toBe(0);
  });

  it('a delta update skips the segments older than CAN-SKIP-UNTIL', async () => {
    const stream = newStream({ rewindSeconds: 600 });
    new Run(stream).play(30.2);
    const full = await stream.playlist();
    const delta = await stream.playlist({ skip: true });
    expect(full).not.toContain('EXT-X-SKIP');
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)?.[1]);
    expect(skipped).toBe(30 - 12);
    // The first segment listed after the skip carries its map and its date.
    const body = delta.split('#EXT-X-SKIP')[1];
    expect(body).toMatch(/^:SKIPPED-SEGMENTS=18\n#EXT-X-MAP:URI="init-1\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:/);
    expect(body).toContain('seg-18.m4s');
    expect(body).not.toContain('seg-17.m4s');
  });
});

describe('LowLatencyStream: what is kept, and its names', () => {
  it('lists and serves parts only for the last target durations, whole segments for the rewind window', async () => {
    const stream = newStream({ rewindSeconds: 20 });
    const old = new Run(stream, 640);
    old.play(10);
    stream.endRun(old.id);
    const run = new Run(stream, 320);
    run.play(30.2);
    const playlist = await parsed(stream);
    const complete = playlist.segments.filter((s) => s.uri);
    expect(complete.reduce((n, s) => n + s.duration, 0)).toBeCloseTo(20, 3);
    const withParts = complete.filter((s) => s.parts.length);
    expect(withParts.length).toBeGreaterThanOrEqual(5);
    expect(withParts.length).toBeLessThanOrEqual(7);
    const oldest = complete[0];
    expect(stream.file(oldest.uri)?.length).toBe(500);
    expect(stream.file(`seg-${oldest.mediaSequenceNumber - 1}.m4s`)).toBeUndefined();
    expect(stream.file('part-0.m4s')).toBeUndefined();
    const newest = withParts.at(-1)!;
    const joined = Buffer.concat(newest.parts.map((p) => stream.file(p.uri)!));
    expect(Buffer.compare(joined, stream.file(newest.uri)!)).toBe(0);
    // The first run left the window: its map and its discontinuity are gone.
    expect(stream.file('init-1.mp4')).toBeUndefined();
    expect(stream.file('init-2.mp4')).toBeDefined();
    expect(playlist.discontinuitySequenceBase).toBe(1);
    // 20 s of 100-byte fragments: the media held is the rewind window and the segment being made.
    expect(stream.stats.bytesHeld).toBe(101 * 100);
  });

  it('holds a request for the hinted part until it exists', async () => {
    const stream = newStream({ maxWaiting: 2 });
    const run = new Run(stream);
    run.play(0.4);
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(await stream.playlist())![1];
    expect(stream.file(hint)).toBeUndefined();
    const held = stream.fileWhenReady(hint);
    const twoAhead = await stream.fileWhenReady(hint.replace(/\d+/, (n) => String(Number(n) + 1)));
    expect(twoAhead).toBeUndefined();
    expect(stream.stats.waiting).toBe(1);
    const fragment = run.push(0.2, false);
    expect(await held).toEqual(fragment.bytes);
    const lost = stream.fileWhenReady(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(await stream.playlist())![1]);
    stream.close();
    expect(await lost).toBeUndefined();
  });

  it('knows only its own names', () => {
    const stream = newStream();
    new Run(stream).play(2.2);
    expect(stream.file('seg-0.m4s')).toBeDefined();
    expect(stream.file('part-0.m4s')).toBeDefined();
    for (const name of ['seg-00.m4s', '../seg-0.m4s', 'seg-0.m4s?x', 'part-0.mp4', 'init-01.mp4', 'seg-2.m4s', 'seg-1e3.m4s', '']) {
      expect(stream.file(name)).toBeUndefined();
    }
  });
});

describe('parsePlaylistRequest', () => {
  it('reads _HLS_msn, _HLS_part and _HLS_skip strictly', () => {
    expect(parsePlaylistRequest({})).toEqual({ msn: undefined, part: undefined, skip: false });
    expect(parsePlaylistRequest({ _HLS_msn: '12', _HLS_part: '3', _HLS_skip: 'YES' })).toEqual({ msn: 12, part: 3, skip: true });
    for (const query of [
      { _HLS_msn: '-1' },
      { _HLS_msn: '1.5' },
      { _HLS_msn: ['1', '2'] },
      { _HLS_msn: '01' },
      { _HLS_part: '1' },
      { _HLS_skip: 'yes' },
    ]) {
      expect(() => parsePlaylistRequest(query)).toThrow(LowLatencyRequestError);
    }
  });
});
