import { Device, types as ms } from 'mediasoup-client';
import { closeCodes, type ReadinessCheck, type ReadinessFigures, type ReadinessState } from '@protocol';
import { Emitter } from '@/client/Emitter';
import { SignalingClient } from '@/client/SignalingClient';
import { NoisePicture } from './NoisePicture';

/** What the network part of the check measured (the rest of the figures come from the devices). */
export type NetworkFigures = Pick<ReadinessFigures, 'transport' | 'rttMs' | 'uploadKbps' | 'downloadKbps' | 'loss'>;

export type NetworkProbeEvents = {
  /** The point's readiness as the server keeps it: read at each (re)connection. */
  state: [state: ReadinessState];
  /** The organisers asked this point to check again. */
  requested: [requestedAt: number];
};

/** Longest wait before connecting again after the socket dropped. */
const maxRetryMs = 30_000;

/** How long the echo is measured once it flows: long enough for the sender's estimate to ramp up. */
const measureMs = 6000;
/** How long ICE and DTLS may take before the network counts as unreachable. */
const connectTimeoutMs = 10_000;
/** The most the test picture may send: the server's own cap on what one participant sends. */
const maxTestBitrate = 2_500_000;

const unreachable: NetworkFigures = { transport: null, rttMs: null, uploadKbps: null, downloadKbps: null, loss: null };

/**
 * A point page's readiness socket: its own signaling connection with the
 * point's token that never joins the session (the point is not shown as
 * present while it checks). It reads the point's latest check, hears the
 * organisers' requests to check again, and runs the network echo: a noise
 * picture (which no encoder can shrink, so the rate measured is what the
 * link carries, not what a still camera needs) sent to the media server and
 * received back, measured from the browser's own statistics.
 */
export class NetworkProbe extends Emitter<NetworkProbeEvents> {
  #signaling!: SignalingClient;
  #signalingUrl: string;
  readonly #token: string;
  #closed = false;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(signalingUrl: string, token: string) {
    super();
    this.#signalingUrl = signalingUrl;
    this.#token = token;
    this.#connect();
  }

  /**
   * Connects, reads the point's state, and stays connected: a dropped socket
   * connects again (backing off), so a request made meanwhile still shows.
   * A link the server refuses, or a session over, ends it.
   */
  #connect(): void {
    const signaling = new SignalingClient(`${this.#signalingUrl}?token=${encodeURIComponent(this.#token)}`);
    this.#signaling = signaling;
    signaling.on('notification', (message) => {
      if (message.notification === 'readiness.requested') this.emit('requested', message.data.requestedAt);
    });
    signaling.on('close', (code, reason) => {
      if (this.#closed || signaling !== this.#signaling) return;
      if (code === closeCodes.unauthorized || code === closeCodes.sessionEnded) return;
      if (code === closeCodes.moved && /^https?:\/\//.test(reason)) {
        // The session runs on another node: its sockets (and the organisers' requests) are there.
        this.#signalingUrl = `${reason.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
        this.#connect();
        return;
      }
      const delay = Math.min(maxRetryMs, 1000 * 2 ** this.#retries++);
      this.#retryTimer = setTimeout(() => this.#connect(), delay);
    });
    signaling.opened
      .then(() => signaling.request('readiness.status', {}))
      .then((state) => {
        this.#retries = 0;
        this.emit('state', state);
      })
      // Not connected (yet): the close handler above tries again.
      .catch(() => undefined);
  }

  /** Sends the figures: the server judges them and keeps the result for the organisers. */
  finish(figures: ReadinessFigures): Promise<ReadinessCheck> {
    return this.#signaling.request('readiness.finish', { figures });
  }

  /** Runs the echo; a network the media cannot cross reports as unreachable rather than throwing. */
  async measure(): Promise<NetworkFigures> {
    await this.#signaling.opened;
    const signaling = this.#signaling;
    const { rtpCapabilities } = await signaling.request('router.capabilities', {});
    const device = new Device();
    await device.load({ routerRtpCapabilities: rtpCapabilities });
    const started = await signaling.request('readiness.start', {
      rtpCapabilities: device.rtpCapabilities as unknown as { codecs: Record<string, unknown>[] },
    });
    const send = device.createSendTransport(started.send as unknown as ms.TransportOptions);
    const recv = device.createRecvTransport(started.recv as unknown as ms.TransportOptions);
    const noise = new NoisePicture();
    try {
      for (const transport of [send, recv]) {
        transport.on('connect', ({ dtlsParameters }, callback, errback) => {
          signaling.request('readiness.connect', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
        });
      }
      send.on('produce', ({ rtpParameters }, callback, errback) => {
        signaling.request('readiness.produce', { kind: 'video', rtpParameters }).then((answer) => {
          echo = answer.consumer;
          callback({ id: answer.producerId });
        }, errback);
      });
      let echo: { id: string; producerId: string; rtpParameters: Record<string, unknown> } | undefined;
      await send.produce({
        track: noise.track,
        encodings: [{ maxBitrate: maxTestBitrate }],
        codecOptions: { videoGoogleStartBitrate: 1000 },
        stopTracks: false,
      });
      if (!(await connected(send))) return unreachable;
      const consumer = await recv.consume({
        id: echo!.id,
        producerId: echo!.producerId,
        kind: 'video',
        rtpParameters: echo!.rtpParameters as unknown as ms.RtpParameters,
      });
      await signaling.request('readiness.resume', {});
      if (!(await connected(recv))) return unreachable;
      const figures = await sample(send, recv, Math.min(measureMs, started.maxDurationMs - 3000));
      consumer.close();
      return figures;
    } finally {
      noise.stop();
      send.close();
      recv.close();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#signaling.close();
  }
}

/** Waits for ICE and DTLS: false when the transport fails or takes too long. */
function connected(transport: ms.Transport): Promise<boolean> {
  if (transport.connectionState === 'connected') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), connectTimeoutMs);
    transport.on('connectionstatechange', (state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        resolve(true);
      } else if (state === 'failed' || state === 'closed') {
        clearTimeout(timer);
        resolve(false);
      }
    });
  });
}

