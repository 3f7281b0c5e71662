import type { Closer } from './common.js';

export interface ProducerLike {
  kind: string;
  getStats(): Promise<{ packetCount: number; packetsLost?: number }[]>;
}

export interface BuiltSetup {
  /** Media worker pids, by worker index. */
  workerPids: number[];
  /** Worker index of each receiver (same order as the receiver's sockets). */
  receiverWorker: number[];
  /** Consumers that exist, per worker index. */
  consumersPerWorker: number[];
  videoPt: number;
  audioPt: number;
  producers: ProducerLike[];
  /** A cheap request to each worker (getResourceUsage), to time its control channel. */
  probes: (() => Promise<unknown>)[];
  /** Starts ffmpeg (once); returns its pid. */
  startFeed(): number | undefined;
  /** Seconds to create the N transports (and, for bare, the consumers). */
  transportsSeconds: number;
  /** Seconds from goLive to every consumer created (diemcau), or to create them (bare). */
  consumersSeconds: number;
  /** Warnings and errors the platform logged, and worker deaths. */
  problems: string[];
}

/** What both setups feed: the two ingest transports' local ports. */
interface FeedPorts {
  videoPort: number;
  audioPort: number;
}

/**
 * A `startFeed` that starts ffmpeg once (both setups call it after building,
 * or before with --feed-first), closed with the step.
 */
export async function feedStarter(ports: FeedPorts, closers: Closer[], feedFirst: boolean): Promise<() => number | undefined> {
  // Loaded here, not at the top: the receiver process imports none of this.
  const ffmpeg = await import('../../tests/helpers/ffmpeg.js');
  let feed: ReturnType<typeof ffmpeg.feedRtp> | undefined;
  const startFeed = () => {
    feed ??= ffmpeg.feedRtp({ ...ports, pattern: 'testsrc' });
    return feed.process.pid;
  };
  closers.push(() => feed?.stop());
  if (feedFirst) startFeed();
  return startFeed;
}
