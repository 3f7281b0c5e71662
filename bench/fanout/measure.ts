/**
 * One measured step: the receivers, a setup, ffmpeg, a warm-up, then a window
 * over which CPU, packets, loss, drops and the control channel are sampled.
 */
import { buildBare } from './bare.js';
import { debug, sleep, type Closer } from './common.js';
import { buildDiemcau } from './diemcau.js';
import { cpuSeconds, socketInodes, systemBusySeconds, udpDrops } from './proc.js';
import { Receiver } from './receiver.js';
import type { SocketReport } from './receiverProcess.js';
import type { BuiltSetup, ProducerLike } from './setup.js';

export interface KindResult {
  receivedPps: number;
  expectedPps: number;
  lossPct: number;
  /** Streams of that kind that got no packet at all in the window. */
  silentStreams: number;
}

export interface StepResult {
  setup: 'diemcau' | 'bare';
  n: number;
  streams: number;
  windowSeconds: number;
  ok: boolean;
  error?: string;
  workerCpuPct: number[];
  workerConsumers: number[];
  totalWorkerCpuPct: number;
  cpuPerStreamPct: number;
  /** Worker CPU per forwarded packet (µs), forwarded = received + lost at the receivers (+ probation). */
  usPerPacket: number;
  /** RTP that is neither the video nor the audio (mediasoup's bandwidth probation), packets/s. */
  otherRtpPps: number;
  rxPps: number;
  rxMbps: number;
  video: KindResult;
  audio: KindResult;
  lossPct: number;
  /** Loss at the receivers of each worker (diemcau). */
  lossPctPerWorker: number[];
  receiverCpuPct: number;
  receiverDrops: number;
  workerSocketDrops: number;
  ffmpegCpuPct: number;
  mainCpuPct: number;
  /** Busy CPU of the whole machine (200 % = both cores), and what is not ours (kernel softirq for loopback is partly here). */
  systemCpuPct: number;
  otherCpuPct: number;
  /** The step was run twice because others disturbed it; this is the less disturbed run. */
  retried?: boolean;
  /** Busy % of the machine just before the step (others' load). */
  busyBeforePct?: number;
  ingestPps: number;
  ingestLost: number;
  transportsSeconds: number;
  consumersSeconds: number;
  /** Round trip of worker.getResourceUsage() during the window (control channel latency), ms. */
  controlMedianMs: number;
  controlMaxMs: number;
  warmupSeconds: number;
  problems: string[];
}

/**
 * Waits until every receiver gets video, plus 1 s; returns how long it took.
 * A new video consumer waits for the next keyframe (every 2 s; ffmpeg ignores PLIs).
 */
async function warmUp(receiver: Receiver, videoPt: number, n: number): Promise<number> {
  const warmStart = performance.now();
  const warmDeadline = warmStart + 12_000;
  while (performance.now() < warmDeadline) {
    const { sockets: report } = await receiver.request<{ sockets: SocketReport[] }>({ type: 'report' });
    const withVideo = report.filter((s) => s.some(([pt, packets]) => pt === videoPt && packets > 0)).length;
    if (withVideo >= n) break;
    await sleep(500);
  }
  await sleep(1000);
  return (performance.now() - warmStart) / 1000;
}

/** Packets the producers received (and lost, by their sequence numbers), when the worker answered. */
async function ingestStats(producers: ProducerLike[]): Promise<{ packets: number; lost: number; at: number }> {
  let packets = 0;
  let lost = 0;
  const timeout = sleep(3000).then(() => null);
  for (const p of producers) {
    const stats = await Promise.race([p.getStats().catch(() => null), timeout]);
    if (!stats) return { packets: NaN, lost: NaN, at: performance.now() };
    for (const st of stats) {
      packets += st.packetCount;
      lost += st.packetsLost ?? 0;
    }
  }
  return { packets, lost, at: performance.now() };
}

