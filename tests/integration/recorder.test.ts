/**
 * The recorder against a real worker and real ffmpeg: the program becomes a
 * live HLS stream and an archive that survives floor switches, a killed
 * encoder and a restarted server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Recorder } from '../../recorder/Recorder.js';
import { probeDuration, probeSegment, readPlaylist } from '../helpers/hls.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { recorderEncoderPid } from '../helpers/recorderEncoder.js';
import { sleep, waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function recordedServer(dataDir?: string) {
  const server = await startServer({ workers: 2, autoRecord: true, dataDir });
  cleanups.push(() => server.stop());
  return server;
}

/** Whether a process is still there (a zombie, reaped by its parent soon, is not). */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function segmentsIn(dir: string) {
  return readPlaylist(path.join(dir, 'archive.m3u8')).entries;
}

describe('recording a session', () => {
  let recorder: Recorder;
  let dir: string;
  let studio: PlainParticipant;
  let point: PlainParticipant;
  let server: Awaited<ReturnType<typeof startServer>>;
  let switchedAt = 0;

  it('starts by itself when the session goes on air, and everyone sees it', async () => {
    server = await recordedServer();
    await server.sessions.create({ id: 'rec', title: 'Kỳ họp' });
    const room = await server.sessions.room('rec');
    studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    point = await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars', frequency: 660 } });
    cleanups.push(
      () => studio.stop(),
      () => point.stop(),
    );
    expect(room.snapshot().recording).toBe(false);
    room.goLive();
    await waitFor('recording indicator', () => room.snapshot().recording);
    recorder = server.recordings.recorder('rec')!;
    dir = server.recordings.dirFor('rec');
    expect(recorder.currentPlan).toEqual({ video: 'copy', audio: 1 });
  });

  it('writes a live playlist that grows, with keyframe-first H.264/AAC segments and wall-clock times', async () => {
    await waitFor('three segments', () => readPlaylist(path.join(dir, 'live.m3u8')).entries.length >= 3, 20_000);
    const live = readPlaylist(path.join(dir, 'live.m3u8'));
    expect(live.ended).toBe(false);
    expect(live.tags).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    for (const entry of live.entries) {
      expect(entry.pdt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(entry.duration).toBeLessThanOrEqual(4.5);
      const probe = probeSegment(path.join(dir, entry.file));
      expect(probe.codecs).toEqual(['h264', 'aac']);
      expect(probe.firstVideoFrameIsKey).toBe(true);
    }
    const count = live.entries.length;
    await waitFor('more segments', () => readPlaylist(path.join(dir, 'live.m3u8')).entries.length > count, 10_000);
  });

  it('records a floor switch as a discontinuity and a chapter', async () => {
    const room = await server.sessions.room('rec');
    const before = segmentsIn(dir).length;
    switchedAt = recorder.journal.duration;
    await room.giveFloor('xa-a');
    // The point's voice joins the studio's in the program once the next run has the point's picture.
    await waitFor('two voices recorded', () => recorder.currentPlan?.audio === 2, 20_000);
    expect(recorder.currentPlan).toEqual({ video: 'copy', audio: 2 });
    // The new run's first segment is in the archive once ffmpeg closes it.
    await waitFor(
      'the new run in the archive',
      () =>
        segmentsIn(dir)
          .slice(before)
          .some((e) => e.discontinuity),
      20_000,
    );
    const chapter = recorder.journal.chapters.find((c) => c.identity === 'xa-a')!;
    expect(chapter.title).toBe('xa-a');
    // The chapter starts after the switch was asked for, exactly where an encoder run starts
    // (a discontinuity): where the point's picture begins. How many seconds after the switch
    // that is depends on how fast the encoder restarts: a figure.
    const runStarts: number[] = [];
    let position = 0;
    for (const segment of recorder.journal.segments) {
      if (segment.discontinuity) runStarts.push(position);
      position += segment.duration;
    }
    expect(chapter.start).toBeGreaterThanOrEqual(switchedAt);
    expect(
      runStarts.some((start) => Math.abs(start - chapter.start) < 1e-6),
      `chapter at ${chapter.start}, runs start at ${runStarts.join(' ')}`,
    ).toBe(true);
    console.log(`floor switch asked at ${switchedAt.toFixed(2)} s of the archive, its chapter starts at ${chapter.start.toFixed(2)} s`);
    const chapters = JSON.parse(fs.readFileSync(path.join(dir, 'chapters.json'), 'utf8'));
    expect(chapters.map((c: { identity: string }) => c.identity)).toEqual(['studio', 'xa-a']);
  });

  it('loses no written segment when ffmpeg is killed, and goes on recording', async () => {
    // The encoder is found from outside, as an operator would: the ffmpeg writing into the recording's folder.
    await waitFor('an encoder running', () => !!recorderEncoderPid(dir), 20_000);
    const before = segmentsIn(dir).map((e) => e.file);
    const pid = recorderEncoderPid(dir)!;
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'a new encoder',
      () => {
        const now = recorderEncoderPid(dir);
        return !!now && now !== pid;
      },
      10_000,
    );
    await waitFor('new segments', () => segmentsIn(dir).length > before.length + 1, 20_000);
    const after = segmentsIn(dir).map((e) => e.file);
    expect(after.slice(0, before.length)).toEqual(before);
    for (const file of after) expect(fs.existsSync(path.join(dir, file))).toBe(true);
  });

  it('replaces an encoder that hangs without exiting, and goes on recording', async () => {
    await waitFor('an encoder running', () => !!recorderEncoderPid(dir), 20_000);
    const before = segmentsIn(dir).map((e) => e.file);
    const hung = recorderEncoderPid(dir)!;
    const stalled = new Promise<number>((resolve) => recorder.once('encoderStalled', resolve));
    // Stopped, as the system stops a process: alive, holding its ports, writing nothing.
    process.kill(hung, 'SIGSTOP');
    await stalled;
    await waitFor('the hung encoder gone', () => !isAlive(hung), 20_000);
    await waitFor('new segments', () => segmentsIn(dir).length > before.length + 1, 20_000);
    const after = segmentsIn(dir).map((e) => e.file);
    expect(after.slice(0, before.length)).toEqual(before);
    for (const file of after) expect(fs.existsSync(path.join(dir, file))).toBe(true);
  });

  it('can be stopped and started by the operator', async () => {
    const room = await server.sessions.room('rec');
    await room.controlRecording(false, 'operator');
    expect(room.snapshot().recording).toBe(false);
    const stoppedAt = segmentsIn(dir).length;
    await sleep(2500);
    expect(segmentsIn(dir).length).toBe(stoppedAt);
    await room.controlRecording(true, 'operator');
    expect(room.snapshot().recording).toBe(true);
    await waitFor('recording again', () => segmentsIn(dir).length > stoppedAt, 15_000);
  });

  it('goes on when the point on air drops out and comes back', async () => {
    const room = await server.sessions.room('rec');
    const lastChapter = () => recorder.journal.chapters.at(-1)?.identity;
    expect(room.floor).toBe('xa-a');
    const before = segmentsIn(dir).length;
    // Its connection dies: the studio is on air again, and the stream goes on.
    room.leave(point.peer, 'disconnected');
    await point.stop();
    await waitFor('the studio back on air in the archive', () => lastChapter() === 'studio', 20_000);
    await waitFor('segments while it is away', () => segmentsIn(dir).length > before + 1, 20_000);
    // It rejoins with the floor it had: back on air.
    point = await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars', frequency: 660 } });
    cleanups.push(() => point.stop());
    await waitFor('the point back on air in the archive', () => lastChapter() === 'xa-a', 20_000);
    const back = segmentsIn(dir).length;
    await waitFor('segments after its return', () => segmentsIn(dir).length > back, 20_000);
    for (const entry of segmentsIn(dir).slice(before)) {
      expect(probeSegment(path.join(dir, entry.file)).firstVideoFrameIsKey).toBe(true);
    }
  });

  it('closes the archive when the session ends: VOD, ENDLIST, MP4 and poster', async () => {
    const room = await server.sessions.room('rec');
    await room.end();
    await server.recordings.idle();
    const archive = readPlaylist(path.join(dir, 'archive.m3u8'));
    expect(archive.ended).toBe(true);
    expect(archive.tags).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(readPlaylist(path.join(dir, 'live.m3u8')).ended).toBe(true);
    const listed = archive.entries.reduce((s, e) => s + e.duration, 0);
    // The archive plays end to end: ffmpeg reads the whole playlist.
    expect(Math.abs(probeDuration(path.join(dir, 'recording.mp4')) - listed)).toBeLessThan(1);
    expect(fs.statSync(path.join(dir, 'poster.jpg')).size).toBeGreaterThan(1000);
    expect(server.recordings.meta('rec')).toMatchObject({ status: 'complete', hasMp4: true, hasPoster: true });
  });
});

