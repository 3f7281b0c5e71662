import type { RunSegment } from './hlsRunPlaylist.js';

/** A segment of a run about to join the archive. */
export interface ArchiveSegment {
  file: string;
  duration: number;
  pdt: number;
  /** Marked in the playlists: the picture and clock may jump here (a new run after earlier ones). */
  discontinuity: boolean;
  /** The run's first segment in the archive: where its chapter starts. */
  opensRun: boolean;
}

export interface ArchiveState {
  /** Already in the archive (journaled by an earlier look, or before a restart). */
  inArchive: (file: string) => boolean;
  /** Still in the recording's folder: a listed file that is gone cannot be played. */
  onDisk: (file: string) => boolean;
  /** The run already has segments in the archive: the next ones continue it without a jump. */
  runHasSegments: boolean;
  /** The archive has no segment yet: its very first one is no discontinuity. */
  archiveEmpty: boolean;
  /** Now (ms since epoch): a segment listed without a wall-clock time is taken to have just ended. */
  now: number;
}

/**
 * Which of the segments ffmpeg lists for a run join the archive, in order:
 * those not yet in it, still on disk, and with something to play (a run
 * stopped before its first packet lists an empty segment). Taking the same
 * listing twice adds nothing, so the recorder can look as often as it likes.
 */
export function segmentsToArchive(listed: readonly RunSegment[], state: ArchiveState): ArchiveSegment[] {
  const out: ArchiveSegment[] = [];
  const taken = new Set<string>();
  let runHasSegments = state.runHasSegments;
  for (const s of listed) {
    if (taken.has(s.file) || state.inArchive(s.file) || !state.onDisk(s.file)) continue;
    if (!(s.duration > 0)) continue;
    taken.add(s.file);
    const opensRun = !runHasSegments;
    runHasSegments = true;
    out.push({
      file: s.file,
      duration: s.duration,
      pdt: s.pdt ?? state.now - s.duration * 1000,
      discontinuity: opensRun && !state.archiveEmpty,
      opensRun,
    });
  }
  return out;
}

/**
 * A run's segments dated from the wall-clock time its first picture arrived,
 * each after the durations before it. ffmpeg dates a run from when its
 * muxer started, which on a busy machine is a while after the first packet
 * it keeps: the archive's dates would show a hole that holds no lost program.
 */
export function datedFrom(startedAt: number, listed: readonly RunSegment[]): RunSegment[] {
  let at = startedAt;
  return listed.map((segment) => {
    const dated = { ...segment, pdt: at };
    at += segment.duration * 1000;
    return dated;
  });
}

/**
 * The archive as a list for ffmpeg's concat reader: every segment placed
 * after the durations listed before it, as a player of the archive places
 * it, so a file made from the list keeps the archive's timeline (and its
 * chapter times) whatever clock each encoder run kept inside its segments.
 */
export function concatList(segments: readonly { file: string; duration: number }[]): string {
  const lines = ['ffconcat version 1.0'];
  for (const s of segments) lines.push(`file '${s.file.replaceAll("'", "'\\''")}'`, `duration ${s.duration.toFixed(6)}`);
  return lines.join('\n') + '\n';
}
