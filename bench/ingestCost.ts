/**
 * What the ladder costs: CPU of one encoder feed's ffmpeg (EncoderFeed) for
 * a 720p H.264 feed, with the ladder (the original copied, 360p and 180p
 * encoded beside it) and without (the original copied alone), against a bare
 * `ffmpeg -f flv -i pipe:0 -c copy -f null -` of the same input — the three
 * side by side in the same window, so that they share the machine's load.
 *
 * The input is a 720p 25 fps H.264 FLV (~2.5 Mbit/s, no B-frames, a keyframe
 * every 2 s as OBS is usually set, AAC), made once with ffmpeg test sources
 * and played in real time (`-re`, `-c copy`) into each of the three by a pacer
 * ffmpeg of its own, whose CPU is not counted. Both feeds also turn the AAC
 * into Opus. CPU is read from /proc/<pid>/stat over the window, in % of one core.
 *
 *   node --import tsx bench/ingestCost.ts [--seconds 20]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' } }, strict: false });
const seconds = Number(values.seconds);
const warmupMs = 4000;
const ticksPerSecond = 100;
/** Seconds of source: the pacers loop it, so it only has to be long enough to look like a program. */
const sourceSeconds = 20;

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** ffmpeg processes whose parent is this process. */
function ffmpegChildren(): Set<number> {
  const found = new Set<number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('ffmpeg')) found.add(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function commandLine(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

const children: ChildProcess[] = [];

function run(ffmpeg: string, args: string[], stdio: ('pipe' | 'ignore')[]): ChildProcess {
  const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args], { stdio: stdio as ['pipe', 'pipe', 'pipe'] });
  child.stderr?.resume();
  children.push(child);
  return child;
}

/** The encoder's program played in real time, as FLV on the pacer's stdout. */
function pacer(ffmpeg: string, source: string): ChildProcess {
  return run(ffmpeg, ['-re', '-stream_loop', '-1', '-i', source, '-c', 'copy', '-f', 'flv', 'pipe:1'], ['ignore', 'pipe', 'pipe']);
}

async function main(): Promise<void> {
  const { findFfmpeg } = await load<typeof import('../recorder/ffmpegBinary.js')>('recorder/ffmpegBinary.ts');
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { EncoderFeed } = await load<typeof import('../sfu/ingest/EncoderFeed.js')>('sfu/ingest/EncoderFeed.ts');
  const ffmpeg = findFfmpeg().path;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-ingest-'));
  const source = path.join(dir, 'program-720p.flv');
  // prettier-ignore
  const make = run(ffmpeg, [
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=25:duration=${sourceSeconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${sourceSeconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-bf', '0', '-g', '50', '-b:v', '2500k', '-maxrate', '2500k',
    '-bufsize', '2500k', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', source,
  ], ['ignore', 'ignore', 'pipe']);
  await new Promise((resolve) => make.once('exit', resolve));
  if (make.exitCode !== 0) throw new Error('could not make the 720p source');

  const server = await startServer({ workers: 1 });
  try {
    // The bare copy: ffmpeg reading the same FLV and doing nothing with it.
    const bareInput = pacer(ffmpeg, source);
    const bare = run(ffmpeg, ['-f', 'flv', '-i', 'pipe:0', '-c', 'copy', '-f', 'null', '-'], ['pipe', 'ignore', 'pipe']);
    bare.stdin!.on('error', () => {});
    bareInput.stdout!.pipe(bare.stdin!);

    const feeds: { label: string; pid: number; feed: Awaited<ReturnType<typeof EncoderFeed.start>> }[] = [];
    for (const ladder of [false, true]) {
      const sid = `ingest-${ladder ? 'ladder' : 'copy'}`;
      await server.sessions.create({ id: sid, title: sid });
      const room = await server.sessions.room(sid);
      room.goLive();
      const before = ffmpegChildren();
      const input = pacer(ffmpeg, source);
      const feed = await EncoderFeed.start({ room, identity: 'encoder', name: 'Encoder', flv: input.stdout!, ffmpegPath: ffmpeg, ladder });
      // The feed's ffmpeg: the child that appeared with it reading FLV on stdin (the server has ffmpegs of its own: SRT listeners).
      const pid = [...ffmpegChildren()].find((p) => !before.has(p) && p !== input.pid && commandLine(p).includes('pipe:0'));
      if (!pid) throw new Error('the feed has no ffmpeg');
      feeds.push({ label: ladder ? 'feed with ladder (copy + 360p + 180p + Opus)' : 'feed without ladder (copy + Opus)', pid, feed });
    }

    await new Promise((r) => setTimeout(r, warmupMs));
    if (process.env.BENCH_DEBUG) for (const { pid } of feeds) console.error(pid, commandLine(pid).join(' '));
    const measured = [{ label: 'bare `ffmpeg -c copy -f null`', pid: bare.pid! }, ...feeds];
    const start = measured.map(({ pid }) => cpuTicks(pid));
    const load0 = os.loadavg()[0];
    const started = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (Date.now() - started) / 1000;
    const cpu = measured.map(({ pid }, i) => ((cpuTicks(pid) - start[i]) / ticksPerSecond / elapsed) * 100);
    for (const { feed } of feeds) if (feed.closed) throw new Error('a feed closed during the window');
    const layers = feeds[1].feed.stats.layers;

    console.log(
      `\nIngest cost (${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, load ${load0.toFixed(1)}; ` +
        `720p25 H.264 ~2.5 Mbit/s + AAC; CPU in % of one core over ${elapsed.toFixed(0)} s)`,
    );
    console.log('| ffmpeg | CPU | vs bare copy |');
    console.log('|---|---:|---:|');
    for (const [i, { label }] of measured.entries()) {
      console.log(`| ${label} | ${cpu[i].toFixed(1)} % | ${cpu[0] > 0 ? `${(cpu[i] / cpu[0]).toFixed(1)}×` : 'n/a'} |`);
    }
    console.log(
      `\nLadder / no ladder: ${(cpu[2] / cpu[1]).toFixed(1)}× (+${(cpu[2] - cpu[1]).toFixed(1)} % of one core for the two lower layers)`,
    );
    console.log(
      `Layers received by the session (low → high): ${layers.map((l) => `${l.height ?? '?'}p ${l.kbps ?? '?'} kbit/s`).join(', ')}`,
    );
    for (const { feed } of feeds) await feed.close('bench over');
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