describe('an uneventful session', () => {
  it('has an archive of everything the encoder wrote, from what viewers saw live to the segment closed at the end', async () => {
    const server = await recordedServer();
    await server.sessions.create({ id: 'calm', title: 'Calm' });
    const room = await server.sessions.room('calm');
    const studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    cleanups.push(() => studio.stop());
    await sleep(1000);
    room.goLive();
    const liveAt = Date.now();
    const dir = server.recordings.dirFor('calm');
    const live = path.join(dir, 'live.m3u8');
    await waitFor('three segments listed live', () => fs.existsSync(live) && readPlaylist(live).entries.length >= 3, 60_000);
    const listedLive = readPlaylist(live).entries.map((e) => e.file);
    const ended = room.end();
    const sessionSeconds = (Date.now() - liveAt) / 1000;
    await ended;
    await server.recordings.idle();
    const archive = readPlaylist(path.join(dir, 'archive.m3u8'));
    const files = archive.entries.map((e) => e.file);
    // What viewers were shown live is the archive's beginning, in order …
    expect(files.slice(0, listedLive.length)).toEqual(listedLive);
    // … and every segment the encoder listed with something in it (ffmpeg's own run playlists,
    // through the one it closed when the session ended) is in the archive, once, in order, with no jump.
    const written = fs
      .readdirSync(dir)
      .filter((f) => /^r\d+\.m3u8$/.test(f))
      .sort()
      .flatMap((f) =>
        readPlaylist(path.join(dir, f))
          .entries.filter((e) => e.duration > 0)
          .map((e) => e.file),
      );
    expect(files).toEqual(written);
    expect(archive.entries.filter((e) => e.discontinuity)).toEqual([]);
    // How close the archive's length comes to the time on air depends on how fast the encoder starts: a figure.
    const recorded = archive.entries.reduce((s, e) => s + e.duration, 0);
    console.log(
      `an uneventful session: ${sessionSeconds.toFixed(1)} s on air, ${recorded.toFixed(1)} s archived in ${files.length} segments`,
    );
  });
});

