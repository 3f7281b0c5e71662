import { z } from 'zod';
import type { SrtLinkStats } from '../../../protocol/index.js';

/**
 * One statistics report of srt-live-transmit (`-pf:json`), one JSON object a
 * line. Its counters are those of the interval since the previous report
 * (libsrt's srt_bstats with clear=1), except the link and buffer readings,
 * which are instantaneous. Only the fields read here are checked; libsrt
 * versions add others.
 */
/** libsrt's counters and readings are never negative; one that is, or one past 2^53 (sums of them would reach Infinity, which JSON sends as null), is not a report. */
const reading = z.number().nonnegative().max(Number.MAX_SAFE_INTEGER);
const reportSchema = z.object({
  link: z.object({ rtt: reading }),
  recv: z.object({
    packets: reading,
    packetsUnique: reading,
    packetsLost: reading,
    packetsDropped: reading,
    packetsRetransmitted: reading,
    msBuf: reading,
    mbitRate: reading,
    msTsbPdDelay: reading,
  }),
});
export type SrtStatsReport = z.infer<typeof reportSchema>;

/** A statistics line of srt-live-transmit, or null for anything else (a cut line, a log line, a caller's garbage cannot reach it). */
export function parseSrtStatsReport(line: string): SrtStatsReport | null {
  if (!line.startsWith('{')) return null;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return null;
  }
  return reportSchema.safeParse(json).data ?? null;
}

/** The loss shown is that of the reports of the last few seconds: one report of ~100 packets is too few to say a percentage. */
const lossWindowMs = 3000;
/** Without a report for this long the caller sends nothing (a report comes every ~100 packets): its rate is 0, not the last one. */
const staleMs = 3000;

interface Interval {
  at: number;
  unique: number;
  lost: number;
}

/**
 * What the operator sees of one SRT caller's link: the latest readings
 * (RTT, receive rate, buffer) and the counters summed since it connected.
 */
export class SrtLinkMeter {
  #latest: SrtStatsReport['recv'] | null = null;
  #rttMs = 0;
  #at = 0;
  #received = 0;
  #lost = 0;
  #dropped = 0;
  #retransmitted = 0;
  #recent: Interval[] = [];

  /** Takes one report, received at `now` (ms). */
  add(report: SrtStatsReport, now: number): void {
    const { recv } = report;
    this.#latest = recv;
    this.#rttMs = report.link.rtt;
    this.#at = now;
    this.#received += recv.packets;
    this.#lost += recv.packetsLost;
    this.#dropped += recv.packetsDropped;
    this.#retransmitted += recv.packetsRetransmitted;
    this.#recent.push({ at: now, unique: recv.packetsUnique, lost: recv.packetsLost });
    this.#recent = this.#recent.filter((i) => now - i.at <= lossWindowMs);
  }

  /** The link as of `now`; null before the first report. */
  stats(now: number): SrtLinkStats | null {
    const recv = this.#latest;
    if (!recv) return null;
    const stale = now - this.#at > staleMs;
    const recent = stale ? [] : this.#recent.filter((i) => now - i.at <= lossWindowMs);
    const lost = recent.reduce((sum, i) => sum + i.lost, 0);
    const expected = recent.reduce((sum, i) => sum + i.unique, 0) + lost;
    return {
      rttMs: round(this.#rttMs, 3),
      receiveMbps: stale ? 0 : round(recv.mbitRate, 3),
      lossPercent: expected > 0 ? round((100 * lost) / expected, 2) : 0,
      packetsReceived: this.#received,
      packetsLost: this.#lost,
      packetsRetransmitted: this.#retransmitted,
      packetsDropped: this.#dropped,
      receiveBufferMs: recv.msBuf,
      latencyMs: recv.msTsbPdDelay,
      updatedAt: this.#at,
    };
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
