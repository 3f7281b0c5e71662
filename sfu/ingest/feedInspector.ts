/**
 * What an encoder sends, read from its FLV tags with no I/O: the codec,
 * profile and size of its picture, its frame rate, keyframe interval,
 * bitrate, and whether it reorders frames (B-frames). EncoderFeed decides
 * from it whether the picture can be copied to the session as it is, and
 * shows it to the operator; the unit tests feed it hand-made tags.
 */
import { parseH264Sps } from './rtmp/library.js';

/** FLV tag types. */
export const flvAudio = 8;
export const flvVideo = 9;

/** One FLV tag: its type, its timestamp (decode time, ms) and its body. */
export interface FlvTag {
  type: number;
  timestamp: number;
  payload: Buffer;
}

export interface VideoTagInfo {
  /** 'h264', 'hevc', 'av1', 'vp9', 'vp6', 'h263', … or `codec-<id>`. */
  codec: string;
  keyframe: boolean;
  /** A decoder configuration (AVC sequence header), not a picture. */
  sequenceHeader: boolean;
  /** Composition time offset, ms: presentation time minus decode time. */
  cts: number;
  /** For H.264: what follows the 5-byte video tag header (the AVCDecoderConfigurationRecord for a sequence header). */
  body: Buffer;
}

export interface AudioTagInfo {
  /** 'aac', 'mp3', 'opus', 'pcm', … or `codec-<id>`. */
  codec: string;
  /** A decoder configuration (AAC AudioSpecificConfig), not sound. */
  sequenceHeader: boolean;
}

export interface AvcConfig {
  profileIdc: number;
  /** constraint_set flags, the byte after profile_idc. */
  constraints: number;
  levelIdc: number;
  /** 'Constrained Baseline', 'Main', 'High', … */
  profile: string;
  width: number | null;
  height: number | null;
}

const legacyVideoCodecs: Record<number, string> = { 2: 'h263', 3: 'screen', 4: 'vp6', 5: 'vp6a', 6: 'screen2', 7: 'h264', 12: 'hevc' };
const fourccVideoCodecs: Record<string, string> = { avc1: 'h264', hvc1: 'hevc', av01: 'av1', vp09: 'vp9' };
const legacyAudioCodecs: Record<number, string> = {
  0: 'pcm',
  1: 'adpcm',
  2: 'mp3',
  3: 'pcm',
  4: 'nellymoser',
  5: 'nellymoser',
  6: 'nellymoser',
  7: 'alaw',
  8: 'mulaw',
  10: 'aac',
  11: 'speex',
  14: 'mp3',
};
const fourccAudioCodecs: Record<string, string> = { Opus: 'opus', fLaC: 'flac', 'ac-3': 'ac3', 'ec-3': 'eac3', '.mp3': 'mp3', mp4a: 'aac' };

/** Reads a video tag's header (legacy FLV, or Enhanced RTMP's FourCC header); null when too short. */
export function readVideoTag(payload: Buffer): VideoTagInfo | null {
  if (payload.length < 1) return null;
  const first = payload[0];
  const frameType = (first >> 4) & 0x07;
  if (first & 0x80) {
    // Enhanced RTMP: the low nibble is the packet type, then a FourCC.
    if (payload.length < 5) return null;
    const fourcc = payload.toString('latin1', 1, 5);
    const packetType = first & 0x0f;
    const codec = fourccVideoCodecs[fourcc] ?? `fourcc-${fourcc.replace(/[^\w.-]/g, '?')}`;
    // CodedFrames (1) carries a composition offset; CodedFramesX (3) does not.
    const cts = packetType === 1 && payload.length >= 8 ? signed24(payload, 5) : 0;
    return { codec, keyframe: frameType === 1 && packetType !== 0, sequenceHeader: packetType === 0, cts, body: payload.subarray(5) };
  }
  const codecId = first & 0x0f;
  const codec = legacyVideoCodecs[codecId] ?? `codec-${codecId}`;
  if (codecId !== 7 && codecId !== 12)
    return { codec, keyframe: frameType === 1, sequenceHeader: false, cts: 0, body: payload.subarray(1) };
  if (payload.length < 5) return null;
  const packetType = payload[1];
  return {
    codec,
    keyframe: frameType === 1 && packetType === 1,
    sequenceHeader: packetType === 0,
    cts: packetType === 1 ? signed24(payload, 2) : 0,
    body: payload.subarray(5),
  };
}

/** Reads an audio tag's header; null when empty. */
export function readAudioTag(payload: Buffer): AudioTagInfo | null {
  if (payload.length < 1) return null;
  const format = payload[0] >> 4;
  if (format === 9) {
    // Enhanced RTMP audio: the low nibble is the packet type, then a FourCC.
    if (payload.length < 5) return null;
    const fourcc = payload.toString('latin1', 1, 5);
    return { codec: fourccAudioCodecs[fourcc] ?? `fourcc-${fourcc.replace(/[^\w.-]/g, '?')}`, sequenceHeader: (payload[0] & 0x0f) === 0 };
  }
  return { codec: legacyAudioCodecs[format] ?? `codec-${format}`, sequenceHeader: format === 10 && payload[1] === 0 };
}