describe('a server restart mid-session', () => {
  it('keeps every segment, puts the session back on air and records on', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-restart-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const first = await startServer({ workers: 1, autoRecord: true, dataDir });
    await first.sessions.create({ id: 'restart', title: 'Restart' });
    let room = await first.sessions.room('restart');
    let studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    room.goLive();
    const dir = first.recordings.dirFor('restart');
    await waitFor('segments before the restart', () => segmentsIn(dir).length >= 2, 20_000);
    await studio.stop();
    await first.stop();
    const before = segmentsIn(dir).map((e) => e.file);

    const second = await recordedServer(dataDir);
    room = await second.sessions.room('restart');
    expect(room.status).toBe('live');
    // The live stream goes on (a slate until the studio is back), then the studio rejoins.
    await waitFor('the stream continues', () => segmentsIn(dir).length > before.length, 20_000);
    studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    cleanups.push(() => studio.stop());
    await waitFor('the studio recorded again', () => second.recordings.recorder('restart')?.currentPlan?.video === 'copy', 20_000);
    const resumedAt = segmentsIn(dir).length;
    await waitFor('segments of the studio', () => segmentsIn(dir).length > resumedAt + 1, 20_000);
    await room.end();
    await second.recordings.idle();
    const archive = readPlaylist(path.join(dir, 'archive.m3u8'));
    expect(archive.entries.map((e) => e.file).slice(0, before.length)).toEqual(before);
    expect(archive.entries.filter((e) => e.discontinuity).length).toBeGreaterThanOrEqual(1);
    const listed = archive.entries.reduce((s, e) => s + e.duration, 0);
    expect(Math.abs(probeDuration(path.join(dir, 'recording.mp4')) - listed)).toBeLessThan(1);
  });
});