interface Counters {
  at: number;
  sent: number;
  received: number;
  lost: number;
  packets: number;
}

/** Reads both transports once a second: the best second's rates, the loss so far, the path's round trip and protocol. */
async function sample(send: ms.Transport, recv: ms.Transport, durationMs: number): Promise<NetworkFigures> {
  let upload = 0;
  let download = 0;
  let previous: Counters | undefined;
  let last: Counters | undefined;
  let path: { protocol: 'udp' | 'tcp'; rttMs: number | null } | null = null;
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const [out, inbound] = await Promise.all([send.getStats(), recv.getStats()]);
    const now: Counters = { at: performance.now(), sent: 0, received: 0, lost: 0, packets: 0 };
    out.forEach((s: { type: string; kind?: string; bytesSent?: number }) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') now.sent += s.bytesSent ?? 0;
    });
    inbound.forEach((s: { type: string; kind?: string; bytesReceived?: number; packetsLost?: number; packetsReceived?: number }) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      now.received += s.bytesReceived ?? 0;
      now.lost += Math.max(0, s.packetsLost ?? 0);
      now.packets += s.packetsReceived ?? 0;
    });
    path = selectedPath(out) ?? path;
    if (previous) {
      const seconds = (now.at - previous.at) / 1000;
      upload = Math.max(upload, ((now.sent - previous.sent) * 8) / 1000 / seconds);
      download = Math.max(download, ((now.received - previous.received) * 8) / 1000 / seconds);
    }
    previous = now;
    last = now;
  }
  const total = last ? last.lost + last.packets : 0;
  return {
    transport: path?.protocol ?? null,
    rttMs: path?.rttMs ?? null,
    uploadKbps: Math.round(upload),
    downloadKbps: Math.round(download),
    loss: total > 0 ? Math.round((last!.lost / total) * 10_000) / 10_000 : null,
  };
}

/** The candidate pair the connection uses: how media travels (UDP, or TCP where UDP is blocked) and its round trip. */
function selectedPath(report: RTCStatsReport): { protocol: 'udp' | 'tcp'; rttMs: number | null } | null {
  let pairId: string | undefined;
  report.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  const pair = pairId ? (report.get(pairId) as { localCandidateId?: string; currentRoundTripTime?: number } | undefined) : undefined;
  if (!pair) return null;
  const local = pair.localCandidateId ? (report.get(pair.localCandidateId) as { protocol?: string } | undefined) : undefined;
  const protocol = local?.protocol === 'tcp' ? 'tcp' : 'udp';
  const rtt = pair.currentRoundTripTime;
  return { protocol, rttMs: typeof rtt === 'number' ? Math.round(rtt * 1000) : null };
}