/** The name of an H.264 profile as encoders and browsers say it. */
export function h264ProfileName(profileIdc: number, constraints: number): string {
  switch (profileIdc) {
    case 66:
      return constraints & 0x40 ? 'Constrained Baseline' : 'Baseline';
    case 77:
      return 'Main';
    case 88:
      return 'Extended';
    case 100:
      return 'High';
    case 110:
      return 'High 10';
    case 122:
      return 'High 4:2:2';
    case 244:
      return 'High 4:4:4';
    default:
      return `profile ${profileIdc}`;
  }
}

/** Reads an AVCDecoderConfigurationRecord (an AVC sequence header's body): the profile, and the size from its first SPS. */
export function readAvcConfig(record: Buffer): AvcConfig | null {
  if (record.length < 7 || record[0] !== 1) return null;
  const profileIdc = record[1];
  const constraints = record[2];
  const levelIdc = record[3];
  let size: { width: number; height: number } | null = null;
  const spsCount = record[5] & 0x1f;
  if (spsCount > 0 && record.length >= 8) {
    const spsLength = record.readUInt16BE(6);
    const sps = record.subarray(8, 8 + spsLength);
    if (sps.length === spsLength && spsLength > 4) size = parseH264Sps(sps);
  }
  return {
    profileIdc,
    constraints,
    levelIdc,
    profile: h264ProfileName(profileIdc, constraints),
    width: size?.width ?? null,
    height: size?.height ?? null,
  };
}

/** What the stats show of the picture and sound (EncoderFeed adds whether it is connected and transcoding). */
export interface InspectedStats {
  videoCodec: string | null;
  profile: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  keyframeIntervalSeconds: number | null;
  bitrateKbps: number;
  audioCodec: string | null;
  bFrames: boolean;
}

/** Frames kept to measure the frame rate. */
const fpsFrames = 50;

/**
 * Accumulates what the tags of one feed say. Bitrate is measured over a
 * sliding window of arrival time (what the link carries); frame rate and
 * keyframe interval over the tags' own timestamps (what the encoder made),
 * so that network jitter does not show as a frame-rate change.
 */
export class FeedMeter {
  readonly #windowMs: number;
  readonly #arrivals: { at: number; bytes: number }[] = [];
  #windowBytes = 0;
  #firstArrival: number | null = null;
  #videoCodec: string | null = null;
  #audioCodec: string | null = null;
  #avc: AvcConfig | null = null;
  readonly #frameTimes: number[] = [];
  #lastKeyframe: number | null = null;
  #keyframeInterval: number | null = null;
  #maxPts: number | null = null;
  #lastDts: number | null = null;
  #bFrames = false;
  #framesSinceKeyframe = 0;
  #keyframeSeen = false;

  constructor(options: { windowMs?: number } = {}) {
    this.#windowMs = options.windowMs ?? 5000;
  }

  /** Adds a tag that arrived at `nowMs`. */
  add(tag: FlvTag, nowMs: number): void {
    this.#firstArrival ??= nowMs;
    // 11 bytes of tag header and 4 of back pointer: what the link carried.
    const bytes = tag.payload.length + 15;
    this.#arrivals.push({ at: nowMs, bytes });
    this.#windowBytes += bytes;
    this.#prune(nowMs);
    if (tag.type === flvVideo) this.#addVideo(tag);
    else if (tag.type === flvAudio) this.#addAudio(tag);
  }

  get videoCodec(): string | null {
    return this.#videoCodec;
  }

  get audioCodec(): string | null {
    return this.#audioCodec;
  }

  get avcConfig(): AvcConfig | null {
    return this.#avc;
  }

  get keyframeSeen(): boolean {
    return this.#keyframeSeen;
  }

  /** Pictures seen since the first keyframe (the window in which reordering can show). */
  get framesSinceFirstKeyframe(): number {
    return this.#framesSinceKeyframe;
  }

  get bFrames(): boolean {
    return this.#bFrames;
  }

