/**
 * How much of the program the archive loses, and where: a meeting with three
 * floor switches, the studio's encoder dropping and returning (see
 * tests/helpers/recordedMeeting.ts), recorded with real ffmpeg. Prints the
 * delay from going on air to the archive's first picture, the hole before
 * each change of the program, the archive's length against the time on
 * air, and the MP4's against the archive's.
 *
 * Baseline, measured in the same run: how long a bare ffmpeg takes to start
 * and write its first segment from a test picture. A recorder that stops one
 * encoder and then starts the next loses at least that at every switch;
 * one that starts the next beside the current one loses it only where no
 * sender is left to record (the slate after a vanished sender).
 *
 *   node --import tsx bench/recordingGaps.ts [--rounds 1]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '1' } }, strict: false });
const rounds = Math.max(1, Math.min(5, Number(values.rounds) || 1));

/** Spawn → first HLS segment file of a bare ffmpeg encoding a test picture: what any restart costs at least. */
async function bareFfmpegStartMs(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-bare-'));
  const started = Date.now();
  // prettier-ignore
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '12', '-f', 'hls', '-hls_time', '0.5', '-hls_segment_filename',
    path.join(dir, 's%03d.ts'), path.join(dir, 'p.m3u8'),
  ], { stdio: 'ignore' });
  try {
    const deadline = started + 20_000;
    while (!fs.existsSync(path.join(dir, 's000.ts')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return Date.now() - started;
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { recordMeeting, holes, startOf } =
    await load<typeof import('../tests/helpers/recordedMeeting.js')>('tests/helpers/recordedMeeting.ts');
  const { probeDuration } = await load<typeof import('../tests/helpers/hls.js')>('tests/helpers/hls.ts');
  const load1 = os.loadavg()[0];
  const baseline: number[] = [];
  for (let i = 0; i < 5; i++) baseline.push(await bareFfmpegStartMs());
  baseline.sort((a, b) => a - b);
  const bare = baseline[2];
  console.log(`\nRecording gaps (${os.cpus().length} cores, load ${load1.toFixed(2)} before)`);
  console.log(`baseline: bare ffmpeg spawn → first segment, median of 5: ${bare} ms`);
  console.log(
    '| round | on air → first picture | worst hole at a switch or return | slate after a vanished sender | archive − time on air | MP4 − archive |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (let round = 1; round <= rounds; round++) {
    const server = await startServer({ workers: 2, autoRecord: true });
    try {
      const meeting = await recordMeeting(server, `gaps-${round}`);
      await Promise.all(meeting.participants.map((p) => p.stop()));
      const total = meeting.segments.reduce((sum, e) => sum + e.duration, 0);
      const slateChapter = meeting.chapters.find((c) => c.kind === 'program' && c.identity === undefined);
      let position = 0;
      let slateFile: string | undefined;
      for (const entry of meeting.segments) {
        if (slateChapter && Math.abs(position - slateChapter.start) < 1e-3) slateFile = entry.file;
        position += entry.duration;
      }
      const all = holes(meeting.segments);
      const slateHole = all.find((h) => h.before.file === slateFile)?.ms ?? NaN;
      const worst = Math.max(...all.filter((h) => h.before.file !== slateFile).map((h) => Math.abs(h.ms)));
      const mp4 = probeDuration(path.join(meeting.dir, 'recording.mp4'));
      const first = startOf(meeting.segments[0]) - meeting.liveAt;
      const onAir = (meeting.endedAt - meeting.liveAt) / 1000;
      console.log(
        `| ${round} | ${first} ms (${(first / bare).toFixed(2)}× bare) | ${Math.round(worst)} ms | ${Math.round(slateHole)} ms (${(slateHole / bare).toFixed(2)}× bare) | ${(total - onAir).toFixed(2)} s of ${onAir.toFixed(1)} s | ${(mp4 - total).toFixed(3)} s |`,
      );
    } finally {
      await server.stop();
    }
  }
  console.log(`load after: ${os.loadavg()[0].toFixed(2)}`);
}

await main();
