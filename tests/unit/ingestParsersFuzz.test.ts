/**
 * The ingest's parsers of what an encoder (or a process reading it) sends,
 * fed what a hostile encoder would send: random and cut H.264 SPSs and VP8
 * headers, RTP with lying lengths, srt-live-transmit statistics that are not
 * statistics, ebur128 lines with no number. None may throw, take long or
 * report a picture no encoder sends. Random input comes from a seeded
 * generator, so that a failure replays.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { audioLevelFloorDb, AudioLevelMeter } from '../../sfu/ingest/audioLevel.js';
import { maxPictureSide } from '../../sfu/ingest/rtmp/h264SpsBounds.js';
import { parseH264Sps } from '../../sfu/ingest/rtmp/library.js';
import { StderrLines } from '../../sfu/ingest/srt/ffmpegStderr.js';
import { parseSrtStatsReport, SrtLinkMeter } from '../../sfu/ingest/srt/SrtLinkMeter.js';
import { seededRng } from '../helpers/signalingFuzz.js';
import { h264SizeOf, PictureMeter, rtpPayload, vp8SizeOf, type PictureSize } from '../../sfu/ingest/whip/rtpPicture.js';

function bytes(next: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** An SPS NAL unit (header 0x67) from a string of bits after profile, constraints and level. */
function spsFromBits(profile: number, bits: string): Buffer {
  let padded = bits + '1'; // rbsp_stop_one_bit
  while (padded.length % 8) padded += '0';
  const body: number[] = [];
  for (let i = 0; i < padded.length; i += 8) body.push(parseInt(padded.slice(i, i + 8), 2));
  return Buffer.from([0x67, profile, 0, 30, ...body]);
}

/** ue(v) of a value, in bits. */
function ue(value: number): string {
  const code = (value + 1).toString(2);
  return '0'.repeat(code.length - 1) + code;
}

const sps1080High = Buffer.from('67640028acd940780227e5c044000003000400000300f03c60c658', 'hex');
const sps360Baseline = Buffer.from('6742c01ed900a02ff970110000030001000003003c0f162e48', 'hex');

function expectPlausible(size: PictureSize | null): void {
  if (size === null) return;
  expect(Number.isInteger(size.width) && Number.isInteger(size.height)).toBe(true);
  expect(size.width).toBeGreaterThan(0);
  expect(size.height).toBeGreaterThan(0);
  expect(size.width).toBeLessThanOrEqual(maxPictureSide);
  expect(size.height).toBeLessThanOrEqual(maxPictureSide);
}