  stats(nowMs: number): InspectedStats {
    this.#prune(nowMs);
    const frames = this.#frameTimes;
    const span = frames.length >= 2 ? frames[frames.length - 1] - frames[0] : 0;
    // Over the window, or the time since the first tag while the window is not yet full (at least 1 s).
    const elapsed = this.#firstArrival === null ? 0 : nowMs - this.#firstArrival;
    const windowSeconds = Math.max(1, Math.min(this.#windowMs, elapsed)) / 1000;
    return {
      videoCodec: this.#videoCodec,
      profile: this.#avc?.profile ?? null,
      width: this.#avc?.width ?? null,
      height: this.#avc?.height ?? null,
      fps: span > 0 ? Math.round(((frames.length - 1) * 1000 * 100) / span) / 100 : null,
      keyframeIntervalSeconds: this.#keyframeInterval,
      bitrateKbps: Math.round((this.#windowBytes * 8) / 1000 / windowSeconds),
      audioCodec: this.#audioCodec,
      bFrames: this.#bFrames,
    };
  }

  #prune(nowMs: number): void {
    while (this.#arrivals.length && this.#arrivals[0].at <= nowMs - this.#windowMs) this.#windowBytes -= this.#arrivals.shift()!.bytes;
  }

  #addVideo(tag: FlvTag): void {
    const video = readVideoTag(tag.payload);
    if (!video) return;
    this.#videoCodec = video.codec;
    if (video.sequenceHeader) {
      if (video.codec === 'h264') this.#avc = readAvcConfig(video.body) ?? this.#avc;
      return;
    }
    const dts = tag.timestamp;
    // The encoder restarted its clock: what was measured before no longer compares.
    if (this.#lastDts !== null && dts < this.#lastDts) {
      this.#frameTimes.length = 0;
      this.#maxPts = null;
      this.#lastKeyframe = null;
    }
    this.#lastDts = dts;
    this.#frameTimes.push(dts);
    if (this.#frameTimes.length > fpsFrames) this.#frameTimes.shift();
    // B-frames are frames presented before one decoded earlier. A constant
    // composition offset (some hardware encoders) reorders nothing.
    const pts = dts + video.cts;
    if (this.#maxPts !== null && pts < this.#maxPts) this.#bFrames = true;
    this.#maxPts = Math.max(this.#maxPts ?? pts, pts);
    if (video.keyframe) {
      if (this.#lastKeyframe !== null && dts > this.#lastKeyframe) this.#keyframeInterval = (dts - this.#lastKeyframe) / 1000;
      this.#lastKeyframe = dts;
      this.#keyframeSeen = true;
    }
    if (this.#keyframeSeen) this.#framesSinceKeyframe++;
  }

  #addAudio(tag: FlvTag): void {
    const audio = readAudioTag(tag.payload);
    if (audio) this.#audioCodec = audio.codec;
  }
}

/** How long the start of a feed is looked at before deciding how to carry its picture. */
export interface ProbeLimits {
  /** Pictures after the first keyframe in which to look for reordering. */
  frames: number;
  maxBytes: number;
  maxMs: number;
}

export const defaultProbeLimits: ProbeLimits = { frames: 12, maxBytes: 4 * 1024 * 1024, maxMs: 8000 };

/**
 * Whether enough of a feed was seen to start: a keyframe, and for H.264 its
 * sequence header and `frames` pictures after it; 'give-up' when the bounds
 * are reached with no picture at all.
 */
export function probeVerdict(
  meter: Pick<FeedMeter, 'videoCodec' | 'keyframeSeen' | 'avcConfig' | 'framesSinceFirstKeyframe'>,
  seen: { bytes: number; elapsedMs: number },
  limits: ProbeLimits = defaultProbeLimits,
): 'wait' | 'ready' | 'give-up' {
  const complete =
    meter.videoCodec !== null &&
    meter.keyframeSeen &&
    (meter.videoCodec !== 'h264' || (meter.avcConfig !== null && meter.framesSinceFirstKeyframe >= limits.frames));
  if (complete) return 'ready';
  if (seen.bytes < limits.maxBytes && seen.elapsedMs < limits.maxMs) return 'wait';
  return meter.videoCodec !== null ? 'ready' : 'give-up';
}

/** H.264 profiles browsers decode (8-bit 4:2:0): Baseline, Main, High. */
const copyableProfiles = new Set([66, 77, 100]);

/**
 * Whether the picture can go to the session as the encoder made it: H.264
 * that browsers decode, seen long enough to know it has no B-frames
 * (browsers' real-time decoders show frames in decode order). Anything
 * else is transcoded.
 */
export function picturePath(
  meter: Pick<FeedMeter, 'videoCodec' | 'avcConfig' | 'bFrames' | 'framesSinceFirstKeyframe'>,
  limits: Pick<ProbeLimits, 'frames'> = defaultProbeLimits,
): { copy: boolean; reason: string } {
  if (meter.videoCodec !== 'h264') return { copy: false, reason: `the picture is ${meter.videoCodec ?? 'unknown'}, not H.264` };
  if (!meter.avcConfig) return { copy: false, reason: 'no H.264 sequence header' };
  if (!copyableProfiles.has(meter.avcConfig.profileIdc)) return { copy: false, reason: `H.264 ${meter.avcConfig.profile}` };
  if (meter.bFrames) return { copy: false, reason: 'the picture has B-frames' };
  if (meter.framesSinceFirstKeyframe < limits.frames) return { copy: false, reason: 'too few frames seen to rule out B-frames' };
  return { copy: true, reason: `H.264 ${meter.avcConfig.profile} without B-frames` };
}

function signed24(buffer: Buffer, offset: number): number {
  const value = buffer.readUIntBE(offset, 3);
  return value & 0x800000 ? value - 0x1000000 : value;
}
