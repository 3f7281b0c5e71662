/** The whole fan-out bench: every N, both setups, within the time budget. */
import fs from 'node:fs';
import os from 'node:os';
import type { StepResult } from './measure.js';
import { f, printStep, printSummary } from './report.js';
import { runStep } from './step.js';

/** Step whose CPU was this much (%) not ours is run again. */
const disturbedPct = 30;

export async function runFanout(options: {
  ns: number[];
  seconds: number;
  only?: 'diemcau' | 'bare';
  json?: string;
  /** Start ffmpeg before the consumers are made (the platform's order; stalls an overloaded worker). */
  feedFirst?: boolean;
  /** Time for the whole fan-out bench, waits included (default 540 s). */
  budgetSeconds?: number;
}): Promise<StepResult[]> {
  const setups = (['diemcau', 'bare'] as const).filter((s) => !options.only || options.only === s);
  console.log(
    `Fan-out bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), window ${options.seconds} s, N = ${options.ns.join(', ')}`,
  );
  const all: StepResult[] = [];
  // The whole bench stays within its budget: waits for a quiet machine and
  // second runs only use the time the steps themselves do not need.
  const budgetEnd = performance.now() + (options.budgetSeconds ?? 540) * 1000;
  let stepsLeft = options.ns.length * setups.length;
  const slack = () => budgetEnd - performance.now() - stepsLeft * (options.seconds + 15) * 1000;
  const quietWait = () => Math.max(0, Math.min(90_000, slack() / Math.max(1, stepsLeft)));
  for (const n of options.ns) {
    const results: StepResult[] = [];
    for (const setup of setups) {
      let result = await runStep(setup, n, options.seconds, !!options.feedFirst, quietWait());
      stepsLeft--;
      // Other programs on this machine (tests, builds) disturb a step: run it once more if time allows.
      if (result.ok && result.otherCpuPct >= disturbedPct && slack() > 60_000) {
        console.error(`[fanout] ${setup} N=${n} was disturbed (${f(result.otherCpuPct, 0)} % CPU not ours): running it again`);
        const again = await runStep(setup, n, options.seconds, !!options.feedFirst, quietWait());
        again.retried = true;
        if (!again.ok || again.otherCpuPct >= result.otherCpuPct) {
          result.retried = true;
        } else {
          result = again;
        }
      }
      results.push(result);
    }
    printStep(n, results);
    all.push(...results);
  }
  printSummary(all);
  if (options.json) fs.writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), results: all }, null, 2));
  return all;
}
