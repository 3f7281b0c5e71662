/**
 * How a recording is cut into encoder runs: what each run encodes, what its
 * files are called, and where a restarted server picks the numbering up.
 * One run lasts while the program stays the same; each floor switch, sender
 * change or encoder crash ends it and the next one starts.
 */
import path from 'node:path';
import type { ProgramSources } from './RecordedRoom.js';
import type { SdpStream } from './sdp.js';

/** How the program is encoded in one run: copied when it can be. */
export interface RunPlan {
  video: 'copy' | 'transcode' | 'slate';
  audio: number;
}

/** Decides per run: copy H.264 as it is; re-encode anything else; a slate when nothing is on air. */
export function planRun(sources: ProgramSources, streams: SdpStream[]): RunPlan {
  const video = streams.find((s) => s.kind === 'video');
  const mime = video?.rtpParameters.codecs[0]?.mimeType.toLowerCase();
  return {
    video: !sources.video || !video ? 'slate' : mime === 'video/h264' ? 'copy' : 'transcode',
    audio: streams.filter((s) => s.kind === 'audio').length,
  };
}

/** r0001, r0002, … r9999, r10000: zero-padded so a folder listing reads in order for most sessions. */
export function runName(id: number): string {
  return `r${String(id).padStart(4, '0')}`;
}

/** The files of one run in a recording's folder: ffmpeg's own playlist, its SDP input and its segments. */
export function runFiles(dir: string, id: number): { playlist: string; sdp: string; segmentPattern: string } {
  const name = runName(id);
  return {
    playlist: path.join(dir, `${name}.m3u8`),
    sdp: path.join(dir, `${name}.sdp`),
    segmentPattern: path.join(dir, `${name}-%05d.ts`),
  };
}

const runPlaylistName = /^r(\d{4,})\.m3u8$/;

/**
 * The runs an earlier server left in a recording's folder, oldest first
 * (by number, not by name: r10000 comes after r9999). The next run is
 * numbered after the last, so no run overwrites another's files.
 */
export function earlierRuns(files: readonly string[]): { id: number; playlist: string }[] {
  return files
    .map((file) => ({ match: runPlaylistName.exec(file), playlist: file }))
    .filter((r): r is { match: RegExpExecArray; playlist: string } => r.match !== null)
    .map((r) => ({ id: Number(r.match[1]), playlist: r.playlist }))
    .sort((a, b) => a.id - b.id);
}

/** Whether a segment file was written by run `id` (r0001 does not own r00010's segments). */
export function isSegmentOfRun(file: string, id: number): boolean {
  return file.startsWith(`${runName(id)}-`);
}
