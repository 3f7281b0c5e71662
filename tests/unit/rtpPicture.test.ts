/**
 * A WHIP picture's size and frame rate read from its RTP: SPSs and a VP8
 * keyframe as x264 and libvpx wrote them (1080p High with cropping and an
 * emulation-prevention byte; 360p Baseline; 720p VP8), packetised as WebRTC
 * encoders send them.
 */
import { describe, expect, it } from 'vitest';
import { h264SizeOf, h264SpsOf, PictureMeter, rtpPayload, vp8SizeOf } from '../../sfu/ingest/whip/rtpPicture.js';

const sps1080High = Buffer.from('67640028acd940780227e5c044000003000400000300f03c60c658', 'hex');
const sps360Baseline = Buffer.from('6742c01ed900a02ff970110000030001000003003c0f162e48', 'hex');
const pps = Buffer.from('68cb83cb20', 'hex');
/** libvpx's 1280×720 keyframe: frame tag, start code, width and height. */
const vp8Keyframe720 = Buffer.from('1001029d012a0005d002000708858588', 'hex');

/** An RTP packet: version 2, the given timestamp, optionally a one-byte header extension and padding. */
function rtp(timestamp: number, payload: Buffer, { extension = false, padding = 0 } = {}): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80 | (extension ? 0x10 : 0) | (padding ? 0x20 : 0);
  header[1] = 102;
  header.writeUInt16BE(1, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(0x1234, 8);
  const ext = extension ? Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]) : Buffer.alloc(0);
  const pad = padding ? Buffer.concat([Buffer.alloc(padding - 1), Buffer.from([padding])]) : Buffer.alloc(0);
  return Buffer.concat([header, ext, payload, pad]);
}

function stapA(...nals: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([24])];
  for (const nal of nals) {
    const size = Buffer.alloc(2);
    size.writeUInt16BE(nal.length);
    parts.push(size, nal);
  }
  return Buffer.concat(parts);
}

describe('rtpPayload', () => {
  it('skips the header extension and the padding, and refuses what is not RTP', () => {
    const packet = rtp(90_000, sps360Baseline, { extension: true, padding: 4 });
    expect(rtpPayload(packet)).toEqual({ timestamp: 90_000, payload: sps360Baseline });
    expect(rtpPayload(Buffer.from('not rtp at all'))).toBeNull();
    expect(rtpPayload(Buffer.alloc(4))).toBeNull();
    // An extension longer than the packet.
    const broken = rtp(1, Buffer.alloc(0), { extension: true }).subarray(0, 14);
    expect(rtpPayload(broken)).toBeNull();
  });
});

describe('H.264', () => {
  it('reads the size of a 1080p High SPS (cropped to 1080, emulation prevention removed) and of a 360p Baseline one', () => {
    expect(h264SizeOf(sps1080High)).toEqual({ width: 1920, height: 1080 });
    expect(h264SizeOf(sps360Baseline)).toEqual({ width: 640, height: 360 });
  });

  it('finds the SPS inside a STAP-A as browsers send it before a keyframe, and nothing in other packets', () => {
    expect(h264SpsOf(stapA(sps1080High, pps))).toEqual(sps1080High);
    expect(h264SizeOf(stapA(pps, sps360Baseline))).toEqual({ width: 640, height: 360 });
    expect(h264SpsOf(pps)).toBeNull();
    // FU-A of an IDR slice.
    expect(h264SpsOf(Buffer.from([0x7c, 0x85, 1, 2, 3]))).toBeNull();
    // A STAP-A whose sizes run past its end.
    expect(h264SpsOf(Buffer.from([24, 0x00, 0x40, 0x67, 0x42]))).toBeNull();
    expect(h264SizeOf(Buffer.from([0x67, 0xff]))).toBeNull();
  });
});

describe('VP8', () => {
  it("reads a keyframe's size after the payload descriptor, short or extended", () => {
    // S=1, partition 0.
    expect(vp8SizeOf(Buffer.concat([Buffer.from([0x10]), vp8Keyframe720]))).toEqual({ width: 1280, height: 720 });
    // X=1 with I (15-bit picture id), L and T: as browsers send it.
    expect(vp8SizeOf(Buffer.concat([Buffer.from([0x90, 0xe0, 0x81, 0x23, 0x05, 0x40]), vp8Keyframe720]))).toEqual({
      width: 1280,
      height: 720,
    });
  });

  it('says nothing of an inter frame, a continuation packet or a garbled start code', () => {
    const inter = Buffer.from(vp8Keyframe720);
    inter[0] |= 0x01;
    expect(vp8SizeOf(Buffer.concat([Buffer.from([0x10]), inter]))).toBeNull();
    expect(vp8SizeOf(Buffer.concat([Buffer.from([0x00]), vp8Keyframe720]))).toBeNull();
    const garbled = Buffer.from(vp8Keyframe720);
    garbled[3] = 0;
    expect(vp8SizeOf(Buffer.concat([Buffer.from([0x10]), garbled]))).toBeNull();
    expect(vp8SizeOf(Buffer.from([0x90]))).toBeNull();
  });
});

describe('PictureMeter', () => {
  it('measures 30 fps from the RTP timestamps whatever the arrival jitter, and the size from the keyframe', () => {
    const meter = new PictureMeter('h264');
    let now = 1_000_000;
    meter.packet(rtp(0, stapA(sps1080High, pps)), now);
    for (let frame = 0; frame < 30; frame++) {
      now += frame % 2 ? 20 : 47;
      // Three packets a frame.
      for (let i = 0; i < 3; i++) meter.packet(rtp(frame * 3000, Buffer.from([0x7c, 0x05, i])), now);
    }
    expect(meter.size).toEqual({ width: 1920, height: 1080 });
    expect(meter.fps(now)).toBe(30);
  });

  it('counts across the 32-bit timestamp wrap, ignores a late packet of an earlier frame, and forgets a picture that stopped', () => {
    const meter = new PictureMeter('vp8');
    const start = 0xffffffff - 10 * 3600;
    let now = 0;
    for (let frame = 0; frame < 25; frame++) {
      now += 40;
      meter.packet(rtp(start + frame * 3600, Buffer.from([0x00, 0x01])), now);
      if (frame === 12) meter.packet(rtp(start + 5 * 3600, Buffer.from([0x00, 0x01])), now);
    }
    expect(meter.fps(now)).toBe(25);
    expect(meter.size).toBeNull();
    expect(meter.fps(now + 5000)).toBeNull();
  });

  it('has no frame rate from a handful of packets', () => {
    const meter = new PictureMeter('h264');
    meter.packet(rtp(0, pps), 0);
    meter.packet(rtp(3000, pps), 33);
    expect(meter.fps(40)).toBeNull();
  });
});