/** The processes and sockets whose counters are read at both ends of the window. */
interface Watched {
  workerPids: number[];
  receiverPid: number;
  ffmpegPid: number | undefined;
  receiverInodes: Set<string>;
  workerInodes: Set<string>;
}

/** CPU seconds of each process and kernel drops on the sockets, now. */
function readCounters(w: Watched) {
  return {
    at: performance.now(),
    workers: w.workerPids.map(cpuSeconds),
    receiver: cpuSeconds(w.receiverPid),
    ffmpeg: cpuSeconds(w.ffmpegPid),
    receiverDrops: udpDrops(w.receiverInodes),
    workerDrops: udpDrops(w.workerInodes),
  };
}

/**
 * While the window runs, times a cheap request to each worker every 500 ms;
 * resolves with the round trips, sorted, once the window is (nearly) over.
 */
async function probeControl(probes: (() => Promise<unknown>)[], windowEnd: number): Promise<number[]> {
  const controlMs: number[] = [];
  while (performance.now() < windowEnd - 500) {
    await Promise.all(
      probes.map(async (probe) => {
        const t = performance.now();
        await Promise.race([probe().catch(() => {}), sleep(5000)]);
        controlMs.push(performance.now() - t);
      }),
    );
    await sleep(500);
  }
  return controlMs.sort((a, b) => a - b);
}

/** Packets and loss of one kind (by payload type) over all receivers. */
function kindResult(report: SocketReport[], pt: number, window: number): KindResult {
  let received = 0;
  let expected = 0;
  let silent = 0;
  for (const socket of report) {
    const ofKind = socket.filter(([p]) => p === pt);
    if (!ofKind.some(([, packets]) => packets > 0)) silent++;
    for (const [, packets, exp] of ofKind) {
      received += packets;
      expected += Math.max(exp, packets);
    }
  }
  return {
    receivedPps: received / window,
    expectedPps: expected / window,
    lossPct: expected ? ((expected - received) / expected) * 100 : 0,
    silentStreams: silent,
  };
}

/**
 * Media packets received and expected, in all and per worker, bytes, and the
 * other RTP: mediasoup also sends bandwidth probation (padding-only RTP, its
 * own SSRC) to consumers, which is not media.
 */
function mediaTotals(report: SocketReport[], built: BuiltSetup) {
  let received = 0;
  let expected = 0;
  let bytes = 0;
  let otherPackets = 0;
  const perWorker = built.workerPids.map(() => ({ received: 0, expected: 0 }));
  report.forEach((socket, i) => {
    for (const [pt, packets, exp, b] of socket) {
      bytes += b;
      if (pt !== built.videoPt && pt !== built.audioPt) {
        otherPackets += packets;
        continue;
      }
      received += packets;
      expected += Math.max(exp, packets);
      const w = perWorker[built.receiverWorker[i] ?? 0];
      w.received += packets;
      w.expected += Math.max(exp, packets);
    }
  });
  return { received, expected, bytes, otherPackets, perWorker };
}

