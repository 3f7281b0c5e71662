/**
 * Fan-out duel: Diemcau against Janus 1.1 (streaming plugin) on the same
 * machine, the same clip, the same werift receivers (ICE, DTLS, SRTP, RTCP
 * feedback). N steps up until each loses more than 1 % or falls behind the feed; per N and SFU it
 * prints the SFU's CPU per receiver, loss, packet rate against nominal,
 * join time, and whether the step is valid (load client ≤ ~70 % of a core,
 * machine ≤ ~60 % busy).
 *
 *   node --import tsx bench/duel/run.ts [--n 10,25,50,75,100] [--seconds 30] [--settle 10] [--repeats 1]
 *        [--only janus|diemcau] [--rtx on|off] [--transport-cc off|on] [--concurrency 5] [--json out.json]
 *        [--cpu-limit 25]
 *
 * --cpu-limit P holds each SFU's own processes to P % of one core (a cgroup CFS quota,
 * cpuLimit.ts): on a small machine the werift receivers run out of CPU long before
 * either SFU loses anything, so with both SFUs on the same budget the loss knee comes
 * within reach, and receivers per core below 1 % loss is measured (N held / budget).
 *
 * Needs root: it makes its own network namespace (Janus gathers no ICE
 * candidates on `lo`), runs itself again inside it with `--inside`, and
 * deletes the namespace on exit, Ctrl-C or failure.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { measureNominal, prepareClip } from './feed.js';
import { DuelNetns } from './netns.js';
import { runDuelStep, type Sfu, type StepResult } from './step.js';

const optionsSchema = z.object({
  n: z
    .string()
    .default('10,25,50,75,100')
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .pipe(z.array(z.number().int().min(1).max(500)).min(1)),
  seconds: z.coerce.number().min(2).max(300).default(30),
  settle: z.coerce.number().min(0).max(120).default(10),
  repeats: z.coerce.number().int().min(1).max(10).default(1),
  only: z.enum(['janus', 'diemcau']).optional(),
  rtx: z.enum(['on', 'off']).default('on'),
  // Janus 1.1's streaming offer names transport-cc feedback but carries no transport-wide sequence
  // extension, so Janus gets no transport-wide feedback: off on both sides by default.
  'transport-cc': z.enum(['on', 'off']).default('off'),
  concurrency: z.coerce.number().int().min(1).max(50).default(5),
  'cpu-limit': z.coerce.number().min(5).max(400).optional(),
  json: z.string().optional(),
  inside: z.boolean().default(false),
  // Inside: the outer process's pid, whose /proc/<pid>/root still shows the machine's /sys/fs/cgroup
  // (`ip netns exec` mounts a fresh /sys without it).
  'host-pid': z.coerce.number().int().positive().optional(),
});
type Options = z.infer<typeof optionsSchema>;

const { values } = parseArgs({
  options: {
    n: { type: 'string' },
    seconds: { type: 'string' },
    settle: { type: 'string' },
    repeats: { type: 'string' },
    only: { type: 'string' },
    rtx: { type: 'string' },
    'transport-cc': { type: 'string' },
    concurrency: { type: 'string' },
    'cpu-limit': { type: 'string' },
    json: { type: 'string' },
    inside: { type: 'boolean' },
    'host-pid': { type: 'string' },
  },
});
const options = optionsSchema.parse(values);

const lossLimitPct = 1;
/**
 * Below this share of the feed's packet rate a receiver is falling behind: an SFU out of CPU
 * queues packets in its sockets' large buffers (8 MB for Diemcau's) before it drops any, so
 * its receivers get the program later and later with no loss yet — held no better than lost.
 */
const minRateVsNominal = 0.95;

/** The step is beyond what the SFU holds: it failed, lost more than the limit, or fell behind the feed. */
function over(r: StepResult): boolean {
  return !r.ok || Math.max(r.videoLossPct, r.audioLossPct) > lossLimitPct || r.rateVsNominal < minRateVsNominal;
}

