/**
 * One step of the duel: one SFU, N werift viewers from the load client, a
 * settle time, then a measurement window. Everything started here is closed
 * before it returns, also on failure or time-out.
 */
import { DiemcauSide } from './diemcauSide.js';
import { CpuLimit } from './cpuLimit.js';
import { ClipFeed } from './feed.js';
import { JanusServer, janusAudioPt, janusMountpointId, janusVideoPt } from './janusServer.js';
import { LoadClient } from './loadClientHandle.js';
import { between, quantile, snapshot } from './measure.js';
import { duelAddress } from './netns.js';

export type Sfu = 'janus' | 'diemcau';

export interface StepOptions {
  sfu: Sfu;
  n: number;
  seconds: number;
  settle: number;
  clip: string;
  nominal: { video: number; audio: number };
  rtx: boolean;
  transportCc: boolean;
  concurrency: number;
  /** The SFU's processes held to a % of one core (cpuLimit.ts); none: as much as the machine gives. */
  cpuLimit?: { percentOfCore: number; hostPid?: number };
}

export interface StepResult {
  sfu: Sfu;
  n: number;
  repeat: number;
  ok: boolean;
  error?: string;
  /** Viewers that got video / asked for. */
  joined: number;
  joinFailures: string[];
  joinMedianMs: number;
  joinP95Ms: number;
  windowSeconds: number;
  /** The SFU's own processes in % of one core (Janus: janus; Diemcau: Node + workers). */
  sfuCpuPct: number;
  sfuCpuPerReceiverPct: number;
  clientCpuPct: number;
  ffmpegCpuPct: number;
  /** The whole machine, in % of all its cores. */
  machinePct: number;
  videoLossPct: number;
  audioLossPct: number;
  /** Worst receiver's video loss. */
  worstVideoLossPct: number;
  /** Packets per second and receiver (video + audio) against the clip's nominal rate. */
  rateVsNominal: number;
  udpRcvbufErrors: number;
  udpInErrors: number;
  /** With a CPU budget: the budget, and the share of the window the SFU was held back by it (ms per s, %). */
  cpuLimitPct?: number;
  throttledPct?: number;
  negotiated?: { rtx: boolean; transportCc: boolean };
  /** Load client above ~70 % of a core or machine above ~60 % busy: not a measurement of the SFU. */
  valid: boolean;
  invalidWhy: string[];
}

const clientLimitPct = 70;
const machineLimitPct = 60;

function pct(lost: number, expected: number): number {
  return expected > 0 ? (Math.max(0, lost) / expected) * 100 : NaN;
}

export async function runDuelStep(options: StepOptions, repeat: number): Promise<StepResult> {
  const { sfu, n } = options;
  const closers: (() => Promise<void> | void)[] = [];
  const result: StepResult = {
    sfu,
    n,
    repeat,
    ok: false,
    joined: 0,
    joinFailures: [],
    joinMedianMs: NaN,
    joinP95Ms: NaN,
    windowSeconds: 0,
    sfuCpuPct: NaN,
    sfuCpuPerReceiverPct: NaN,
    clientCpuPct: NaN,
    ffmpegCpuPct: NaN,
    machinePct: NaN,
    videoLossPct: NaN,
    audioLossPct: NaN,
    worstVideoLossPct: NaN,
    rateVsNominal: NaN,
    udpRcvbufErrors: 0,
    udpInErrors: 0,
    valid: false,
    invalidWhy: [],
  };
  // The whole step is bounded: start-up, joins (a few at a time), settle, window, close.
  const limitMs = (40 + options.settle + options.seconds) * 1000 + n * 400;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`step did not finish in ${Math.round(limitMs / 1000)} s`)), limitMs);
  });
  try {
    await Promise.race([measure(options, result, closers), timeout]);
    result.ok = true;
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    clearTimeout(timer);
    for (const close of closers.reverse()) {
      await Promise.resolve()
        .then(close)
        .catch(() => {});
    }
  }
  return result;
}

