/**
 * One Janus streaming viewer without a browser, the counterpart of
 * diemcauViewer.ts for the duel: Janus's HTTP API (create → attach
 * janus.plugin.streaming → watch → Janus's offer → werift's answer → start,
 * events by long poll, a keepalive every 25 s) and a werift peer connection
 * receiving the mountpoint over ICE, DTLS and SRTP.
 *
 * What is negotiated, as diemcauViewer.ts does unless the caller turns it
 * off: NACK (werift asks for lost video packets), RTX if Janus offers it
 * (werift unwraps retransmissions to the original stream), PLI, and
 * transport-cc with its header extension (werift sends transport-wide
 * feedback; Janus only reads it, it has no send-side estimate).
 */
import { RTCPeerConnection, RTCRtpCodecParameters, useTransportWideCC } from 'werift';
import { z } from 'zod';
import { countRtp, FirstVideo, type RtpCounter } from './firstVideo.js';

export interface JanusViewerOptions {
  /** Janus's HTTP API base, e.g. http://127.0.0.1:8088/janus. */
  janusUrl: string;
  mountpointId: number;
  /** Called for every RTP packet of the mountpoint (retransmissions unwrapped to the original stream). */
  onRtp: RtpCounter;
  /** Limit on everything up to the first video packet (20 s by default). */
  timeoutMs?: number;
  /** Answer Janus's RTX (true by default, as browsers do). */
  rtx?: boolean;
  /** Negotiate transport-cc and its header extension (true by default, as browsers do). */
  transportCc?: boolean;
  /** The only local address werift gathers a candidate on (all but loopback otherwise). */
  localAddress?: string;
}

export interface JanusViewerHandle {
  /** Milliseconds from the call to the first video packet. */
  joinMs: number;
  /** What the answer took of Janus's offer: RTX and transport-cc on or off. */
  negotiated: { rtx: boolean; transportCc: boolean };
  close(): Promise<void>;
}

/** The viewer could not join or receive: Janus refused, a request failed, or a step took longer than allowed. */
export class JanusViewerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JanusViewerError';
  }
}

const idReplySchema = z.object({ janus: z.literal('success'), data: z.object({ id: z.number() }) });
const eventSchema = z.looseObject({
  janus: z.string(),
  sender: z.number().optional(),
  plugindata: z.looseObject({ data: z.looseObject({ error: z.string().optional(), error_code: z.number().optional() }) }).optional(),
  jsep: z.object({ type: z.enum(['offer', 'answer']), sdp: z.string() }).optional(),
  error: z.object({ code: z.number(), reason: z.string() }).optional(),
});
type JanusEvent = z.infer<typeof eventSchema>;

let transactions = 0;
const transaction = () => `duel-${process.pid}-${++transactions}`;

/** A Janus viewer: one session, one streaming handle, one werift peer connection. */
class JanusViewer {
  readonly #options: JanusViewerOptions;
  readonly #joined = new FirstVideo();
  readonly #abort = new AbortController();
  #session: number | undefined;
  #handle: number | undefined;
  #pc: RTCPeerConnection | undefined;
  #keepalive: NodeJS.Timeout | undefined;
  #closed = false;
  negotiated = { rtx: false, transportCc: false };
  #offer!: (sdp: string) => void;
  readonly #offerPromise: Promise<string>;

  constructor(options: JanusViewerOptions) {
    this.#options = options;
    this.#offerPromise = new Promise((resolve) => (this.#offer = resolve));
  }

