import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, setOptions, types } from 'hls-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LowLatencyRequestError } from '../../recorder/lowLatency/errors.js';
import { LowLatencyStream, type PartInfo } from '../../recorder/lowLatency/LowLatencyStream.js';
import { Fmp4Reader } from '../../recorder/lowLatency/fmp4.js';
import { teeSlave } from '../../recorder/ffmpegArgs.js';
import { fmp4Options, fmp4PipeOutput } from '../../recorder/lowLatency/fmp4Output.js';
import { pipeRun } from '../../recorder/lowLatency/pipeRun.js';
import { freeRtpPortPair, portsBound } from '../../recorder/ports.js';

/** An encoder run as the recorder makes one: a live picture and tone, H.264 with a keyframe a second, AAC, fMP4 on a pipe. */
function encoderRun(size: string, seconds: number): ChildProcess {
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error',
    '-re', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    ...fmp4PipeOutput(),
  ];
  return spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'ignore'] });
}

/** The next event of the stream matching `when`: tests wait for what happens, never for a fixed time. */
function nextPart(stream: LowLatencyStream, when: (part: PartInfo) => boolean = () => true): Promise<PartInfo> {
  return new Promise((resolve) => {
    const listener = (part: PartInfo) => {
      if (!when(part)) return;
      stream.off('part', listener);
      resolve(part);
    };
    stream.on('part', listener);
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function probe(file: string): { codec_type: string; width?: number; height?: number; nb_read_frames?: string }[] {
  // prettier-ignore
  const out = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' });
  expect(out.status, out.stderr).toBe(0);
  return (JSON.parse(out.stdout) as { streams: [] }).streams;
}

describe('LowLatencyStream fed by a live ffmpeg', () => {
  const stream = new LowLatencyStream({ rewindSeconds: 60, partTarget: 0.235, segmentTarget: 1, targetDuration: 1 });
  const children: ChildProcess[] = [];
  let dir: string;

  beforeAll(() => {
    setOptions({ silent: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowlatency-'));
  });

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    stream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves a live program as LL-HLS a player can follow, run after run', async () => {
    // ---- Run 1: 640×360, 8 s ----
    const first = encoderRun('640x360', 8);
    children.push(first);
    const firstRunDone = pipeRun(stream, first.stdout!);
    await nextPart(stream, (p) => p.msn >= 1);

    // A player's first load: the playlist is LL-HLS, its parts within PART-TARGET, its segments independent.
    const text = await stream.playlist();
    expect(text).toMatch(/^#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n/);
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6,HOLD-BACK=3,PART-HOLD-BACK=0.705');
    expect(text).toContain('#EXT-X-PART-INF:PART-TARGET=0.235');
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.m4s"\n$/);
    const playlist = parse(text) as types.MediaPlaylist;
    for (const segment of playlist.segments) {
      const parts = segment.parts.filter((p) => !p.hint);
      if (parts.length) expect(parts[0].independent).toBe(true);
      for (const part of parts) expect(part.duration).toBeLessThanOrEqual(0.235);
    }

    // Blocking reload of the next part: answered when that part arrives, not before.
    const last = playlist.segments.at(-1)!;
    const request = { msn: last.mediaSequenceNumber, part: last.parts.filter((p) => !p.hint).length };
    const arrival = nextPart(stream).then(() => Date.now());
    const askedAt = Date.now();
    const answer = await stream.playlist(request);
    const answeredAt = Date.now();
    const partAt = await arrival;
    expect(answeredAt - partAt).toBeLessThan(20);
    expect(answeredAt - askedAt).toBeLessThan(400);
    const after = parse(answer) as types.MediaPlaylist;
    const reached = after.segments.some(
      (s) =>
        s.mediaSequenceNumber > request.msn ||
        (s.mediaSequenceNumber === request.msn && s.parts.filter((p) => !p.hint).length > request.part),
    );
    expect(reached).toBe(true);

    // Beyond the last segment + 2: a 400 at once.
    await expect(stream.playlist({ msn: last.mediaSequenceNumber + 3 })).rejects.toBeInstanceOf(LowLatencyRequestError);

    await firstRunDone;
    expect(first.exitCode ?? (await new Promise((r) => first.once('exit', r)))).toBe(0);

    // Delta update: 8 s of segments, CAN-SKIP-UNTIL 6 s.
    const full = await stream.playlist();
    const delta = await stream.playlist({ skip: true });
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)?.[1]);
    expect(skipped).toBeGreaterThanOrEqual(1);
    expect(delta).not.toContain('seg-0.m4s');
    expect(full).toContain('seg-0.m4s');
    expect(delta.length).toBeLessThan(full.length);

    // ---- Run 2: a new picture size, after a discontinuity with its own map ----
    const second = encoderRun('320x240', 3);
    children.push(second);
    const secondRunDone = pipeRun(stream, second.stdout!);
    await nextPart(stream, (p) => p.index >= 1);
    const switched = await stream.playlist();
    expect(switched).toMatch(
      /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-2\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-PART:[^\n]+INDEPENDENT=YES/,
    );
    await secondRunDone;

    // Each run's init + one of its segments decode: the picture of that run, whole.
    const final = parse(await stream.playlist()) as types.MediaPlaylist;
    const firstRun = final.segments.find((s) => s.mediaSequenceNumber === 2)!;
    const secondRun = final.segments.find((s) => s.discontinuity)!;
    for (const [segment, width, height] of [
      [firstRun, 640, 360],
      [secondRun, 320, 240],
    ] as const) {
      const bytes = Buffer.concat([stream.file(segment.map.uri)!, stream.file(segment.uri)!]);
      const file = path.join(dir, `${segment.mediaSequenceNumber}.mp4`);
      fs.writeFileSync(file, bytes);
      const [video, audio] = probe(file);
      expect(video).toMatchObject({ codec_type: 'video', width, height });
      expect(Math.abs(Number(video.nb_read_frames) - segment.duration * 25)).toBeLessThanOrEqual(1);
      expect(audio).toMatchObject({ codec_type: 'audio' });
      expect(Number(audio.nb_read_frames)).toBeGreaterThan(0);
    }

    expect(stream.stats.partsOverTarget).toBe(0);
    expect(stream.stats.shortParts).toBe(0);
  });

  it('publishes a part within tens of milliseconds of its last picture reaching ffmpeg', async () => {
    // Pictures are written to ffmpeg's stdin at 25 fps by this process, so the time from a
    // picture entering the encoder to its part being listed is read on one clock.
    const [width, height, fps, count] = [320, 240, 25, 200];
    // prettier-ignore
    const child = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
      ...fmp4PipeOutput(),
    ], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(child);
    const live = new LowLatencyStream({ rewindSeconds: 60 });
    const writtenAt: number[] = [];
    const latency: number[] = [];
    let samples = 0;
    live.on('part', () => latency.push(Date.now() - writtenAt[samples - 1]));
    const reader = new Fmp4Reader();
    let run = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const item of reader.push(chunk)) {
        if (item.type === 'init') {
          run = live.beginRun(item.init);
          continue;
        }
        samples += item.fragment.tracks[0].sampleCount;
        live.push(run, item.fragment);
      }
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const picture = Buffer.alloc((width * height * 3) / 2);
    const start = Date.now();
    for (let n = 0; n < count; n++) {
      const due = start + (n * 1000) / fps;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      picture.fill((n * 7) & 0xff, 0, width * height);
      for (let i = 0; i < width * height; i += 97) picture[i] = (i + n * 13) & 0xff;
      writtenAt[n] = Date.now();
      child.stdin.write(picture);
    }
    child.stdin.end();
    await exited;
    live.endRun(run);
    live.close();
    // The first parts carry the encoder's start-up (pictures queue while x264 starts): steady state from 2 s on.
    const steady = latency.slice(10);
    const ms = (p: number) => percentile(steady, p);
    console.log(
      `[lowLatency] picture into ffmpeg → part listed (includes the next picture's 40 ms that closes a fragment): ` +
        `median ${ms(50)} ms, p90 ${ms(90)} ms, max ${ms(100)} ms over ${steady.length} parts; start-up ${latency.slice(0, 3).join('/')} ms`,
    );
    expect(steady.length).toBeGreaterThan(20);
    expect(ms(50)).toBeLessThan(200);
  });

  it('copies H.264 from RTP as the recorder does: every part within PART-TARGET, none short', async () => {
    const [videoPort, audioPort] = [await freeRtpPortPair(), await freeRtpPortPair()];
    const sdp = path.join(dir, 'in.sdp');
    // prettier-ignore
    fs.writeFileSync(sdp, [
      'v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=lowLatency', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=video ${videoPort} RTP/AVP 101`, 'a=rtpmap:101 H264/90000', 'a=fmtp:101 packetization-mode=1',
      `m=audio ${audioPort} RTP/AVP 100`, 'a=rtpmap:100 opus/48000/2', '',
    ].join('\n'));
    // prettier-ignore
    const receiver = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-analyzeduration', '3000000', '-probesize', '5000000',
      '-reorder_queue_size', '256', '-fflags', '+genpts+discardcorrupt', '-f', 'sdp', '-i', sdp,
      '-map', '0:v:0', '-map', '0:a:0', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      ...fmp4PipeOutput(),
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(receiver);
    const live = new LowLatencyStream({ rewindSeconds: 60 });
    const done = pipeRun(live, receiver.stdout);
    expect(await portsBound([videoPort, audioPort], 5000)).toBe(true);
    // A studio encoder: 30 fps, a keyframe a second, Opus.
    // prettier-ignore
    const sender = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error',
      '-re', '-t', '7', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30', '-re', '-t', '7', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-map', '0:v', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
      '-b:v', '1M', '-g', '30', '-bsf:v', 'h264_mp4toannexb', '-payload_type', '101', '-f', 'rtp', `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
      '-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', '-payload_type', '100', '-f', 'rtp', `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
    ], { stdio: 'ignore' });
    children.push(sender);
    const parts: PartInfo[] = [];
    live.on('part', (part) => parts.push(part));
    await new Promise((resolve) => sender.once('exit', resolve));
    receiver.kill('SIGINT');
    await done;
    const playlist = parse(await live.playlist()) as types.MediaPlaylist;
    const complete = playlist.segments.filter((s) => s.uri);
    expect(complete.length).toBeGreaterThanOrEqual(4);
    // Parts are listed for the last three target durations only.
    for (const segment of complete.filter((s) => s.parts.length)) expect(segment.parts[0].independent).toBe(true);
    expect(parts.length).toBeGreaterThan(20);
    for (const part of parts) expect(part.duration).toBeLessThanOrEqual(0.235);
    expect(live.stats).toMatchObject({ partsOverTarget: 0, shortParts: 0, segmentsWithoutKeyframe: 0 });
    const segment = complete[1];
    const file = path.join(dir, 'rtp.mp4');
    fs.writeFileSync(file, Buffer.concat([live.file(segment.map.uri)!, live.file(segment.uri)!]));
    const [video] = probe(file);
    expect(video).toMatchObject({ codec_type: 'video', width: 640, height: 360 });
    live.close();
  });

  it('shares one encode with the archive through the tee muxer', async () => {
    const hlsDir = path.join(dir, 'tee');
    fs.mkdirSync(hlsDir);
    const hlsSlave = `[f=hls:hls_time=2:hls_list_size=0:hls_segment_type=mpegts:hls_segment_filename=${hlsDir}/r-%05d.ts:bsfs/v=dump_extra]${hlsDir}/r.m3u8`;
    // prettier-ignore
    const child = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error',
      '-re', '-t', '4', '-f', 'lavfi', '-i', 'color=c=0x0b1a2e:s=1280x720:r=25', '-re', '-t', '4', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo',
      '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25',
      '-c:a', 'aac', '-b:a', '128k', '-flags', '+global_header', '-f', 'tee', `${hlsSlave}|${teeSlave([...fmp4Options(), ['onfail', 'ignore']], 'pipe:1')}`,
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const live = new LowLatencyStream({ rewindSeconds: 60 });
    await pipeRun(live, child.stdout);
    const exit = child.exitCode ?? (await new Promise((resolve) => child.once('exit', resolve)));
    expect(exit).toBe(0);
    expect(live.stats).toMatchObject({ segments: 4, partsOverTarget: 0, shortParts: 0 });
    expect(fs.readFileSync(path.join(hlsDir, 'r.m3u8'), 'utf8').match(/^r-\d+\.ts$/gm)).toEqual(['r-00000.ts', 'r-00001.ts']);
    const [video] = probe(path.join(hlsDir, 'r-00001.ts'));
    expect(video).toMatchObject({ codec_type: 'video', width: 1280, height: 720, nb_read_frames: '50' });
    live.close();
  });
});