async function measure(options: StepOptions, result: StepResult, closers: (() => Promise<void> | void)[]): Promise<void> {
  const { sfu, n } = options;
  let sfuPids: number[];
  let open: Parameters<LoadClient['open']>[0];
  let feed: ClipFeed;
  // The budget holds the SFU's processes only: the feed and the load client are taken back out.
  const limit = options.cpuLimit ? new CpuLimit(options.cpuLimit.percentOfCore, options.cpuLimit.hostPid) : undefined;
  if (limit) {
    closers.push(() => limit.close());
    result.cpuLimitPct = limit.percentOfCore;
  }
  const common = { type: 'open' as const, count: n, concurrency: options.concurrency, rtx: options.rtx, transportCc: options.transportCc };
  if (sfu === 'janus') {
    const janus = new JanusServer({ iceAddress: duelAddress, httpPort: 8088, videoPort: 5004, audioPort: 5002 });
    closers.push(() => janus.close());
    await janus.start();
    sfuPids = [janus.pid!];
    limit?.add(janus.pid);
    feed = new ClipFeed(options.clip, {
      videoPort: 5004,
      audioPort: 5002,
      videoPt: janusVideoPt,
      audioPt: janusAudioPt,
      videoSsrc: 1111,
      audioSsrc: 2222,
    });
    open = { ...common, sfu, janus: { url: janus.url, mountpointId: janusMountpointId }, localAddress: duelAddress };
  } else {
    const diemcau = new DiemcauSide();
    closers.push(() => diemcau.close());
    await diemcau.start();
    sfuPids = diemcau.pids;
    // The bench's own process is Diemcau's server: its children from here on start inside, and are taken out.
    for (const pid of sfuPids) limit?.add(pid);
    feed = new ClipFeed(options.clip, diemcau.feed);
    open = { ...common, sfu, diemcau: { url: diemcau.signalingUrl, tokens: await diemcau.tokens(n) } };
  }
  closers.push(() => feed.close());
  const client = new LoadClient();
  closers.push(() => client.close());
  limit?.release(feed.pid);
  limit?.release(client.pid);

  const opened = await client.open(open, 30_000 + n * 400);
  result.joined = opened.joinMs.length;
  result.joinFailures = opened.failures.slice(0, 5);
  result.joinMedianMs = quantile(opened.joinMs, 0.5);
  result.joinP95Ms = quantile(opened.joinMs, 0.95);
  result.negotiated = opened.negotiated;
  if (!opened.joinMs.length) throw new Error(`no viewer joined: ${opened.failures[0] ?? '?'}`);

  await new Promise((r) => setTimeout(r, options.settle * 1000));
  const groups = { sfu: sfuPids, client: [client.pid], ffmpeg: [feed.pid] };
  const before = snapshot(groups);
  const throttledBefore = limit?.throttledMs() ?? NaN;
  await client.mark();
  await new Promise((r) => setTimeout(r, options.seconds * 1000));
  const report = await client.report();
  const after = snapshot(groups);
  const d = between(before, after);
  if (limit) result.throttledPct = ((limit.throttledMs() - throttledBefore) / (d.seconds * 1000)) * 100;

  result.windowSeconds = d.seconds;
  result.sfuCpuPct = d.cpuPct.sfu;
  result.sfuCpuPerReceiverPct = d.cpuPct.sfu / n;
  result.clientCpuPct = d.cpuPct.client;
  result.ffmpegCpuPct = d.cpuPct.ffmpeg;
  result.machinePct = d.machinePct;
  result.udpRcvbufErrors = d.udpDrops.rcvbufErrors;
  result.udpInErrors = d.udpDrops.inErrors;
  let vp = 0;
  let ve = 0;
  let ap = 0;
  let ae = 0;
  let worst = 0;
  for (const r of report.receivers) {
    vp += r.video.packets;
    ve += r.video.expected;
    ap += r.audio.packets;
    ae += r.audio.expected;
    worst = Math.max(worst, pct(r.video.expected - r.video.packets, r.video.expected) || 0);
  }
  // A viewer that failed to join counts as receiving nothing of what the others expected.
  const missing = n - report.receivers.length;
  const perVideo = report.receivers.length ? ve / report.receivers.length : 0;
  const perAudio = report.receivers.length ? ae / report.receivers.length : 0;
  result.videoLossPct = pct(ve - vp + missing * perVideo, ve + missing * perVideo);
  result.audioLossPct = pct(ae - ap + missing * perAudio, ae + missing * perAudio);
  result.worstVideoLossPct = missing ? 100 : worst;
  const nominal = options.nominal.video + options.nominal.audio;
  result.rateVsNominal = report.receivers.length ? (vp + ap) / report.receivers.length / d.seconds / nominal : NaN;
  if (result.clientCpuPct > clientLimitPct) result.invalidWhy.push(`load client ${Math.round(result.clientCpuPct)} % of a core`);
  if (result.machinePct > machineLimitPct) result.invalidWhy.push(`machine ${Math.round(result.machinePct)} % busy`);
  result.valid = !result.invalidWhy.length;
}