export async function measure(
  setupName: 'diemcau' | 'bare',
  n: number,
  seconds: number,
  closers: Closer[],
  feedFirst: boolean,
): Promise<StepResult> {
  const receiver = new Receiver();
  closers.push(() => receiver.close());
  const ports = await receiver.bind(n);
  debug(`${setupName} n=${n}: ${ports.length} receiver sockets bound`);
  const built = await (setupName === 'diemcau' ? buildDiemcau : buildBare)(n, ports, closers, feedFirst);
  const ffmpegPid = built.startFeed();

  debug(
    `${setupName} n=${n}: built (transports ${built.transportsSeconds.toFixed(1)} s, consumers ${built.consumersSeconds.toFixed(1)} s)`,
  );
  const warmupSeconds = await warmUp(receiver, built.videoPt, n);
  debug(`${setupName} n=${n}: warm after ${warmupSeconds.toFixed(1)} s`);

  const watched: Watched = {
    workerPids: built.workerPids,
    receiverPid: receiver.pid,
    ffmpegPid,
    receiverInodes: socketInodes(receiver.pid),
    workerInodes: new Set(built.workerPids.flatMap((pid) => [...socketInodes(pid)])),
  };
  const ingestBefore = await ingestStats(built.producers);
  const before = { ...readCounters(watched), main: process.cpuUsage(), system: systemBusySeconds() };
  const markedAt = await receiver.request<number>({ type: 'mark' });
  const probing = probeControl(built.probes, performance.now() + seconds * 1000);
  await sleep(seconds * 1000);
  const controlMs = await probing;
  const { at: reportedAt, sockets: report } = await receiver.request<{ at: number; sockets: SocketReport[] }>({ type: 'report' });
  // Packets are counted over the receiver's own window, CPU over ours: both about `seconds` long.
  const window = (reportedAt - markedAt) / 1000;
  const mainCpu = process.cpuUsage(before.main);
  const systemBusy = systemBusySeconds() - before.system;
  const after = readCounters(watched);
  const ingestAfter = await ingestStats(built.producers);
  const cpuWindow = (after.at - before.at) / 1000;

  const pct = (a: number, b: number) => ((b - a) / cpuWindow) * 100;
  const workerCpuPct = built.workerPids.map((_, i) => pct(before.workers[i], after.workers[i]));
  const totalWorkerCpuPct = workerCpuPct.reduce((a, b) => a + b, 0);
  const streams = built.consumersPerWorker.reduce((a, b) => a + b, 0);
  const video = kindResult(report, built.videoPt, window);
  const audio = kindResult(report, built.audioPt, window);
  const { received, expected, bytes, otherPackets, perWorker } = mediaTotals(report, built);
  const workerCpuSeconds = (totalWorkerCpuPct / 100) * window; // over the packets' window
  const receiverCpuPct = pct(before.receiver, after.receiver);
  const ffmpegCpuPct = pct(before.ffmpeg, after.ffmpeg);
  const mainCpuPct = ((mainCpu.user + mainCpu.system) / 1e6 / cpuWindow) * 100;
  const systemCpuPct = (systemBusy / cpuWindow) * 100;
  return {
    setup: setupName,
    n,
    streams,
    windowSeconds: window,
    ok: true,
    workerCpuPct,
    workerConsumers: built.consumersPerWorker,
    totalWorkerCpuPct,
    cpuPerStreamPct: streams ? totalWorkerCpuPct / streams : NaN,
    usPerPacket: expected ? (workerCpuSeconds * 1e6) / (expected + otherPackets) : NaN,
    otherRtpPps: otherPackets / window,
    rxPps: received / window,
    rxMbps: (bytes * 8) / window / 1e6,
    video,
    audio,
    lossPct: expected ? ((expected - received) / expected) * 100 : 0,
    lossPctPerWorker: perWorker.map((w) => (w.expected ? ((w.expected - w.received) / w.expected) * 100 : 0)),
    receiverCpuPct,
    receiverDrops: after.receiverDrops - before.receiverDrops,
    workerSocketDrops: after.workerDrops - before.workerDrops,
    ffmpegCpuPct,
    mainCpuPct,
    systemCpuPct,
    otherCpuPct: systemCpuPct - totalWorkerCpuPct - receiverCpuPct - ffmpegCpuPct - mainCpuPct,
    ingestPps: ((ingestAfter.packets - ingestBefore.packets) / (ingestAfter.at - ingestBefore.at)) * 1000,
    ingestLost: ingestAfter.lost - ingestBefore.lost,
    transportsSeconds: built.transportsSeconds,
    consumersSeconds: built.consumersSeconds,
    controlMedianMs: controlMs.length ? controlMs[controlMs.length >> 1] : NaN,
    controlMaxMs: controlMs.length ? controlMs[controlMs.length - 1] : NaN,
    warmupSeconds,
    problems: built.problems,
  };
}
