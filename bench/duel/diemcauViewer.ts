/**
 * One Diemcau viewer without a browser, for the fan-out duel against Janus:
 * it joins a session over the real signaling socket as a point page does
 * (router.capabilities → join → transport.create recv → consumer.new →
 * consumer.resume) and receives the program over WebRTC with werift, a
 * WebRTC stack in TypeScript, counting the RTP packets it gets.
 *
 * mediasoup offers (ICE-lite, DTLS actpass) and werift answers: the offer is
 * written here from the recv transport's ICE/DTLS parameters and each
 * consumer's rtpParameters (one m-line per consumer, bundled), the answer's
 * fingerprint goes back with `transport.connect` (werift is the DTLS client).
 * A consumer that arrives later is a new offer on the same peer connection.
 *
 * What is on, as a browser would have it unless the caller turns it off:
 * NACK (werift asks for lost video packets), RTX (retransmissions on their own
 * SSRC, unwrapped by werift), PLI/FIR offered (werift sends them only when
 * asked; none here), goog-remb offered (werift never sends REMB as a
 * receiver), transport-cc with the transport-wide sequence extension (werift
 * answers with transport-wide feedback every 100 ms, so mediasoup runs its
 * send-side estimate).
 */
import { performance } from 'node:perf_hooks';
import sdpTransform from 'sdp-transform';
import { RTCPeerConnection, RTCRtpCodecParameters, useTransportWideCC } from 'werift';
import WebSocket from 'ws';
import { z } from 'zod';
import type { RequestData, RequestMethod, ResponseData } from '../../protocol/index.js';
import { countRtp, FirstVideo, type RtpCounter } from './firstVideo.js';

export interface DiemcauViewerOptions {
  /** The signaling socket's URL without the token, e.g. ws://127.0.0.1:8080/ws. */
  url: string;
  /** A session token with a role that receives media (viewer, point). */
  token: string;
  /** Reach the SFU at this address instead of the one its ICE candidates announce (a load client inside a network namespace). */
  announcedAddress?: string;
  /** Called for every RTP packet of the program (retransmissions unwrapped to the original stream). */
  onRtp: RtpCounter;
  /** Limit on everything up to the first video packet (20 s by default). */
  timeoutMs?: number;
  /** Negotiate RTX (true by default, as browsers do). */
  rtx?: boolean;
  /** Negotiate transport-cc and its header extension (true by default, as browsers do). */
  transportCc?: boolean;
  /** The only local address werift gathers a candidate on (127.0.0.1 when the SFU is reached on loopback, else all but loopback). */
  localAddress?: string;
}

export interface DiemcauViewerHandle {
  /** Milliseconds from the call to the first program video packet. */
  joinMs: number;
  /** What the program's consumers carry: RTX and transport-cc on or off (the server may refuse what the viewer offers). */
  negotiated: { rtx: boolean; transportCc: boolean };
  /** Milliseconds from the call at which each step ended: join, transport, first answer, DTLS connected, first video packet. */
  steps: Partial<Record<'join' | 'transport' | 'answer' | 'connected' | 'firstVideo', number>>;
  close(): Promise<void>;
}

/** The viewer could not join or receive: the server refused, the socket closed, or a step took longer than allowed. */
export class DiemcauViewerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DiemcauViewerError';
  }
}

// ---- What the viewer reads from the server (checked: the offer is built from it) ----

