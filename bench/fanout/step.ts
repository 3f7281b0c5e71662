/** Running one step within its time limit, on a quiet machine, closing all it opened. */
import { debug, sleep, type Closer } from './common.js';
import { measure, type StepResult } from './measure.js';
import { systemBusySeconds } from './proc.js';

/**
 * Waits (up to `maxMs`) until the machine is quiet: other programs' load
 * (tests, builds) would be counted as ours and starve the workers.
 * Returns the busy % of the machine (200 % = both cores) in the last second.
 */
export async function waitQuiet(maxMs = 60_000, threshold = 15): Promise<number> {
  const deadline = performance.now() + maxMs;
  let busy = NaN;
  let said = false;
  while (true) {
    const a = systemBusySeconds();
    await sleep(1000);
    busy = (systemBusySeconds() - a) * 100;
    if (busy < threshold || performance.now() > deadline) break;
    if (!said)
      console.error(
        `[fanout] the machine is busy (${busy.toFixed(0)} % CPU not ours); waiting up to ${Math.round(maxMs / 1000)} s for it to calm down`,
      );
    said = true;
  }
  return busy;
}

/** What the running step must close, should the bench be interrupted. */
const activeClosers = new Set<Closer[]>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const all = [...activeClosers].flatMap((c) => [...c].reverse());
    void Promise.race([Promise.allSettled(all.map((close) => Promise.resolve().then(close))), sleep(3000)]).then(() => process.exit(130));
  });
}

/** The row of a step that failed or timed out: no figures. */
function failedResult(setupName: 'diemcau' | 'bare', n: number, error: string): StepResult {
  return {
    setup: setupName,
    n,
    streams: 2 * n,
    windowSeconds: 0,
    ok: false,
    error,
    workerCpuPct: [],
    workerConsumers: [],
    totalWorkerCpuPct: NaN,
    cpuPerStreamPct: NaN,
    usPerPacket: NaN,
    otherRtpPps: NaN,
    rxPps: NaN,
    rxMbps: NaN,
    video: { receivedPps: NaN, expectedPps: NaN, lossPct: NaN, silentStreams: NaN },
    audio: { receivedPps: NaN, expectedPps: NaN, lossPct: NaN, silentStreams: NaN },
    lossPct: NaN,
    lossPctPerWorker: [],
    receiverCpuPct: NaN,
    receiverDrops: NaN,
    workerSocketDrops: NaN,
    ffmpegCpuPct: NaN,
    mainCpuPct: NaN,
    systemCpuPct: NaN,
    otherCpuPct: NaN,
    ingestPps: NaN,
    ingestLost: NaN,
    transportsSeconds: NaN,
    consumersSeconds: NaN,
    controlMedianMs: NaN,
    controlMaxMs: NaN,
    warmupSeconds: NaN,
    problems: [],
  };
}

export async function runStep(
  setupName: 'diemcau' | 'bare',
  n: number,
  seconds: number,
  feedFirst: boolean,
  quietWaitMs: number,
): Promise<StepResult> {
  const closers: Closer[] = [];
  activeClosers.add(closers);
  const timeoutMs = 40_000 + seconds * 1000 + n * 80;
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const busyBefore = await waitQuiet(quietWaitMs);
  const running = measure(setupName, n, seconds, closers, feedFirst);
  running.catch(() => {}); // after a timeout it fails as we close what it uses
  let result: StepResult;
  try {
    result = await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    result = failedResult(setupName, n, (error as Error).message);
  } finally {
    clearTimeout(timer);
    for (const close of closers.reverse()) {
      await Promise.race([
        Promise.resolve()
          .then(close)
          .catch(() => {}),
        sleep(5000),
      ]);
    }
  }
  activeClosers.delete(closers);
  result.busyBeforePct = busyBefore;
  // Leave the machine quiet before the next step (ports, exiting processes).
  await sleep(500);
  debug(`${setupName} n=${n} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}