describe('H.264 SPS from a hostile encoder', () => {
  it('still reads the SPSs real encoders send', () => {
    expect(parseH264Sps(sps1080High)).toEqual({ width: 1920, height: 1080 });
    expect(parseH264Sps(sps360Baseline)).toEqual({ width: 640, height: 360 });
  });

  it('answers at once for an SPS whose picture-order cycle claims 2^30 entries (it held the event loop for minutes)', () => {
    // Baseline: sps id 0, log2_max_frame_num 0, pic_order_cnt_type 1, a flag, two se(v), then the cycle count.
    const hostile = spsFromBits(66, ue(0) + ue(0) + ue(1) + '0' + ue(0) + ue(0) + ue(2 ** 30) + ue(0).repeat(8));
    const started = performance.now();
    expect(parseH264Sps(hostile)).toBeNull();
    expect(h264SizeOf(hostile)).toBeNull();
    expect(performance.now() - started).toBeLessThan(200);
    // The largest count the standard allows is still read.
    const lawful = spsFromBits(
      66,
      ue(0) + ue(0) + ue(1) + '0' + ue(0) + ue(0) + ue(255) + ue(0).repeat(255) + ue(1) + '0' + ue(79) + ue(44) + '1' + '1' + '0' + '0',
    );
    expect(parseH264Sps(lawful)).toEqual({ width: 1280, height: 720 });
  });

  it('reports no picture wider or taller than any encoder sends, nor one of no pixels', () => {
    const sized = (widthMbs: number, heightMbs: number) =>
      spsFromBits(66, ue(0) + ue(0) + ue(2) + ue(1) + '0' + ue(widthMbs - 1) + ue(heightMbs - 1) + '1' + '1' + '0');
    expect(parseH264Sps(sized(80, 45))).toEqual({ width: 1280, height: 720 });
    expect(parseH264Sps(sized(6250, 45))).toBeNull(); // 100 000 pixels wide
    expect(parseH264Sps(sized(80, 2 ** 20))).toBeNull();
    // Cropping more than the picture: 0 or fewer pixels.
    const cropped = spsFromBits(66, ue(0) + ue(0) + ue(2) + ue(1) + '0' + ue(0) + ue(0) + '1' + '1' + '1' + ue(8) + ue(8) + ue(0) + ue(0));
    expect(parseH264Sps(cropped)).toBeNull();
  });

  it('survives random and cut SPSs, plain and in STAP-A, in bounded time', () => {
    const next = seededRng(0x5eed);
    const started = performance.now();
    for (let i = 0; i < 5000; i++) {
      const kind = i % 3;
      let sps: Buffer;
      if (kind === 0) sps = Buffer.concat([Buffer.from([0x67]), bytes(next, 1 + Math.floor(next() * 40))]);
      else if (kind === 1) sps = sps1080High.subarray(0, Math.floor(next() * sps1080High.length));
      else {
        // A real SPS with a few bits flipped.
        sps = Buffer.from(next() < 0.5 ? sps1080High : sps360Baseline);
        for (let f = 0; f < 3; f++) sps[1 + Math.floor(next() * (sps.length - 1))] ^= 1 << Math.floor(next() * 8);
      }
      expectPlausible(h264SizeOf(sps));
      const stap = Buffer.concat([Buffer.from([24, sps.length >> 8, sps.length & 0xff]), sps]);
      expectPlausible(h264SizeOf(stap));
      // A STAP-A whose sizes lie.
      expectPlausible(h264SizeOf(Buffer.concat([Buffer.from([24, 0xff, 0xff]), sps])));
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('VP8 and RTP from a hostile encoder', () => {
  it('survives random and cut VP8 payloads and RTP packets', () => {
    const next = seededRng(0xb8);
    const keyframe = Buffer.from('1001029d012a0005d002000708858588', 'hex');
    for (let i = 0; i < 5000; i++) {
      const vp8 = i % 2 ? bytes(next, Math.floor(next() * 24)) : keyframe.subarray(0, Math.floor(next() * (keyframe.length + 1)));
      expectPlausible(vp8SizeOf(vp8));
      const packet = bytes(next, Math.floor(next() * 64));
      if (packet.length) packet[0] = (packet[0] & 0x3f) | 0x80; // version 2, the rest random: CSRCs, extension, padding
      const rtp = rtpPayload(packet);
      if (rtp) {
        expect(rtp.payload.length).toBeGreaterThanOrEqual(0);
        expect(rtp.payload.length).toBeLessThanOrEqual(packet.length - 12);
      }
    }
    // The largest size VP8 can say is 16383 × 16383; 0 × 0 is no picture.
    const zero = Buffer.from('1001029d012a0000000000000000', 'hex');
    expect(vp8SizeOf(zero)).toBeNull();
  });

  it('keeps the picture meter bounded whatever the timestamps and payloads', () => {
    const next = seededRng(7);
    for (const codec of ['h264', 'vp8'] as const) {
      const meter = new PictureMeter(codec);
      for (let i = 0; i < 3000; i++) {
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header.writeUInt32BE(Math.floor(next() * 2 ** 32), 4);
        meter.packet(Buffer.concat([header, bytes(next, 1 + Math.floor(next() * 30))]), i);
        const fps = meter.fps(i);
        if (fps !== null) expect(fps > 0 && fps <= 240).toBe(true);
      }
      expectPlausible(meter.size);
      // Timestamps one tick apart: 90 000 frames a second is no frame rate.
      const fast = new PictureMeter(codec);
      for (let i = 0; i < 20; i++) {
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header.writeUInt32BE(i, 4);
        fast.packet(Buffer.concat([header, Buffer.from([0x10])]), i);
      }
      expect(fast.fps(20)).toBeNull();
    }
  });
});

describe('srt-live-transmit statistics that are not statistics', () => {
  const good = {
    link: { rtt: 1 },
    recv: {
      packets: 10,
      packetsUnique: 10,
      packetsLost: 0,
      packetsDropped: 0,
      packetsRetransmitted: 0,
      msBuf: 1,
      mbitRate: 1,
      msTsbPdDelay: 120,
    },
  };

  it('refuses negative, astronomical and mistyped readings, and lines that are not JSON', () => {
    expect(parseSrtStatsReport(JSON.stringify(good))).not.toBeNull();
    for (const recv of [{ packetsLost: -5 }, { packets: 1e308 }, { mbitRate: '4' }, { msBuf: null }]) {
      expect(parseSrtStatsReport(JSON.stringify({ ...good, recv: { ...good.recv, ...recv } }))).toBeNull();
    }
    for (const line of [
      '{',
      '{"link":',
      '[]',
      '{}',
      'null',
      '{"link":{"rtt":1e999},"recv":{}}',
      '{'.repeat(100_000),
      'x'.repeat(1_000_000),
    ]) {
      expect(parseSrtStatsReport(line)).toBeNull();
    }
  });

  it('reads a statistics pipe that sends one endless line in bounded pieces, and the reports after it', async () => {
    const pipe = new PassThrough();
    const lines: string[] = [];
    const reader = new StderrLines(pipe, (line) => lines.push(line), 4096);
    for (let i = 0; i < 160; i++) pipe.write('{"link":' + 'x'.repeat(64 * 1024));
    pipe.write('\n' + JSON.stringify(good) + '\n');
    pipe.end();
    pipe.destroy();
    await reader.done;
    expect(lines).toHaveLength(2);
    expect(lines[0].length).toBeLessThanOrEqual(4096);
    expect(parseSrtStatsReport(lines[0])).toBeNull();
    expect(parseSrtStatsReport(lines[1])).not.toBeNull();
  });

  it('never shows a loss below 0 % or above 100 %, nor a counter JSON cannot carry', () => {
    const meter = new SrtLinkMeter();
    const hostile = [
      { packetsUnique: 0, packetsLost: 2 ** 50 },
      { packetsUnique: 2 ** 52, packetsLost: 0, packets: 2 ** 52 },
    ];
    let now = 1000;
    for (let i = 0; i < 200; i++) {
      const report = parseSrtStatsReport(JSON.stringify({ ...good, recv: { ...good.recv, ...hostile[i % 2] } }));
      if (report) meter.add(report, (now += 10));
    }
    const stats = meter.stats(now)!;
    expect(stats.lossPercent).toBeGreaterThanOrEqual(0);
    expect(stats.lossPercent).toBeLessThanOrEqual(100);
    for (const value of Object.values(stats)) expect(Number.isFinite(value)).toBe(true);
  });
});

describe('ebur128 lines that are not levels', () => {
  /** A second of frames, each with the given loudness text, then the level the meter reads. */
  function levelOf(text: string): number | null {
    const meter = new AudioLevelMeter();
    for (let i = 0; i <= 12; i++) {
      meter.line(`frame:${i} pts:${i * 4800} pts_time:${i / 10}`, 0);
      meter.line(`lavfi.r128.M=${text}`, 0);
    }
    return meter.level(0);
  }

  it('reads silence as the floor and ignores what is no number (an empty value is not full scale)', () => {
    expect(levelOf('-inf')).toBe(audioLevelFloorDb);
    expect(levelOf('-20.000000')).toBe(-20);
    for (const junk of ['', ' ', 'nan', 'NaN', 'inf', 'Infinity', '+inf', '0x10', '1e', '--3', '-20 dB']) expect(levelOf(junk)).toBeNull();
  });

  it('bounds any level to the meter, whatever the number', () => {
    for (const text of ['1e308', '-1e308', '99999', '-99999', '0.0000001']) {
      const level = levelOf(text);
      expect(level).not.toBeNull();
      expect(level!).toBeGreaterThanOrEqual(audioLevelFloorDb);
      expect(level!).toBeLessThanOrEqual(0);
    }
  });

  it('survives huge and random lines quickly', () => {
    const meter = new AudioLevelMeter();
    const next = seededRng(3);
    const started = performance.now();
    meter.line('frame:' + '9'.repeat(1_000_000), 0);
    meter.line('frame:1 pts:1 pts_time:' + '1.'.repeat(500_000), 0);
    meter.line('lavfi.r128.M=' + '-'.repeat(1_000_000), 0);
    for (let i = 0; i < 2000; i++) meter.line(bytes(next, Math.floor(next() * 80)).toString('latin1'), i);
    expect(performance.now() - started).toBeLessThan(3000);
    const level = meter.level(2000);
    if (level !== null) expect(level).toBeGreaterThanOrEqual(audioLevelFloorDb);
  });
});
