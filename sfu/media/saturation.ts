/**
 * Whether a media worker is saturated, judged by the worker itself: its own
 * CPU (a worker is one thread: near a whole core, every packet waits) and its
 * answer to a health probe against its own usual answer. A slow answer while
 * the worker idles says the host is busy (this Node process, other programs),
 * not the worker: that is not the worker's saturation, and warning of it
 * cried wolf in every busy session.
 */

/** A worker using this much of its core has no headroom left. */
export const busyCpuPercent = 85;
/** A reply this many times its usual delay (and this much slower) is a queue in the worker's channel. */
export const slowReplyFactor = 4;
export const slowReplyMarginMs = 100;
/** Below this CPU a worker is not the cause of a slow reply. */
export const activeCpuPercent = 50;
/** How many recent probes make up the usual delay. */
export const baselineProbes = 12;

export interface ProbeReading {
  replyMs: number;
  cpuPercent: number;
}

export type SaturationVerdict = { saturated: false } | { saturated: true; reason: 'cpu' | 'queue'; baselineReplyMs: number };

/** The usual reply delay: the median of the recent probes (a busy moment does not move it). */
export function baselineReply(recentReplyMs: readonly number[]): number {
  if (recentReplyMs.length === 0) return 0;
  const sorted = [...recentReplyMs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function judgeWorker(reading: ProbeReading, recentReplyMs: readonly number[]): SaturationVerdict {
  const baselineReplyMs = baselineReply(recentReplyMs);
  if (reading.cpuPercent >= busyCpuPercent) return { saturated: true, reason: 'cpu', baselineReplyMs };
  const slow = reading.replyMs > baselineReplyMs * slowReplyFactor && reading.replyMs > baselineReplyMs + slowReplyMarginMs;
  if (slow && reading.cpuPercent >= activeCpuPercent) return { saturated: true, reason: 'queue', baselineReplyMs };
  return { saturated: false };
}
