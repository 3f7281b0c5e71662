/**
 * Runs the benchmarks one after the other, each in its own process with a
 * time limit: fan-out (bench/fanout.ts), join latency (bench/joinLatency.ts),
 * live latency (bench/liveLatency.ts), recorder cost (bench/recorderCost.ts),
 * Low-Latency HLS viewers through the caching edge (bench/llEdge.ts) and the
 * cost of an encoder feed's ladder (bench/ingestCost.ts), and encoder → point
 * glass to glass for RTMP, SRT and WHIP (bench/ingestLatency.ts). The
 * fan-out duel against Janus (bench/duel/run.ts, root and Janus needed) runs
 * only with --only duel.
 *
 *   npm run bench [-- --only fanout|join|latency|recorder|edge|ingest|ingest-latency|duel] [--n 50,100] [--seconds 10] [--budget 540] [--feed-first] [--joins 12]
 *                 [--viewers 200] [--warmup 8] [--settle 10] [--repeats 1]
 *
 * Other options are passed to the benchmark they belong to.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    n: { type: 'string' },
    seconds: { type: 'string' },
    json: { type: 'string' },
    budget: { type: 'string' },
    'feed-first': { type: 'boolean' },
    joins: { type: 'string' },
    timeout: { type: 'string' },
    viewers: { type: 'string' },
    warmup: { type: 'string' },
    settle: { type: 'string' },
    repeats: { type: 'string' },
  },
  strict: false,
});

const only = values.only as string | undefined;
// 'duel' (Diemcau against Janus, needs root and Janus) runs only when asked for with --only duel.
const benches = ['fanout', 'join', 'latency', 'recorder', 'edge', 'ingest', 'ingest-latency', 'duel'];
if (only && !benches.includes(only)) {
  console.error(`--only takes one of: ${benches.join(', ')}`);
  process.exit(2);
}

/** Process group of the bench running now, killed with us. */
let current: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (current) {
      try {
        process.kill(-current, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    process.exit(130);
  });
}

/** Runs a bench file in its own process group; on time-out the whole group (ffmpeg, workers, Chromium) is killed. */
function runBench(file: string, args: string[], limitMs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, file), ...args], {
      stdio: 'inherit',
      detached: true,
    });
    current = child.pid;
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      console.error(`\n[bench] ${file} did not finish in ${Math.round(limitMs / 1000)} s: stopped`);
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      setTimeout(killGroup, 5000).unref();
    }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Nothing of a bench may outlive it (an orphaned ffmpeg would keep sending).
      killGroup();
      current = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const started = Date.now();
console.log(
  `Diemcau benchmarks — ${new Date().toISOString()} — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
);
let failures = 0;

if (!only || only === 'fanout') {
  const args: string[] = [];
  if (values.n) args.push('--n', String(values.n));
  if (values.seconds) args.push('--seconds', String(values.seconds));
  if (values.json) args.push('--json', String(values.json));
  if (values.budget) args.push('--budget', String(values.budget));
  if (values['feed-first']) args.push('--feed-first');
  console.log('\n=== Fan-out ===');
  const budget = Number(values.budget) || 540;
  if ((await runBench('fanout.ts', args, (budget + 90) * 1000)) !== 0) failures++;
}

if (!only || only === 'join') {
  const args: string[] = [];
  if (values.joins) args.push('--joins', String(values.joins));
  if (values.timeout) args.push('--timeout', String(values.timeout));
  console.log('\n=== Join latency ===');
  // Diemcau's joins and the bare baseline's, one after the other.
  if ((await runBench('joinLatency.ts', args, 6 * 60_000)) !== 0) failures++;
}

if (!only || only === 'latency') {
  console.log('\n=== Live latency (HLS and WebRTC, glass to glass) ===');
  // HLS phases, then the point's WebRTC view and the bare baseline's.
  if ((await runBench('liveLatency.ts', [], 6 * 60_000)) !== 0) failures++;
}

if (!only || only === 'recorder') {
  console.log('\n=== Recorder cost ===');
  if ((await runBench('recorderCost.ts', [], 3 * 60_000)) !== 0) failures++;
  console.log('\n=== Recording gaps ===');
  if ((await runBench('recordingGaps.ts', [], 5 * 60_000)) !== 0) failures++;
}

if (!only || only === 'edge') {
  const args: string[] = [];
  if (values.viewers) args.push('--viewers', String(values.viewers));
  if (values.seconds) args.push('--seconds', String(values.seconds));
  if (values.warmup) args.push('--warmup', String(values.warmup));
  console.log('\n=== Low-Latency HLS viewers, origin and caching edge ===');
  // Two phases of --seconds (30) after a warm-up (8), plus starting the server, the viewers and nginx.
  const phases = 2 * (Number(values.seconds) || 30) + (Number(values.warmup) || 8);
  if ((await runBench('llEdge.ts', args, (phases + 150) * 1000)) !== 0) failures++;
}

if (!only || only === 'ingest') {
  console.log('\n=== Ingest cost (encoder feed ladder) ===');
  // Making the source, starting the server, a warm-up and a 20 s window: well under a minute on a quiet machine.
  if ((await runBench('ingestCost.ts', [], 2 * 60_000)) !== 0) failures++;
}

if (!only || only === 'ingest-latency') {
  const args: string[] = [];
  if (values.seconds) args.push('--seconds', String(values.seconds));
  console.log('\n=== Encoder → point latency (RTMP, SRT, WHIP against the browser studio) ===');
  // Four senders, each with a top-layer and a 'low' window (25 + 12 s) and its own start: about 4 minutes on a busy machine.
  const windows = 4 * ((Number(values.seconds) || 25) + 12);
  if ((await runBench('ingestLatency.ts', args, (windows + 240) * 1000)) !== 0) failures++;
}

if (only === 'duel') {
  const args: string[] = [];
  if (values.n) args.push('--n', String(values.n));
  if (values.seconds) args.push('--seconds', String(values.seconds));
  if (values.settle) args.push('--settle', String(values.settle));
  if (values.repeats) args.push('--repeats', String(values.repeats));
  if (values.json) args.push('--json', String(values.json));
  console.log('\n=== Fan-out duel: Diemcau against Janus (WebRTC receivers) ===');
  // Per step and SFU: start-up, joins, settle and window; 5 steps of N, 2 SFUs.
  const steps = (values.n ? String(values.n).split(',').length : 5) * 2 * (Number(values.repeats) || 1);
  const perStep = 60 + (Number(values.settle) || 10) + (Number(values.seconds) || 30);
  if ((await runBench('duel/run.ts', args, (steps * perStep + 60) * 1000)) !== 0) failures++;
}

console.log(`\n[bench] done in ${Math.round((Date.now() - started) / 1000)} s${failures ? `, ${failures} bench(es) failed` : ''}`);
process.exit(failures ? 1 : 0);
