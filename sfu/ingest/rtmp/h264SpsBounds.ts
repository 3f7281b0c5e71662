/**
 * What an H.264 SPS from an encoder must satisfy before node-media-server's
 * SPS parser reads it, and what its answer must satisfy after. That parser
 * trusts the stream: num_ref_frames_in_pic_order_cnt_cycle (at most 255 in
 * the standard) is a loop count read as an exp-Golomb number, and a crafted
 * SPS of a few bytes sets it near 2^31 — the event loop then spins for
 * minutes, the whole server with it (every RTMP AVC sequence header and
 * every WHIP SPS goes through it). Its picture size is likewise whatever the
 * bits say, up to ~34 billion pixels wide.
 */

/** The largest side a picture may have: above H.264's level 6.2 (16 880) for 8:1 frames, and VP8's 14 bits (16 383); no encoder sends more. */
export const maxPictureSide = 16_384;

/** ITU-T H.264 7.4.2.1.1: num_ref_frames_in_pic_order_cnt_cycle is 0..255. */
const maxPocCycle = 255;

/** The profiles whose SPS carries chroma_format_idc and the scaling matrices (7.3.2.1.1). */
const highProfiles = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Bits of an RBSP; reading past its end throws (the SPS is cut, not zero-padded). */
class Bits {
  readonly bytes: Buffer;
  #bit = 0;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  flag(): number {
    const byte = this.#bit >> 3;
    if (byte >= this.bytes.length) throw new RangeError('SPS cut short');
    const value = (this.bytes[byte] >> (7 - (this.#bit & 7))) & 1;
    this.#bit++;
    return value;
  }

  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.flag();
    return value;
  }

  /** ue(v): more than 31 leading zeros is no 32-bit value (the standard's values all fit). */
  ue(): number {
    let zeros = 0;
    while (this.flag() === 0) if (++zeros > 31) throw new RangeError('exp-Golomb value too large');
    return 2 ** zeros - 1 + this.bits(zeros);
  }
}

/** The SPS with its emulation prevention bytes (00 00 03) removed. */
function rbspOf(nal: Buffer): Buffer {
  const out = Buffer.alloc(nal.length);
  let n = 0;
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i - 2] === 0 && nal[i - 1] === 0 && nal[i] === 3) continue;
    out[n++] = nal[i];
  }
  return out.subarray(0, n);
}

/**
 * Whether the SPS (a NAL unit with its header byte) is one the library
 * parser reads in bounded time: every field up to the picture-order cycle
 * present and in range. Pure and bounded by the SPS's own bits.
 */
export function h264SpsIsBounded(sps: Buffer): boolean {
  try {
    const r = new Bits(rbspOf(sps));
    r.bits(8); // NAL header
    const profileIdc = r.bits(8);
    r.bits(16); // constraint flags, level_idc
    r.ue(); // seq_parameter_set_id
    if (highProfiles.has(profileIdc)) {
      const chromaFormatIdc = r.ue();
      if (chromaFormatIdc === 3) r.flag();
      r.ue();
      r.ue();
      r.flag();
      if (r.flag()) {
        for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) {
          if (!r.flag()) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) {
              const code = r.ue();
              const delta = code % 2 === 0 ? -(code / 2) : (code + 1) / 2;
              next = (((last + delta + 256) % 256) + 256) % 256;
            }
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    if (r.ue() === 1) {
      r.flag();
      r.ue();
      r.ue();
      if (r.ue() > maxPocCycle) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** A picture size an encoder can really send: 1..maxPictureSide each way, whole numbers. */
export function plausiblePictureSize(size: { width: number; height: number } | null): { width: number; height: number } | null {
  if (!size) return null;
  const ok = (side: number) => Number.isInteger(side) && side > 0 && side <= maxPictureSide;
  return ok(size.width) && ok(size.height) ? size : null;
}
