/**
 * Reading an encoder's FLV tags: codec, profile and size of the picture,
 * frame rate, keyframe interval, bitrate, B-frames; when enough was seen to
 * start; whether the picture is copied or transcoded; ffmpeg's arguments.
 */
import { describe, expect, it } from 'vitest';
import { feedFfmpegArgs } from '../../sfu/ingest/feedFfmpegArgs.js';
import {
  FeedMeter,
  flvAudio,
  flvVideo,
  h264ProfileName,
  picturePath,
  probeVerdict,
  readAudioTag,
  readAvcConfig,
  readVideoTag,
  type FlvTag,
} from '../../sfu/ingest/feedInspector.js';
import { FlvFormatError, FlvWatcher } from '../../sfu/ingest/FlvWatcher.js';
import { Flv } from '../../sfu/ingest/rtmp/library.js';

/** SPS of x264 for 640×360: `-preset ultrafast` (Constrained Baseline) and `-preset medium` (High). */
const baselineSps = Buffer.from('6742c01eda0280bfe5c044000003000400000300c83c58ba80', 'hex');
const highSps = Buffer.from('6764001eacd940a02ff97011000003000100000300320f162d96', 'hex');
const pps = Buffer.from('68ce3c80', 'hex');

function avcConfig(sps: Buffer): Buffer {
  const spsLength = Buffer.alloc(2);
  spsLength.writeUInt16BE(sps.length);
  const ppsLength = Buffer.alloc(2);
  ppsLength.writeUInt16BE(pps.length);
  return Buffer.concat([Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1]), spsLength, sps, Buffer.from([1]), ppsLength, pps]);
}

function cts24(cts: number): Buffer {
  const bytes = Buffer.alloc(3);
  bytes.writeUIntBE(cts < 0 ? cts + 0x1000000 : cts, 0, 3);
  return bytes;
}

const sequenceHeader = (sps = baselineSps, timestamp = 0): FlvTag => ({
  type: flvVideo,
  timestamp,
  payload: Buffer.concat([Buffer.from([0x17, 0x00]), cts24(0), avcConfig(sps)]),
});

const frame = (timestamp: number, options: { keyframe?: boolean; cts?: number; bytes?: number } = {}): FlvTag => ({
  type: flvVideo,
  timestamp,
  payload: Buffer.concat([
    Buffer.from([options.keyframe ? 0x17 : 0x27, 0x01]),
    cts24(options.cts ?? 0),
    Buffer.alloc(options.bytes ?? 100),
  ]),
});

const aac = (timestamp: number, header = false): FlvTag => ({
  type: flvAudio,
  timestamp,
  payload: Buffer.from([0xaf, header ? 0x00 : 0x01, 0x12, 0x10]),
});

/** `seconds` of 25 fps pictures, a keyframe every `gop` frames, arriving in real time from `start` ms. */
function feed(meter: FeedMeter, seconds: number, options: { gop?: number; bytes?: number; start?: number } = {}): number {
  const start = options.start ?? 0;
  meter.add(sequenceHeader(), start);
  meter.add(aac(0, true), start);
  const frames = seconds * 25;
  for (let n = 0; n < frames; n++) {
    meter.add(frame(n * 40, { keyframe: n % (options.gop ?? 25) === 0, bytes: options.bytes }), start + n * 40);
    meter.add(aac(n * 40), start + n * 40);
  }
  return start + (frames - 1) * 40;
}

