import fs from 'node:fs';

/**
 * What an encoder run has written so far, as a mark that changes whenever it
 * writes: how many segments it has closed, and the size of the one it is
 * writing (ffmpeg writes it as `….ts.tmp`, then renames it). A healthy run
 * changes it several times a second (a picture of 1 Mbit/s fills ffmpeg's
 * 32 KB write buffer four times a second, its sound alone every two seconds).
 */
export function writtenSoFar(segmentPattern: string, closedSegments: number): string {
  const current = segmentPattern.replace('%05d', String(closedSegments).padStart(5, '0'));
  return `${closedSegments}:${sizeOf(`${current}.tmp`)}:${sizeOf(current)}`;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Whether a run has stalled: it has written nothing for `stallMs`. An
 * encoder can hang without exiting (its input stuck in probing after a lost
 * picture, a process stopped by the system): the archive must not wait for
 * the next floor switch to go on.
 */
export function hasStalled(progress: { changedAt: number }, now: number, stallMs: number): boolean {
  return now - progress.changedAt > stallMs;
}