const replySchema = z.union([
  z.object({ id: z.number(), ok: z.literal(true), data: z.unknown() }),
  z.object({ id: z.number(), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
const notificationSchema = z.object({ notification: z.string(), data: z.unknown() });

const capabilityCodecSchema = z.looseObject({
  kind: z.enum(['audio', 'video']),
  mimeType: z.string(),
  preferredPayloadType: z.number().int(),
  clockRate: z.number().int(),
  channels: z.number().int().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
const routerCapabilitiesSchema = z.object({
  rtpCapabilities: z.looseObject({
    codecs: z.array(capabilityCodecSchema),
    headerExtensions: z
      .array(z.looseObject({ kind: z.enum(['audio', 'video']), uri: z.string(), preferredId: z.number().int() }))
      .optional(),
  }),
});

const transportOptionsSchema = z.object({
  id: z.string(),
  iceParameters: z.looseObject({ usernameFragment: z.string(), password: z.string() }),
  iceCandidates: z.array(
    z.looseObject({
      foundation: z.string(),
      priority: z.number(),
      // mediasoup names it `address`; older versions `ip`.
      address: z.string().optional(),
      ip: z.string().optional(),
      protocol: z.enum(['udp', 'tcp']),
      port: z.number().int(),
      type: z.string(),
    }),
  ),
  dtlsParameters: z.looseObject({ fingerprints: z.array(z.object({ algorithm: z.string(), value: z.string() })).min(1) }),
});
type TransportOptions = z.infer<typeof transportOptionsSchema>;

const consumerSchema = z.object({
  consumerId: z.string(),
  kind: z.enum(['audio', 'video']),
  rtpParameters: z.looseObject({
    mid: z.string().optional(),
    codecs: z
      .array(
        z.object({
          mimeType: z.string(),
          payloadType: z.number().int(),
          clockRate: z.number().int(),
          channels: z.number().int().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
          rtcpFeedback: z.array(z.object({ type: z.string(), parameter: z.string().optional() })).optional(),
        }),
      )
      .min(1),
    headerExtensions: z.array(z.looseObject({ uri: z.string(), id: z.number().int() })).optional(),
    encodings: z.array(z.looseObject({ ssrc: z.number().int(), rtx: z.object({ ssrc: z.number().int() }).optional() })).min(1),
    rtcp: z.looseObject({ cname: z.string().optional() }).optional(),
  }),
});
type ConsumerParams = z.infer<typeof consumerSchema>;

// ---- What werift receives ----------------------------------------------------------

const h264Profile = '42e01f';
const transportCcUri = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';

function feedbackFor(kind: 'audio' | 'video', transportCc: boolean): { type: string; parameter?: string }[] {
  const twcc = transportCc ? [{ type: 'transport-cc' }] : [];
  if (kind === 'audio') return twcc;
  return [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, ...twcc];
}

/** The router's codecs werift can take, with the feedback werift handles: what `join` announces. */
function receiveCapabilities(router: z.infer<typeof routerCapabilitiesSchema>['rtpCapabilities'], rtx: boolean, transportCc: boolean) {
  const media = router.codecs.filter((c) => {
    const mime = c.mimeType.toLowerCase();
    if (mime === 'audio/opus' || mime === 'video/vp8') return true;
    return (
      mime === 'video/h264' &&
      Number(c.parameters?.['packetization-mode']) === 1 &&
      String(c.parameters?.['profile-level-id']).toLowerCase() === h264Profile
    );
  });
  const payloadTypes = new Set(media.map((c) => c.preferredPayloadType));
  const retransmission = rtx
    ? router.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/rtx' && payloadTypes.has(Number(c.parameters?.apt)))
    : [];
  return {
    codecs: [
      ...media.map((c) => ({ ...c, rtcpFeedback: feedbackFor(c.kind, transportCc) })),
      ...retransmission.map((c) => ({ ...c, rtcpFeedback: [] })),
    ],
    headerExtensions: transportCc ? (router.headerExtensions ?? []).filter((e) => e.uri === transportCcUri) : [],
  };
}

/** Where one consumer stands in the negotiation. */
interface ConsumerEntry {
  params: ConsumerParams;
  mid: string;
  /** In an answer werift has applied (then resumed on the server). */
  negotiated: boolean;
  closed: boolean;
}

/** A Diemcau viewer: one signaling socket, one werift peer connection, the program's consumers. */
class DiemcauViewer {
  readonly #options: DiemcauViewerOptions;
  readonly #rtx: boolean;
  readonly #transportCc: boolean;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (data: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #pc: RTCPeerConnection | undefined;
  #transport: TransportOptions | undefined;
  readonly #consumers: ConsumerEntry[] = [];
  #sdpVersion = 1;
  #connected = false;
  /** Offers are made one at a time: consumers arriving meanwhile go into the next one. */
  #negotiation: Promise<void> = Promise.resolve();
  #closed = false;
  /** Why the socket closed: the server's reason (a refused token is 4401) says more than "not connected". */
  #closeError: DiemcauViewerError | undefined;
  readonly steps: DiemcauViewerHandle['steps'] = {};
  /** Settles the join: the first video packet, or the first failure. */
  readonly #joined = new FirstVideo();

  constructor(options: DiemcauViewerOptions) {
    this.#options = options;
    this.#rtx = options.rtx ?? true;
    this.#transportCc = options.transportCc ?? true;
    const url = new URL(options.url);
    url.searchParams.set('token', options.token);
    this.#ws = new WebSocket(url);
    this.#ws.on('message', (data: Buffer) => this.#onMessage(data.toString()));
    this.#ws.on('error', (error) => this.#fail(new DiemcauViewerError(`signaling socket: ${error.message}`, { cause: error })));
    this.#ws.on('close', (code, reason) => {
      const error = new DiemcauViewerError(`signaling socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
      this.#closeError = error;
      for (const { reject } of this.#pending.values()) reject(error);
      this.#pending.clear();
      this.#fail(error);
    });
  }

  /** Joins and waits for the first program video packet; rejects on the first failure or after timeoutMs. */
  async open(): Promise<number> {
    let stage = 'opening the signaling socket';
    const steps = async () => {
      await new Promise<void>((resolve, reject) => {
        this.#ws.once('open', resolve);
        this.#joined.promise.catch(reject);
      });
      stage = 'joining';
      const router = routerCapabilitiesSchema.parse(await this.#request('router.capabilities', {}));
      const rtpCapabilities = receiveCapabilities(router.rtpCapabilities, this.#rtx, this.#transportCc);
      if (!rtpCapabilities.codecs.some((c) => c.kind === 'video'))
        throw new DiemcauViewerError('the router offers no video codec werift takes');
      await this.#request('join', { rtpCapabilities, receiveMode: 'auto' });
      this.#step('join');
      stage = 'creating the receive transport';
      this.#transport = transportOptionsSchema.parse(await this.#request('transport.create', { direction: 'recv' }));
      this.#step('transport');
      this.#pc = this.#createPeerConnection();
      this.#scheduleNegotiation();
    };
    const timeoutMs = this.#options.timeoutMs ?? 20_000;
    const timeoutError = () =>
      new DiemcauViewerError(`no program video after ${timeoutMs} ms (${this.#pc ? this.#waitingFor(this.#pc) : stage})`);
    try {
      return await this.#joined.run(steps, timeoutMs, timeoutError);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new DiemcauViewerError('viewer closed'));
    if (this.#ws.readyState === WebSocket.OPEN) {
      // The server also cleans up when the socket goes; 'leave' says it is on purpose, as the page does.
      this.#ws.send(JSON.stringify({ id: this.#nextId++, method: 'leave', data: {} }));
    }
    // Waits for the server's side of the close (bounded), so that the peer is gone from the session when this returns.
    await new Promise<void>((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        this.#ws.terminate();
        resolve();
      }, 2000);
      this.#ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#ws.close();
    });
    await this.#pc?.close();
  }

  /** What the consumers received so far carry. */
  get negotiated(): DiemcauViewerHandle['negotiated'] {
    const params = this.#consumers.map((c) => c.params.rtpParameters);
    return {
      rtx: params.some((p) => p.encodings[0].rtx !== undefined),
      transportCc: params.some(
        (p) =>
          (p.headerExtensions ?? []).some((e) => e.uri === transportCcUri) &&
          p.codecs.some((c) => (c.rtcpFeedback ?? []).some((fb) => fb.type === 'transport-cc')),
      ),
    };
  }

  /** What a viewer with a transport still waits for, for the timeout's message. */
  #waitingFor(pc: RTCPeerConnection): string {
    if (!this.#consumers.length) return 'no consumer.new: is the session on air?';
    if (!this.#consumers.some((c) => c.params.kind === 'video')) return 'no video consumer: is a picture on air?';
    if (pc.connectionState !== 'connected') return `ICE/DTLS ${pc.connectionState}`;
    return 'connected, no video packet: the sender sent no keyframe?';
  }

  #step(name: keyof DiemcauViewerHandle['steps']): void {
    this.steps[name] ??= Math.round(performance.now() - this.#joined.startedAt);
  }

  #fail(error: Error): void {
    this.#joined.fail(error);
  }

  // ---- Signaling ----------------------------------------------------------------

  #request<M extends RequestMethod>(method: M, data: RequestData<M>, timeoutMs = 15_000): Promise<ResponseData[M]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return reject(this.#closeError ?? new DiemcauViewerError(`${method}: not connected`));
      // Closing: the close event rejects it with the server's reason.
      if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ id, method, data }));
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new DiemcauViewerError(`${method} got no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as ResponseData[M]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  #onMessage(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.#fail(new DiemcauViewerError('the server sent something that is not JSON'));
    }
    const notification = notificationSchema.safeParse(message);
    if (notification.success) return this.#onNotification(notification.data.notification, notification.data.data);
    const reply = replySchema.safeParse(message);
    if (!reply.success) return;
    const pending = this.#pending.get(reply.data.id);
    if (!pending) return;
    this.#pending.delete(reply.data.id);
    if (reply.data.ok) pending.resolve(reply.data.data);
    else pending.reject(new DiemcauViewerError(`${reply.data.error.code}: ${reply.data.error.message}`));
  }

  #onNotification(name: string, data: unknown): void {
    if (name === 'consumer.new') {
      const parsed = consumerSchema.safeParse(data);
      if (!parsed.success) return this.#fail(new DiemcauViewerError(`consumer.new not understood: ${parsed.error.message}`));
      // A consumer with no mid of its own gets one after the others (mediasoup gives every WebRTC consumer one).
      const mid = parsed.data.rtpParameters.mid ?? `c${this.#consumers.length}`;
      this.#consumers.push({ params: parsed.data, mid, negotiated: false, closed: false });
      this.#scheduleNegotiation();
    } else if (name === 'consumer.closed') {
      const consumerId = (data as { consumerId?: unknown } | null)?.consumerId;
      const entry = this.#consumers.find((c) => c.params.consumerId === consumerId);
      if (!entry || entry.closed) return;
      entry.closed = true;
      this.#scheduleNegotiation();
    }
    // Snapshots, speakers, pauses and restarts change nothing for a counting receiver.
  }

  // ---- WebRTC -------------------------------------------------------------------

  #createPeerConnection(): RTCPeerConnection {
    const transport = this.#transport!;
    const remote = this.#options.announcedAddress ?? transport.iceCandidates.find((c) => c.protocol === 'udp')?.address ?? '';
    // On loopback, werift's one host candidate is 127.0.0.1 (it leaves loopback out by itself), so no check leaves the machine.
    const local = this.#options.localAddress ?? (remote.startsWith('127.') ? '127.0.0.1' : undefined);
    const rtcpFeedback = feedbackFor('video', this.#transportCc);
    const headerExtensions = this.#transportCc ? [useTransportWideCC()] : [];
    const pc = new RTCPeerConnection({
      codecs: {
        audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
        video: [
          new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback }),
          new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback }),
          ...(this.#rtx ? [new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000 })] : []),
        ],
      },
      headerExtensions: { audio: headerExtensions, video: headerExtensions },
      iceServers: [],
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
      ...(local
        ? {
            iceAdditionalHostAddresses: [local],
            iceInterfaceAddresses: { udp4: local },
            iceFilterCandidatePair: (pair) => pair.localCandidate.host === local,
          }
        : {}),
    });
    countRtp(pc, this.#options.onRtp, () => {
      if (this.steps.firstVideo !== undefined) return;
      this.#step('firstVideo');
      this.#joined.arrived();
    });
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.#step('connected');
      if (state === 'failed') this.#fail(new DiemcauViewerError('ICE or DTLS failed'));
    });
    return pc;
  }

  #scheduleNegotiation(): void {
    this.#negotiation = this.#negotiation
      .then(() => this.#negotiate())
      .catch((error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))));
  }

  /** Offers every consumer known so far (the closed ones inactive), applies werift's answer, then resumes the new ones. */
  async #negotiate(): Promise<void> {
    const pc = this.#pc;
    if (!pc || this.#closed || !this.#consumers.length) return;
    const entries = [...this.#consumers];
    const fresh = entries.filter((c) => !c.negotiated && !c.closed);
    if (!fresh.length && this.#connected && !entries.some((c) => c.closed)) return;
    await pc.setRemoteDescription({ type: 'offer', sdp: this.#offer(entries) });
    await pc.setLocalDescription(await pc.createAnswer());
    this.#step('answer');
    if (!this.#connected) {
      this.#connected = true;
      await this.#request('transport.connect', { transportId: this.#transport!.id, dtlsParameters: answerDtls(pc.localDescription!.sdp) });
    }
    for (const entry of fresh) {
      entry.negotiated = true;
      // Paused on the server until now, so that the first packets are not sent before werift knows the SSRCs.
      await this.#request('consumer.resume', { consumerId: entry.params.consumerId });
    }
  }

  /** The offer mediasoup would make for these consumers on the recv transport. */
  #offer(entries: ConsumerEntry[]): string {
    const transport = this.#transport!;
    const fingerprint =
      transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? transport.dtlsParameters.fingerprints[0];
    const candidates = transport.iceCandidates
      .filter((c) => c.protocol === 'udp')
      .map((c, i) => ({
        foundation: c.foundation,
        component: 1,
        transport: 'udp',
        priority: c.priority - i,
        ip: this.#options.announcedAddress ?? c.address ?? c.ip ?? '',
        port: c.port,
        type: c.type,
      }));
    const media = entries.map((entry) => {
      const { rtpParameters, kind, consumerId } = entry.params;
      const encoding = rtpParameters.encodings[0];
      const cname = rtpParameters.rtcp?.cname ?? 'diemcau';
      const msid = { id: 'program', appdata: consumerId };
      const ssrcs = [encoding.ssrc, ...(encoding.rtx ? [encoding.rtx.ssrc] : [])];
      return {
        type: kind,
        port: 7,
        protocol: 'UDP/TLS/RTP/SAVPF',
        payloads: rtpParameters.codecs.map((c) => c.payloadType).join(' '),
        connection: { version: 4, ip: '127.0.0.1' },
        mid: entry.mid,
        direction: entry.closed ? ('inactive' as const) : ('sendonly' as const),
        iceUfrag: transport.iceParameters.usernameFragment,
        icePwd: transport.iceParameters.password,
        candidates,
        endOfCandidates: 'end-of-candidates',
        setup: 'actpass',
        fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
        rtcpMux: 'rtcp-mux',
        rtcpRsize: 'rtcp-rsize',
        rtp: rtpParameters.codecs.map((c) => ({
          payload: c.payloadType,
          codec: c.mimeType.split('/')[1],
          rate: c.clockRate,
          ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}),
        })),
        fmtp: rtpParameters.codecs
          .filter((c) => c.parameters && Object.keys(c.parameters).length)
          .map((c) => ({
            payload: c.payloadType,
            config: Object.entries(c.parameters!)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(';'),
          })),
        rtcpFb: rtpParameters.codecs.flatMap((c) =>
          (c.rtcpFeedback ?? []).map((fb) => ({
            payload: c.payloadType,
            type: fb.type,
            ...(fb.parameter ? { subtype: fb.parameter } : {}),
          })),
        ),
        ext: (rtpParameters.headerExtensions ?? []).map((e) => ({ value: e.id, uri: e.uri })),
        ssrcs: ssrcs.flatMap((id) => [
          { id, attribute: 'cname', value: cname },
          { id, attribute: 'msid', value: `${msid.id} ${msid.appdata}` },
        ]),
        ...(encoding.rtx ? { ssrcGroups: [{ semantics: 'FID', ssrcs: ssrcs.join(' ') }] } : {}),
        // sdp-transform 3 writes a list of msids; its published types (2.15) still say one string.
        msid: [msid] as unknown as string,
      };
    });
    return sdpTransform.write({
      version: 0,
      origin: { username: 'mediasoup', sessionId: 10000, sessionVersion: this.#sdpVersion++, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
      name: '-',
      timing: { start: 0, stop: 0 },
      icelite: 'ice-lite',
      groups: [{ type: 'BUNDLE', mids: entries.map((e) => e.mid).join(' ') }],
      msidSemantic: { semantic: 'WMS', token: '*' },
      media,
    } as sdpTransform.SessionDescription);
  }
}

/** The DTLS side of werift's answer, as transport.connect takes it: werift answers active, so it is the client. */
function answerDtls(sdp: string): RequestData<'transport.connect'>['dtlsParameters'] {
  const answer = sdpTransform.parse(sdp);
  const section = answer.media[0];
  const fingerprint = section?.fingerprint ?? answer.fingerprint;
  if (!fingerprint) throw new DiemcauViewerError("werift's answer has no DTLS fingerprint");
  const setup = section?.setup ?? answer.setup;
  return { role: setup === 'passive' ? 'server' : 'client', fingerprints: [{ algorithm: fingerprint.type, value: fingerprint.hash }] };
}

/**
 * Joins a Diemcau session as one WebRTC receiver of the program and resolves
 * once its first video packet arrived; onRtp counts every packet after that.
 */
export async function openDiemcauViewer(options: DiemcauViewerOptions): Promise<DiemcauViewerHandle> {
  const viewer = new DiemcauViewer(options);
  const joinMs = await viewer.open();
  return { joinMs, negotiated: viewer.negotiated, steps: viewer.steps, close: () => viewer.close() };
}
