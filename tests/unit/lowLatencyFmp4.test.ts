import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fmp4Error, Fmp4Reader, type Fmp4Item, type Fragment, type InitSegment } from '../../recorder/lowLatency/fmp4.js';

/** Three seconds as a real encoder run writes them: H.264 (a keyframe a second) and AAC, fragmented MP4 on a pipe. */
function encode(): Buffer {
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '3', '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k',
    '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '200000', '-flush_packets', '1', 'pipe:1',
  ];
  const out = spawnSync('ffmpeg', args, { maxBuffer: 64 << 20 });
  if (out.status !== 0) throw new Error(`ffmpeg failed: ${out.stderr.toString()}`);
  return out.stdout;
}

/** A seeded generator: the random splits and corruptions are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function readAll(bytes: Buffer, chunkSize: (i: number) => number, reader = new Fmp4Reader()): Fmp4Item[] {
  const items: Fmp4Item[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, chunkSize(i));
    items.push(...reader.push(bytes.subarray(at, at + n)));
    at += n;
  }
  return items;
}

const box = (type: string, payload: Buffer | number[] = []) => {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
};

function expectFmp4Error(action: () => unknown, code: Fmp4Error['code']): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(Fmp4Error);
  expect((caught as Fmp4Error).code).toBe(code);
}

describe('Fmp4Reader on ffmpeg output', () => {
  let bytes: Buffer;
  let init: InitSegment;
  let fragments: Fragment[];

  beforeAll(() => {
    bytes = encode();
    const items = readAll(bytes, () => bytes.length);
    init = (items.find((i) => i.type === 'init') as { init: InitSegment }).init;
    fragments = items.flatMap((i) => (i.type === 'fragment' ? [i.fragment] : []));
  });

  it('reads the tracks of the init segment', () => {
    expect(init.bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    const [video, audio] = init.tracks;
    expect(video).toMatchObject({ handler: 'vide', codec: 'avc1', width: 320, height: 240 });
    expect(audio).toMatchObject({ handler: 'soun', codec: 'mp4a', timescale: 48000 });
    expect(video.timescale).toBeGreaterThan(0);
  });

  it('reads each fragment: decode times that follow on, ~200 ms of picture, a keyframe a second', () => {
    const video = init.tracks[0];
    expect(fragments.length).toBeGreaterThanOrEqual(14);
    for (const track of init.tracks) {
      let expected = 0;
      for (const fragment of fragments) {
        const t = fragment.tracks.find((x) => x.id === track.id);
        if (!t) continue;
        expect(t.decodeTime).toBe(expected);
        expected += t.duration;
      }
      expect(expected / track.timescale).toBeCloseTo(3, 0);
    }
    const keyframes = fragments.map((f) => f.tracks.find((t) => t.id === video.id)!.startsWithSync);
    expect(keyframes.flatMap((k, i) => (k ? [i] : []))).toEqual([0, 5, 10]);
    for (const fragment of fragments.slice(1, -1)) {
      expect(fragment.tracks.find((t) => t.id === video.id)!.duration / video.timescale).toBeCloseTo(0.2, 3);
    }
    // Sound is all sync samples.
    for (const fragment of fragments) expect(fragment.tracks.find((t) => t.id !== video.id)!.startsWithSync).toBe(true);
    expect(fragments.map((f) => f.sequence)).toEqual(fragments.map((_, i) => i + 1));
  });

  it('gives the same result whatever the chunking, one byte at a time included', () => {
    const whole = readAll(bytes, () => bytes.length);
    const next = random(7);
    const reader = new Fmp4Reader();
    expect(readAll(bytes, () => Math.floor(next() * 3000), reader)).toEqual(whole);
    expect(reader.bufferedBytes).toBe(0);
    const prefix = bytes.subarray(0, 40_000);
    expect(readAll(prefix, () => 1)).toEqual(readAll(prefix, () => prefix.length));
  });

  it('keeps the bytes as written: init + fragments are the stream without its trailing index', () => {
    const joined = Buffer.concat([init.bytes, ...fragments.map((f) => f.bytes)]);
    // ffmpeg ends the stream with an mfra box (an index for files): the one box left out.
    const mfraAt = bytes.lastIndexOf(Buffer.from('mfra')) - 4;
    expect(Buffer.compare(joined, bytes.subarray(0, mfraAt))).toBe(0);
  });

  it('survives random corruption with an Fmp4Error or a result, never another error or a big buffer', () => {
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const copy = Buffer.from(bytes.subarray(0, 60_000));
      for (let k = 0; k < 1 + Math.floor(next() * 8); k++) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
      const reader = new Fmp4Reader({ maxMdatBytes: 1 << 20, maxHeaderBoxBytes: 1 << 16, maxSkippedBoxBytes: 1 << 20 });
      try {
        readAll(copy, () => 1 + Math.floor(next() * 5000), reader);
      } catch (error) {
        expect(error).toBeInstanceOf(Fmp4Error);
      }
      expect(reader.bufferedBytes).toBeLessThanOrEqual(1 << 20);
    }
  });
});

describe('Fmp4Reader on hostile bytes', () => {
  const ftyp = box('ftyp', Buffer.from('isom\0\0\x02\0isomiso2', 'latin1'));

  it('refuses a box claiming more than its bound before holding its bytes', () => {
    const reader = new Fmp4Reader({ maxMdatBytes: 1 << 20 });
    const head = Buffer.alloc(8);
    head.writeUInt32BE(0xffffff00, 0);
    head.write('mdat', 4, 'latin1');
    expectFmp4Error(() => reader.push(head), 'box-too-large');
    expect(reader.bufferedBytes).toBe(0);
    // It stays failed: a run's stream cannot be resynchronised.
    expectFmp4Error(() => reader.push(ftyp), 'box-too-large');
  });

  it('refuses 64-bit sizes beyond the bound, sizes below a header, and sizes to the end of the stream', () => {
    const large = Buffer.alloc(16);
    large.writeUInt32BE(1, 0);
    large.write('moov', 4, 'latin1');
    large.writeBigUInt64BE(2n ** 62n, 8);
    expectFmp4Error(() => new Fmp4Reader().push(large), 'box-too-large');
    const tiny = Buffer.from([0, 0, 0, 4, 0x6d, 0x6f, 0x6f, 0x76]);
    expectFmp4Error(() => new Fmp4Reader().push(tiny), 'box-size-invalid');
    const toEnd = Buffer.from([0, 0, 0, 0, 0x6d, 0x64, 0x61, 0x74]);
    expectFmp4Error(() => new Fmp4Reader().push(toEnd), 'box-size-invalid');
    expectFmp4Error(() => new Fmp4Reader().push(Buffer.from([0, 0, 0, 16, 0, 1, 2, 3])), 'malformed-box');
  });

  it('refuses boxes out of order', () => {
    expectFmp4Error(() => new Fmp4Reader().push(box('mdat', [1, 2, 3])), 'unexpected-box');
    expectFmp4Error(() => new Fmp4Reader().push(box('moof')), 'unexpected-box');
    expectFmp4Error(() => new Fmp4Reader().push(box('moov')), 'unexpected-box');
  });

  it('refuses a moov whose children do not fit it, or without a track', () => {
    const badChild = Buffer.concat([ftyp, box('moov', Buffer.from([0, 0, 1, 0, 0x74, 0x72, 0x61, 0x6b]))]);
    expectFmp4Error(() => new Fmp4Reader().push(badChild), 'malformed-box');
    expectFmp4Error(() => new Fmp4Reader().push(Buffer.concat([ftyp, box('moov', box('mvhd', Buffer.alloc(100)))])), 'malformed-box');
  });

  it('refuses a trun whose sample count overruns its box', () => {
    const bytes = encode();
    const items = readAll(bytes, () => bytes.length);
    const init = (items[0] as { init: InitSegment }).init;
    const first = (items[1] as { fragment: Fragment }).fragment.bytes;
    const moof = Buffer.from(first);
    const trun = moof.indexOf('trun', 0, 'latin1');
    moof.writeUInt32BE(0x7fffffff, trun + 8); // sample_count
    expectFmp4Error(() => new Fmp4Reader().push(Buffer.concat([init.bytes, moof])), 'malformed-box');
  });

  it('drops unneeded boxes as they stream by, however large (within the bound)', () => {
    const reader = new Fmp4Reader({ maxSkippedBoxBytes: 32 << 20 });
    const head = Buffer.alloc(8);
    head.writeUInt32BE(20 << 20, 0);
    head.write('free', 4, 'latin1');
    reader.push(head);
    const chunk = Buffer.alloc(64 << 10);
    for (let sent = 8; sent < 20 << 20; sent += chunk.length) {
      expect(reader.push(chunk.subarray(0, Math.min(chunk.length, (20 << 20) - sent)))).toEqual([]);
      expect(reader.bufferedBytes).toBe(0);
    }
    expect(reader.push(ftyp)).toEqual([]);
    expect(reader.bufferedBytes).toBe(0);
    const over = Buffer.from(head);
    over.writeUInt32BE(40 << 20, 0);
    expectFmp4Error(() => new Fmp4Reader({ maxSkippedBoxBytes: 32 << 20 }).push(over), 'box-too-large');
  });
});