describe('FLV tag headers', () => {
  it('reads an H.264 picture: keyframe, sequence header, signed composition offset', () => {
    expect(readVideoTag(frame(0, { keyframe: true, cts: 80 }).payload)).toMatchObject({
      codec: 'h264',
      keyframe: true,
      sequenceHeader: false,
      cts: 80,
    });
    expect(readVideoTag(frame(0, { cts: -40 }).payload)).toMatchObject({ keyframe: false, cts: -40 });
    expect(readVideoTag(sequenceHeader().payload)).toMatchObject({ codec: 'h264', sequenceHeader: true, keyframe: false, cts: 0 });
    expect(readVideoTag(Buffer.from([0x17, 0x01]))).toBeNull();
    expect(readVideoTag(Buffer.alloc(0))).toBeNull();
  });

  it('names other picture codecs, legacy and Enhanced RTMP', () => {
    expect(readVideoTag(Buffer.from([0x14, 0, 0]))).toMatchObject({ codec: 'vp6', keyframe: true });
    expect(readVideoTag(Buffer.from([0x90, ...Buffer.from('hvc1')]))).toMatchObject({ codec: 'hevc', sequenceHeader: true });
    expect(readVideoTag(Buffer.from([0x91, ...Buffer.from('av01'), 0, 0, 0]))).toMatchObject({ codec: 'av1', keyframe: true });
    expect(readVideoTag(Buffer.from([0x1f]))?.codec).toBe('codec-15');
  });

  it('reads the sound codec', () => {
    expect(readAudioTag(aac(0, true).payload)).toEqual({ codec: 'aac', sequenceHeader: true });
    expect(readAudioTag(aac(0).payload)).toEqual({ codec: 'aac', sequenceHeader: false });
    expect(readAudioTag(Buffer.from([0x2f, 0xff]))).toEqual({ codec: 'mp3', sequenceHeader: false });
    expect(readAudioTag(Buffer.from([0x90, ...Buffer.from('Opus')]))).toEqual({ codec: 'opus', sequenceHeader: true });
    expect(readAudioTag(Buffer.alloc(0))).toBeNull();
  });

  it('reads profile, level and size from the AVC configuration', () => {
    expect(readAvcConfig(avcConfig(baselineSps))).toMatchObject({
      profileIdc: 66,
      profile: 'Constrained Baseline',
      levelIdc: 30,
      width: 640,
      height: 360,
    });
    expect(readAvcConfig(avcConfig(highSps))).toMatchObject({ profileIdc: 100, profile: 'High', width: 640, height: 360 });
    expect(readAvcConfig(Buffer.from([1, 66, 0xc0, 30, 0xff, 0xe1, 0x40, 0x00, 0x67]))).toMatchObject({ width: null, height: null });
    expect(readAvcConfig(Buffer.from([0, 1, 2]))).toBeNull();
    expect(h264ProfileName(66, 0)).toBe('Baseline');
    expect(h264ProfileName(77, 0)).toBe('Main');
    expect(h264ProfileName(110, 0)).toBe('High 10');
  });
});

