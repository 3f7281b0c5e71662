/**
 * What the duel's two viewers (janusViewer.ts, diemcauViewer.ts) share: the
 * join as one promise — the first video packet, or the first failure, or a
 * timeout that says which stage it stopped at — and the counting of every
 * RTP packet of a werift peer connection's tracks.
 */
import { performance } from 'node:perf_hooks';
import type { MediaStreamTrack, RTCPeerConnection } from 'werift';

export type RtpCounter = (kind: 'audio' | 'video', packet: { sequenceNumber: number; ssrc: number; payloadType: number }) => void;

/** A viewer's join: settled by its first video packet (ms since it started) or its first failure. */
export class FirstVideo {
  readonly startedAt = performance.now();
  readonly promise: Promise<number>;
  #resolve!: (ms: number) => void;
  #reject!: (error: Error) => void;

  constructor() {
    this.promise = new Promise((resolve, reject) => ((this.#resolve = resolve), (this.#reject = reject)));
    this.promise.catch(() => {});
  }

  arrived(): void {
    this.#resolve(performance.now() - this.startedAt);
  }

  /** The first failure settles the join; later ones (the close after it) change nothing. */
  fail(error: unknown): void {
    this.#reject(error instanceof Error ? error : new Error(String(error)));
  }

  /** Runs the join's steps and waits for the first video packet; after timeoutMs fails with timeoutError(). */
  async run(steps: () => Promise<void>, timeoutMs: number, timeoutError: () => Error): Promise<number> {
    const timer = setTimeout(() => this.fail(timeoutError()), timeoutMs);
    try {
      steps().catch((error: unknown) => this.fail(error));
      return await this.promise;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Hands every RTP packet of the tracks `pc` receives to `onRtp`, and calls
 * onVideo at each video packet (the join's first one settles it).
 */
export function countRtp(pc: RTCPeerConnection, onRtp: RtpCounter, onVideo: () => void): void {
  // werift announces a track again at each new offer: count each one once.
  const tracks = new WeakSet<MediaStreamTrack>();
  pc.onTrack.subscribe((track) => {
    if (tracks.has(track)) return;
    tracks.add(track);
    const kind = track.kind === 'audio' ? 'audio' : 'video';
    track.onReceiveRtp.subscribe((rtp) => {
      const { sequenceNumber, ssrc, payloadType } = rtp.header;
      if (kind === 'video') onVideo();
      onRtp(kind, { sequenceNumber, ssrc, payloadType });
    });
  });
}
