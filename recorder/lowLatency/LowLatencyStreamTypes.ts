/** The public shapes of LowLatencyStream: its options, events and figures. */

export interface LowLatencyStreamOptions {
  /**
   * PART-TARGET in seconds (default 0.235). ffmpeg's `-frag_duration 200000`
   * cuts a fragment at the first packet 200 ms or more after the fragment's
   * start: measured, 200 ms at 25 and 30 fps, 208 ms at 24 fps (a run's first
   * 210–225 ms), shorter only before a keyframe, where a segment ends. 0.235
   * keeps them ≤ PART-TARGET and ≥ 85 % of it (200 / 0.85 = 235). A variable
   * frame rate can exceed it (stats.partsOverTarget); one-frame fragments
   * (`-frag_duration 33333`) are grouped and fit any target.
   */
  partTarget?: number;
  /** A new segment starts at the first keyframe once this many seconds have passed (default 1). */
  segmentTarget?: number;
  /** EXT-X-TARGETDURATION (integer seconds, default 2): a segment is cut before it would round above it, keyframe or not. */
  targetDuration?: number;
  /** How far back whole segments are kept and listed (seconds). */
  rewindSeconds: number;
  /** Parts are listed (and served) for the segments of this last stretch (default 3 target durations). */
  partWindowSeconds?: number;
  /** Blocking playlist requests held at once; beyond, requests are answered at once (default 1000). */
  maxWaiting?: number;
  /** How long a blocking request is held at most (default 3 target durations), then answered with what exists. */
  maxWaitMs?: number;
}

export interface PartInfo {
  name: string;
  /** Media sequence number of its segment. */
  msn: number;
  /** Its index in its segment. */
  index: number;
  duration: number;
  independent: boolean;
  byteLength: number;
}

export interface SegmentInfo {
  name: string;
  msn: number;
  run: number;
  duration: number;
  parts: number;
  independent: boolean;
  discontinuity: boolean;
  /** Wall clock of its first picture (ms since the epoch): its EXT-X-PROGRAM-DATE-TIME. */
  programDateTime: number;
  byteLength: number;
}

/** A rule of RFC 8216bis that the fragments given could not keep; the playlist stays usable. */
export interface LowLatencyWarning {
  kind: 'part-over-target' | 'part-short' | 'segment-without-keyframe' | 'fragment-before-keyframe';
  msn: number;
  duration: number;
}

export interface LowLatencyStreamEvents {
  part: [part: PartInfo];
  segment: [segment: SegmentInfo];
  run: [run: number];
  warning: [warning: LowLatencyWarning];
  close: [];
}

export interface LowLatencyStats {
  runs: number;
  parts: number;
  segments: number;
  partsOverTarget: number;
  shortParts: number;
  segmentsWithoutKeyframe: number;
  droppedFragments: number;
  waiting: number;
  /** Blocking requests answered at once because maxWaiting were already held. */
  waitsRefused: number;
  /** Media bytes held: segments of the rewind window plus the segment being made. */
  bytesHeld: number;
}