describe('FeedMeter', () => {
  it('measures frame rate, keyframe interval, bitrate and size', () => {
    const meter = new FeedMeter({ windowMs: 5000 });
    const now = feed(meter, 4, { gop: 50, bytes: 4985 });
    const stats = meter.stats(now);
    expect(stats).toMatchObject({
      videoCodec: 'h264',
      profile: 'Constrained Baseline',
      width: 640,
      height: 360,
      audioCodec: 'aac',
      bFrames: false,
    });
    expect(stats.fps).toBe(25);
    expect(stats.keyframeIntervalSeconds).toBe(2);
    // 25 pictures of 5000 bytes a second (with their 15 bytes of tag) and a little sound, over the 3.96 s seen.
    expect(stats.bitrateKbps).toBeGreaterThan(1000);
    expect(stats.bitrateKbps).toBeLessThan(1030);
  });

  it('measures bitrate over the last window only', () => {
    const meter = new FeedMeter({ windowMs: 2000 });
    const end = feed(meter, 4, { bytes: 4985 });
    expect(meter.stats(end).bitrateKbps).toBeGreaterThan(990);
    expect(meter.stats(end + 1000).bitrateKbps).toBeLessThan(600);
    // Ten seconds later with nothing new: nothing in the window.
    expect(meter.stats(end + 10_000).bitrateKbps).toBe(0);
  });

  it('finds B-frames: a picture shown before one decoded earlier', () => {
    const meter = new FeedMeter();
    meter.add(sequenceHeader(highSps), 0);
    // Decode order I P B B: presented at 0, 120, 40, 80 (ms).
    meter.add(frame(0, { keyframe: true, cts: 40 }), 0);
    meter.add(frame(40, { cts: 120 }), 40);
    expect(meter.bFrames).toBe(false);
    meter.add(frame(80, { cts: 0 }), 80);
    expect(meter.bFrames).toBe(true);
    expect(meter.stats(80).profile).toBe('High');
  });

  it('does not take a constant composition offset for B-frames', () => {
    const meter = new FeedMeter();
    meter.add(sequenceHeader(), 0);
    for (let n = 0; n < 50; n++) meter.add(frame(n * 40, { keyframe: n === 0, cts: 80 }), n * 40);
    expect(meter.bFrames).toBe(false);
    expect(meter.framesSinceFirstKeyframe).toBe(50);
  });

  it('starts measuring again when the encoder restarts its clock', () => {
    const meter = new FeedMeter();
    for (let n = 0; n < 25; n++) meter.add(frame(100_000 + n * 40, { keyframe: n === 0 }), n * 40);
    for (let n = 0; n < 10; n++) meter.add(frame(n * 33, { keyframe: n === 0 }), 1000 + n * 33);
    expect(meter.bFrames).toBe(false);
    expect(meter.stats(1330).fps).toBeCloseTo(30.3, 1);
  });
});

describe('when a feed may start, and how its picture goes', () => {
  const limits = { frames: 12, maxBytes: 1_000_000, maxMs: 5000 };

  it('waits for the sequence header, a keyframe and enough pictures after it', () => {
    const meter = new FeedMeter();
    const seen = { bytes: 1000, elapsedMs: 100 };
    expect(probeVerdict(meter, seen, limits)).toBe('wait');
    meter.add(frame(0, { keyframe: true }), 0);
    for (let n = 1; n < 20; n++) meter.add(frame(n * 40), n * 40);
    expect(probeVerdict(meter, seen, limits)).toBe('wait'); // no sequence header yet
    meter.add(sequenceHeader(), 800);
    expect(probeVerdict(meter, seen, limits)).toBe('ready');
  });

  it('starts a picture it cannot inspect further once it has a keyframe', () => {
    const meter = new FeedMeter();
    meter.add({ type: flvVideo, timestamp: 0, payload: Buffer.from([0x24, 0, 0]) }, 0);
    expect(probeVerdict(meter, { bytes: 10, elapsedMs: 10 }, limits)).toBe('wait');
    meter.add({ type: flvVideo, timestamp: 40, payload: Buffer.from([0x14, 0, 0]) }, 40);
    expect(probeVerdict(meter, { bytes: 10, elapsedMs: 10 }, limits)).toBe('ready');
  });

  it('gives up without a picture at its bounds, and starts with what it has otherwise', () => {
    const meter = new FeedMeter();
    meter.add(aac(0, true), 0);
    expect(probeVerdict(meter, { bytes: 10, elapsedMs: 5000 }, limits)).toBe('give-up');
    expect(probeVerdict(meter, { bytes: 1_000_000, elapsedMs: 10 }, limits)).toBe('give-up');
    meter.add(sequenceHeader(), 0);
    expect(probeVerdict(meter, { bytes: 10, elapsedMs: 5000 }, limits)).toBe('ready');
  });

  it('copies H.264 that browsers decode, without B-frames; transcodes the rest', () => {
    const copied = new FeedMeter();
    feed(copied, 1);
    expect(picturePath(copied, limits)).toEqual({ copy: true, reason: 'H.264 Constrained Baseline without B-frames' });

    const reordered = new FeedMeter();
    reordered.add(sequenceHeader(highSps), 0);
    [0, 120, 40, 80].forEach((pts, n) => reordered.add(frame(n * 40, { keyframe: n === 0, cts: pts - n * 40 }), n * 40));
    for (let n = 4; n < 20; n++) reordered.add(frame(n * 40, { cts: 80 }), n * 40);
    expect(picturePath(reordered, limits)).toMatchObject({ copy: false, reason: 'the picture has B-frames' });

    const tenBit = new FeedMeter();
    tenBit.add(sequenceHeader(Buffer.from([0x67, 110, 0, 30, 0xac, 0xd9, 0x40, 0xa0])), 0);
    expect(picturePath(tenBit, limits)).toMatchObject({ copy: false, reason: 'H.264 High 10' });

    const vp6 = new FeedMeter();
    vp6.add({ type: flvVideo, timestamp: 0, payload: Buffer.from([0x14, 0, 0]) }, 0);
    expect(picturePath(vp6, limits).copy).toBe(false);

    const short = new FeedMeter();
    short.add(sequenceHeader(), 0);
    short.add(frame(0, { keyframe: true }), 0);
    expect(picturePath(short, limits)).toMatchObject({ copy: false, reason: 'too few frames seen to rule out B-frames' });
  });
});