function f(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** Outside: the namespace, and this file run again inside it, in its own process group. */
async function outside(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('The duel needs root to make its network namespace (ip netns).');
    return 2;
  }
  const netns = new DuelNetns();
  netns.create();
  const args = process.argv.slice(2).filter((a) => a !== '--inside');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns.name,
      process.execPath,
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--inside',
      '--host-pid',
      String(process.pid),
      ...args,
    ],
    { stdio: 'inherit', detached: true },
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    killGroup('SIGTERM');
    // Within the 5 s bench/run.ts gives before it kills us: the namespace is deleted when the child is gone.
    setTimeout(() => killGroup('SIGKILL'), 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('exit', () => netns.close());
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  // Nothing of the duel may outlive it (an orphaned ffmpeg or janus would keep running in a deleted namespace).
  killGroup('SIGKILL');
  netns.close();
  return code;
}

function printStep(n: number, results: StepResult[]): void {
  console.log(`\nN = ${n}`);
  const rows = [
    [
      'SFU',
      'rep',
      'joined',
      'SFU CPU %',
      '% / receiver',
      'client %',
      'ffmpeg %',
      'machine %',
      'video loss %',
      'worst rx %',
      'audio loss %',
      'rate / nominal',
      'UDP drops',
      'held back %',
      'join med / p95 ms',
      'valid',
    ],
    ...results.map((r) =>
      r.ok
        ? [
            r.sfu,
            String(r.repeat),
            `${r.joined}/${r.n}`,
            f(r.sfuCpuPct),
            f(r.sfuCpuPerReceiverPct, 2),
            f(r.clientCpuPct),
            f(r.ffmpegCpuPct),
            f(r.machinePct),
            f(r.videoLossPct, 2),
            f(r.worstVideoLossPct, 2),
            f(r.audioLossPct, 2),
            f(r.rateVsNominal, 3),
            `${r.udpRcvbufErrors}/${r.udpInErrors}`,
            r.throttledPct === undefined ? '–' : f(r.throttledPct),
            `${f(r.joinMedianMs, 0)} / ${f(r.joinP95Ms, 0)}`,
            r.valid ? 'yes' : `no (${r.invalidWhy.join(', ')})`,
          ]
        : [r.sfu, String(r.repeat), `${r.joined}/${r.n}`, `failed: ${r.error ?? '?'}`],
    ),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  for (const row of rows) console.log(row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  for (const r of results)
    if (r.joinFailures.length) console.log(`  ${r.sfu}: ${r.joinFailures.length} join failures, first: ${r.joinFailures[0]}`);
}

function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** Per SFU: the largest N held (below 1 % loss, keeping up with the feed), and that N per core of the SFU's CPU. */
function printSummary(all: StepResult[], sfus: Sfu[]): void {
  console.log('\nSummary (medians over repeats)');
  for (const sfu of sfus) {
    const held = [...new Set(all.filter((r) => r.sfu === sfu).map((r) => r.n))]
      .map((n) => {
        const runs = all.filter((r) => r.sfu === sfu && r.n === n && r.ok);
        return {
          n,
          loss: median(runs.map((r) => Math.max(r.videoLossPct, r.audioLossPct))),
          rate: median(runs.map((r) => r.rateVsNominal)),
          cpu: median(runs.map((r) => r.sfuCpuPct)),
          perReceiver: median(runs.map((r) => r.sfuCpuPerReceiverPct)),
          valid: runs.length > 0 && runs.every((r) => r.valid),
        };
      })
      .filter((s) => s.loss < lossLimitPct && s.rate >= minRateVsNominal);
    const best = held.sort((a, b) => b.n - a.n)[0];
    if (!best) {
      console.log(`  ${sfu}: no step below ${lossLimitPct} % loss`);
      continue;
    }
    // With a budget the SFU could use no more than it: N held on the budget, scaled to a core.
    const budget = all.find((r) => r.sfu === sfu && r.cpuLimitPct)?.cpuLimitPct;
    const lostAbove = all.some((r) => r.sfu === sfu && r.n > best.n && over(r));
    const perCore = best.n / ((budget ?? best.cpu) / 100);
    console.log(
      `  ${sfu}: held N = ${best.n} (below ${lossLimitPct} % loss, ≥ ${minRateVsNominal * 100} % of the feed's rate) at ${f(best.cpu)} % of a core (${f(best.perReceiver, 2)} % / receiver)` +
        (budget ? `, on a budget of ${f(budget, 0)} % of a core` : '') +
        (budget && !lostAbove ? ' (it held every N: its knee is higher, so is its figure)' : '') +
        ` → ~${f(perCore, 0)} receivers per core${best.valid ? '' : ' (step marked invalid: load client or machine too busy)'}`,
    );
  }
}

/** Inside the namespace: the clip, its nominal rate, then the steps. */
async function inside(opts: Options): Promise<number> {
  const sfus: Sfu[] = opts.only ? [opts.only] : ['janus', 'diemcau'];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-duel-clip-'));
  let aborted = false;
  const onSignal = () => {
    aborted = true;
    fs.rmSync(work, { recursive: true, force: true });
    // The outer process kills our group; exiting here closes the IPC channels of our children.
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The nominal rate is counted over exactly one loop of the clip: a window of whole loops sees the same.
    const clip = await prepareClip(work, 10);
    const nominal = await measureNominal(clip, 10);
    const load = os.loadavg().map((l) => l.toFixed(2));
    console.log(
      `Fan-out duel, Diemcau vs Janus — ${new Date().toISOString()} — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load ${load.join(' ')}`,
    );
    console.log(
      `clip: H.264 baseline 640x360 25 fps ~1 Mbit/s + Opus 64 kbit/s, nominal ${f(nominal.video)} video + ${f(nominal.audio)} audio packets/s;` +
        ` RTX ${opts.rtx}, transport-cc ${opts['transport-cc']} (both sides); window ${opts.seconds} s after ${opts.settle} s settle, ${opts.repeats} repeat(s)` +
        (opts['cpu-limit'] ? `; each SFU held to ${opts['cpu-limit']} % of a core` : ''),
    );
    const all: StepResult[] = [];
    // An SFU that lost more than the limit at some N is done; the other goes on stepping up.
    let active = [...sfus];
    for (const n of opts.n) {
      const results: StepResult[] = [];
      for (let repeat = 1; repeat <= opts.repeats && !aborted; repeat++) {
        // Alternate the order so neither SFU always runs on a machine the other just warmed or loaded.
        const order = repeat % 2 ? active : [...active].reverse();
        for (const sfu of order) {
          results.push(
            await runDuelStep(
              {
                sfu,
                n,
                seconds: opts.seconds,
                settle: opts.settle,
                clip,
                nominal,
                rtx: opts.rtx === 'on',
                transportCc: opts['transport-cc'] === 'on',
                concurrency: opts.concurrency,
                cpuLimit: opts['cpu-limit'] ? { percentOfCore: opts['cpu-limit'], hostPid: opts['host-pid'] } : undefined,
              },
              repeat,
            ),
          );
        }
      }
      printStep(n, results);
      all.push(...results);
      const beyond = new Set(results.filter(over).map((r) => r.sfu));
      if (beyond.size) {
        active = active.filter((sfu) => !beyond.has(sfu));
        console.log(
          `\n${[...beyond].join(' and ')} lost more than ${lossLimitPct} %, fell behind the feed` +
            ` (< ${minRateVsNominal * 100} % of its rate) or failed at N = ${n}` +
            (active.length ? `: ${active.join(' and ')} goes on alone.` : ': stopping.'),
        );
        if (!active.length) break;
      }
    }
    const negotiated = all.find((r) => r.negotiated)?.negotiated;
    if (negotiated) {
      console.log(
        `\nJanus, as negotiated with werift: RTX ${negotiated.rtx ? 'on' : 'off'}, transport-cc ${negotiated.transportCc ? 'on' : 'off'}` +
          ' (its streaming offer has no transport-wide sequence extension); NACK and PLI on for both.',
      );
    }
    printSummary(all, sfus);
    if (opts.json) {
      fs.writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), options: opts, nominal, results: all }, null, 2));
    }
    return all.some((r) => r.ok) ? 0 : 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = options.inside ? await inside(options) : await outside();
// Timers of closed viewers or servers must not keep the bench alive.
process.exit(process.exitCode);
