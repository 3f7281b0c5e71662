/**
 * A WebRTC encoder's picture read from its RTP alone, with no decoding: its
 * size from the H.264 SPS or the VP8 keyframe header it sends with each
 * keyframe, its frame rate from the distinct RTP timestamps (one per frame).
 * Pure: PictureProbe (mediasoup) feeds it packets; the unit tests feed it
 * hand-made ones.
 */
import { parseH264Sps } from '../rtmp/library.js';

/** The video clock of every WebRTC video codec: 90 kHz. */
const videoClockRate = 90_000;

/** Frames kept to measure the frame rate: a bit over a second at 30 fps, bounded whatever arrives. */
const maxFrames = 40;
/** Frames older than this (wall time) no longer count: a picture that stopped has no frame rate. */
const frameWindowMs = 2000;
/** The highest frame rate shown: above any camera an encoder takes (240 fps slow motion). */
const maxFps = 240;

export interface PictureSize {
  width: number;
  height: number;
}

/** An RTP packet's payload (after the CSRCs, the header extension and before the padding); null if it is not RTP. */
export function rtpPayload(packet: Buffer): { timestamp: number; payload: Buffer } | null {
  if (packet.length < 12 || packet[0] >> 6 !== 2) return null;
  let offset = 12 + (packet[0] & 0x0f) * 4;
  if (packet[0] & 0x10) {
    if (packet.length < offset + 4) return null;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (packet[0] & 0x20) end -= packet[packet.length - 1];
  if (offset > end) return null;
  return { timestamp: packet.readUInt32BE(4), payload: packet.subarray(offset, end) };
}

/**
 * The SPS an H.264 RTP payload (RFC 6184) carries, if any: a single NAL
 * unit of type 7, or one inside a STAP-A (24), as WebRTC encoders send it
 * before each keyframe. A fragmented SPS (FU-A) is not put together: SPSs
 * are a few dozen bytes, far below a packet.
 */
export function h264SpsOf(payload: Buffer): Buffer | null {
  if (payload.length < 1) return null;
  const type = payload[0] & 0x1f;
  if (type === 7) return payload;
  if (type !== 24) return null;
  for (let p = 1; p + 2 <= payload.length;) {
    const size = payload.readUInt16BE(p);
    if (size === 0 || p + 2 + size > payload.length) return null;
    const nal = payload.subarray(p + 2, p + 2 + size);
    if ((nal[0] & 0x1f) === 7) return nal;
    p += 2 + size;
  }
  return null;
}

/** The picture size an H.264 payload's SPS says; null without an SPS or for one that cannot be read. */
export function h264SizeOf(payload: Buffer): PictureSize | null {
  const sps = h264SpsOf(payload);
  if (!sps || sps.length < 4) return null;
  const size = parseH264Sps(sps);
  return size && size.width > 0 && size.height > 0 ? size : null;
}

/**
 * The picture size of a VP8 keyframe's first packet (RFC 7741 payload
 * descriptor, then RFC 6386 §9.1 frame header: a 3-byte frame tag, the start
 * code 9d 01 2a, 14-bit width and height); null for any other packet.
 */
export function vp8SizeOf(payload: Buffer): PictureSize | null {
  if (payload.length < 1) return null;
  const first = payload[0];
  const start = (first & 0x10) !== 0;
  const partition = first & 0x07;
  if (!start || partition !== 0) return null;
  let p = 1;
  if (first & 0x80) {
    if (payload.length < 2) return null;
    const x = payload[1];
    p = 2;
    if (x & 0x80) p += payload.length > p && payload[p] & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) p += 1; // TL0PICIDX
    if (x & 0x30) p += 1; // TID / KEYIDX
  }
  const frame = payload.subarray(p);
  // Bit 0 of the frame tag is 0 for a keyframe; only keyframes carry the size.
  if (frame.length < 10 || (frame[0] & 0x01) !== 0) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  const width = frame.readUInt16LE(6) & 0x3fff;
  const height = frame.readUInt16LE(8) & 0x3fff;
  return width > 0 && height > 0 ? { width, height } : null;
}

/**
 * What a WebRTC picture's packets say: the last size a keyframe gave, and
 * the frame rate over the last frames (from their RTP timestamps, so that
 * the network's jitter does not show as a change of rate).
 */
export class PictureMeter {
  readonly #codec: 'h264' | 'vp8';
  /** The last frames seen: their RTP timestamp (unwrapped) and when their first packet arrived. */
  readonly #frames: { timestamp: number; at: number }[] = [];
  #size: PictureSize | null = null;
  #lastRtp: number | null = null;
  /** The RTP timestamp unwrapped past 2^32. */
  #unwrapped = 0;

  constructor(codec: 'h264' | 'vp8') {
    this.#codec = codec;
  }

  /** One RTP packet of the picture, received at `nowMs`. */
  packet(packet: Buffer, nowMs: number): void {
    const rtp = rtpPayload(packet);
    if (!rtp || rtp.payload.length === 0) return;
    const size = this.#codec === 'h264' ? h264SizeOf(rtp.payload) : vp8SizeOf(rtp.payload);
    if (size) this.#size = size;
    if (rtp.timestamp === this.#lastRtp) return;
    const delta = this.#lastRtp === null ? 0 : (rtp.timestamp - this.#lastRtp) | 0;
    this.#lastRtp = rtp.timestamp;
    this.#unwrapped += delta;
    // A frame's late packet (reordered) is not a new frame.
    if (this.#frames.length && this.#unwrapped <= this.#frames[this.#frames.length - 1].timestamp) return;
    this.#frames.push({ timestamp: this.#unwrapped, at: nowMs });
    if (this.#frames.length > maxFrames) this.#frames.shift();
  }

  /** The picture's size, from the last keyframe's SPS or header; null until one came. */
  get size(): PictureSize | null {
    return this.#size;
  }

  /** Frames per second over the recent frames (to 0.1), null with fewer than a handful or when the picture stopped. */
  fps(nowMs: number): number | null {
    while (this.#frames.length && nowMs - this.#frames[0].at > frameWindowMs) this.#frames.shift();
    if (this.#frames.length < 5) return null;
    const span = this.#frames[this.#frames.length - 1].timestamp - this.#frames[0].timestamp;
    if (span <= 0) return null;
    const fps = Math.round(((this.#frames.length - 1) * videoClockRate * 10) / span) / 10;
    // Timestamps that step by 1 (90 000 fps) or by hours (0 fps) are an encoder's lie, not a rate to show.
    return fps > 0 && fps <= maxFps ? fps : null;
  }
}