describe('feedFfmpegArgs', () => {
  const video = { ip: '127.0.0.1', port: 40000 };
  const audio = { ip: '127.0.0.1', port: 40002 };

  it('copies the picture with its SPS and PPS in band, and makes the sound Opus', () => {
    const args = feedFfmpegArgs({ copyVideo: true, video, audio }).join(' ');
    expect(args).toContain('-f flv -i pipe:0');
    expect(args).toContain('-map 0:v:0 -c:v copy -bsf:v h264_mp4toannexb');
    expect(args).toContain('rtp://127.0.0.1:40000?pkt_size=1200');
    expect(args).toContain('-map 0:a:0 -c:a libopus -b:a 128k -ar 48000 -ac 2');
    expect(args).toContain('rtp://127.0.0.1:40002?pkt_size=1200');
  });

  it('transcodes to Constrained Baseline without B-frames, a keyframe every 2 s; no sound output without sound', () => {
    const args = feedFfmpegArgs({ copyVideo: false, video, audio: null }).join(' ');
    expect(args).toContain('-c:v libx264');
    expect(args).toContain('-tune zerolatency');
    expect(args).toContain('-profile:v baseline');
    expect(args).toContain('-bf 0');
    expect(args).toContain('-force_key_frames expr:gte(t,n_forced*2)');
    expect(args).not.toContain('0:a');
  });
});

describe('FlvWatcher', () => {
  it('measures an FLV stream however it is cut', () => {
    const tags = [sequenceHeader(), aac(0, true)];
    for (let n = 0; n < 50; n++) tags.push(frame(n * 40, { keyframe: n % 25 === 0 }), aac(n * 40));
    const bytes = Buffer.concat([
      Flv.createHeader(true, true),
      ...tags.map((tag) => Flv.createMessage({ codec_type: tag.type, dts: tag.timestamp, size: tag.payload.length, data: tag.payload })),
    ]);
    const watcher = new FlvWatcher();
    for (let offset = 0; offset < bytes.length; offset += 7) watcher.write(bytes.subarray(offset, offset + 7), 0);
    expect(watcher.meter.stats(2000)).toMatchObject({
      videoCodec: 'h264',
      width: 640,
      height: 360,
      fps: 25,
      keyframeIntervalSeconds: 1,
      audioCodec: 'aac',
    });
  });

  it('refuses what is not FLV, and a tag too large to hold', () => {
    expect(() => new FlvWatcher().write(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(FlvFormatError);
    const watcher = new FlvWatcher();
    // A tag header announcing 16 MiB of video.
    expect(() =>
      watcher.write(Buffer.concat([Flv.createHeader(true, true), Buffer.from([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])])),
    ).toThrow(FlvFormatError);
  });
});