  async open(): Promise<number> {
    let stage = 'creating the session';
    const steps = async () => {
      this.#session = idReplySchema.parse(await this.#post('', { janus: 'create' })).data.id;
      void this.#poll();
      this.#keepalive = setInterval(() => void this.#post(`/${this.#session}`, { janus: 'keepalive' }).catch(() => {}), 25_000);
      stage = 'attaching the streaming plugin';
      this.#handle = idReplySchema.parse(
        await this.#post(`/${this.#session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' }),
      ).data.id;
      stage = 'watch: waiting for the offer';
      await this.#message({ request: 'watch', id: this.#options.mountpointId });
      const offer = await Promise.race([this.#offerPromise, this.#joined.promise.then(() => '')]);
      stage = 'answering';
      const pc = this.#createPeerConnection();
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await this.#gathered(pc);
      const answer = pc.localDescription!.sdp;
      this.negotiated = { rtx: /a=rtpmap:\d+ rtx\//i.test(answer), transportCc: /transport-wide-cc/i.test(answer) };
      stage = 'start: ICE, DTLS and the first video packet';
      await this.#message({ request: 'start' }, { type: 'answer', sdp: pc.localDescription!.sdp });
    };
    const timeoutMs = this.#options.timeoutMs ?? 20_000;
    try {
      return await this.#joined.run(steps, timeoutMs, () => new JanusViewerError(`no video after ${timeoutMs} ms (${stage})`));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new JanusViewerError('viewer closed'));
    clearInterval(this.#keepalive);
    if (this.#session !== undefined) {
      // Destroying the session hangs up and detaches the handle on Janus's side.
      await this.#post(`/${this.#session}`, { janus: 'destroy' }).catch(() => {});
    }
    this.#abort.abort();
    await this.#pc?.close();
  }

  #fail(error: Error): void {
    this.#joined.fail(error);
  }

  async #post(pathname: string, body: Record<string, unknown>): Promise<unknown> {
    const res = await fetch(`${this.#options.janusUrl}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, transaction: transaction() }),
      signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(10_000)]),
    });
    if (!res.ok) throw new JanusViewerError(`janus ${String(body.janus)}: HTTP ${res.status}`);
    const reply = eventSchema.parse(await res.json());
    if (reply.janus === 'error') throw new JanusViewerError(`janus ${String(body.janus)}: ${reply.error?.code} ${reply.error?.reason}`);
    return reply;
  }

  async #message(body: Record<string, unknown>, jsep?: { type: 'answer'; sdp: string }): Promise<void> {
    await this.#post(`/${this.#session}/${this.#handle}`, { janus: 'message', body, ...(jsep ? { jsep } : {}) });
  }

  /** Janus's events for this session, by long poll, until the viewer closes. */
  async #poll(): Promise<void> {
    while (!this.#closed) {
      try {
        const res = await fetch(`${this.#options.janusUrl}/${this.#session}?maxev=10`, { signal: this.#abort.signal });
        if (!res.ok) throw new JanusViewerError(`janus long poll: HTTP ${res.status}`);
        const body: unknown = await res.json();
        for (const item of Array.isArray(body) ? body : [body]) this.#onEvent(eventSchema.parse(item));
      } catch (error) {
        if (this.#closed) return;
        this.#fail(error instanceof Error ? error : new JanusViewerError(String(error)));
        return;
      }
    }
  }

  #onEvent(event: JanusEvent): void {
    if (event.janus === 'event') {
      const error = event.plugindata?.data.error;
      if (error) return this.#fail(new JanusViewerError(`streaming plugin: ${event.plugindata?.data.error_code} ${error}`));
      if (event.jsep?.type === 'offer') this.#offer(event.jsep.sdp);
    } else if (event.janus === 'hangup') {
      this.#fail(new JanusViewerError('janus hung up'));
    }
    // keepalive, webrtcup, media, slowlink: nothing for a counting receiver.
  }

  /** Waits until werift has its candidates in the local description (Janus is not sent trickled ones). */
  async #gathered(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  #createPeerConnection(): RTCPeerConnection {
    const rtx = this.#options.rtx ?? true;
    const transportCc = this.#options.transportCc ?? true;
    const rtcpFeedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, ...(transportCc ? [{ type: 'transport-cc' }] : [])];
    const headerExtensions = transportCc ? [useTransportWideCC()] : [];
    const local = this.#options.localAddress;
    const pc = new RTCPeerConnection({
      codecs: {
        audio: [
          new RTCRtpCodecParameters({
            mimeType: 'audio/opus',
            clockRate: 48000,
            channels: 2,
            rtcpFeedback: transportCc ? [{ type: 'transport-cc' }] : [],
          }),
        ],
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback }),
          ...(rtx ? [new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000 })] : []),
        ],
      },
      headerExtensions: { audio: headerExtensions, video: headerExtensions },
      iceServers: [],
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
      ...(local ? { iceInterfaceAddresses: { udp4: local } } : {}),
    });
    this.#pc = pc;
    countRtp(pc, this.#options.onRtp, () => this.#joined.arrived());
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed') this.#fail(new JanusViewerError('ICE or DTLS failed'));
    });
    return pc;
  }
}

/**
 * Watches a Janus streaming mountpoint as one WebRTC receiver and resolves
 * once its first video packet arrived; onRtp counts every packet after that.
 */
export async function openJanusViewer(options: JanusViewerOptions): Promise<JanusViewerHandle> {
  const viewer = new JanusViewer(options);
  const joinMs = await viewer.open();
  return { joinMs, negotiated: viewer.negotiated, close: () => viewer.close() };
}
