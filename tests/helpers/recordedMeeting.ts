/**
 * A recorded meeting as an operator runs one: the studio goes on air, the
 * floor goes to two communes in turn and back, the studio's link stalls,
 * its encoder drops and returns, and the session ends. What the archive made of it is read
 * back from the playlist, the way a player sees it. The recording test and
 * the recording bench share it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Chapter } from '../../protocol/index.js';
import { readPlaylist, type PlaylistEntry } from './hls.js';
import { joinPlain, type PlainParticipant } from './plainPeer.js';
import { sleep, waitFor } from './rtp.js';
import type { startServer } from './server.js';

/**
 * The senders are ffmpeg, which cannot answer the recorder's keyframe
 * request as a browser does within a frame or two: a keyframe every half
 * second stands in for that answer.
 */
const keyframeSeconds = 0.5;

export interface RecordedMeeting {
  dir: string;
  /** Wall-clock times (ms) of going on air and of ending. */
  liveAt: number;
  endedAt: number;
  /** The archive playlist's segments, in order. */
  segments: PlaylistEntry[];
  chapters: Chapter[];
  participants: PlainParticipant[];
}

/** The archive segment's wall-clock start (ms). */
export const startOf = (entry: PlaylistEntry): number => Date.parse(entry.pdt!);

/** How much of the program is missing before each segment (ms; negative: overlap), from the playlist's dates and durations. */
export function holes(segments: readonly PlaylistEntry[]): { before: PlaylistEntry; ms: number }[] {
  return segments
    .slice(1)
    .map((entry, i) => ({ before: entry, ms: startOf(entry) - (startOf(segments[i]) + segments[i].duration * 1000) }));
}

/** Runs the meeting on `server` (recording on air by itself) and returns what the archive holds once it is complete. */
export async function recordMeeting(server: Awaited<ReturnType<typeof startServer>>, sessionId: string): Promise<RecordedMeeting> {
  await server.sessions.create({ id: sessionId, title: 'Kỳ họp thứ nhất' });
  const room = await server.sessions.room(sessionId);
  const dir = server.recordings.dirFor(sessionId);
  const archive = () => readPlaylist(path.join(dir, 'archive.m3u8')).entries;
  const growBy = async (count: number) => {
    const before = archive().length;
    await waitFor(`${count} more segments`, () => archive().length >= before + count, 60_000);
  };
  const participants = [
    await joinPlain(room, { identity: 'studio', role: 'studio', send: { pattern: 'testsrc', frequency: 440, keyframeSeconds } }),
    await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars', frequency: 660, keyframeSeconds } }),
    await joinPlain(room, { identity: 'xa-b', role: 'point', send: { pattern: 'mandelbrot', frequency: 880, keyframeSeconds } }),
  ];

  const liveAt = Date.now();
  room.goLive();
  await growBy(3);
  for (const identity of ['xa-a', 'xa-b']) {
    await room.giveFloor(identity);
    await growBy(3);
  }
  await room.takeFloor();
  await growBy(3);
  // The studio's link stalls for 2.5 s (its encoder frozen), then recovers.
  const studioFeed = participants[0].feed!.process;
  studioFeed.kill('SIGSTOP');
  await sleep(2500);
  studioFeed.kill('SIGCONT');
  await growBy(2);
  // The studio's encoder drops and comes back as the same participant.
  const studio = participants.shift()!;
  await studio.stop();
  room.leave(studio.peer);
  await growBy(2);
  participants.push(
    await joinPlain(room, { identity: 'studio', role: 'studio', send: { pattern: 'testsrc', frequency: 440, keyframeSeconds } }),
  );
  await growBy(3);
  const endedAt = Date.now();
  await room.end('operator');
  await server.recordings.idle();
  const chapters = JSON.parse(fs.readFileSync(path.join(dir, 'chapters.json'), 'utf8')) as Chapter[];
  return { dir, liveAt, endedAt, segments: archive(), chapters, participants };
}
