import { Device, types as ms } from 'mediasoup-client';
import {
  can,
  closeCodes,
  type NotificationMessage,
  type ReceiveMode,
  type Role,
  type SessionSnapshot,
  type ResponseData,
  type TransportOptions,
} from '@protocol';
import { Emitter } from './Emitter';
import { RequestError, SignalingClient } from './SignalingClient';

/** What the page shows about the connection. */
export type ConnectionState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed';

/** Why the connection ended for good: the page says this to the user. */
export type FailureReason = 'token-invalid' | 'replaced' | 'removed' | 'session-ended' | 'media-denied' | 'error';

export interface ClientState {
  connection: ConnectionState;
  failure: FailureReason | null;
  failureDetail: string;
  identity: string;
  role: Role | null;
  snapshot: SessionSnapshot | null;
  activeSpeaker: string | null;
  /** The SFU holds this point's microphone paused (no floor). */
  micHeldBySfu: boolean;
  receiveMode: ReceiveMode;
  /** Identity whose picture the program stream shows now. */
  programIdentity: string | null;
  reconnects: number;
  /**
   * Joining: the page draws the program's picture first and the rest of the session page once
   * the picture's transport is up, so the picture's element exists before its first frame.
   */
  pictureFirst: boolean;
}

/** A client's state before it first connects (also the page's before it has a client): idle, knowing nothing of the session. */
export function idleState(receiveMode: ReceiveMode = 'auto'): ClientState {
  return {
    connection: 'idle',
    failure: null,
    failureDetail: '',
    identity: '',
    role: null,
    snapshot: null,
    activeSpeaker: null,
    micHeldBySfu: false,
    receiveMode,
    programIdentity: null,
    reconnects: 0,
    pictureFirst: false,
  };
}

export type ConferenceEvents = {
  change: [state: ClientState];
  /** The program stream's tracks changed. */
  program: [stream: MediaStream];
};

// Three simulcast layers: a weak link still gets a picture (the lowest),
// a projector in a good room gets 720p.
const cameraEncodings: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, maxFramerate: 15 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, maxFramerate: 30 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000, maxFramerate: 30 },
];

/** The steps of a join, as performance marks: a page's timeline shows where a join's time went. */
export type JoinMark =
  | 'join:signaling-open'
  | 'join:device-loaded'
  | 'join:recv-transport-created'
  | 'join:recv-transport-connected'
  | 'join:program-consumer-created';

/** What a join needs before it asks to join: opened (and loaded) before the click when the page prepared it. */
interface Prepared {
  device: Device;
  /** performance.now() when the socket opened, and when the Device was loaded. */
  openedAt: number;
  loadedAt: number;
}

/**
 * How long the camera waits for the program's picture to be on its way
 * before it is sent anyway (a program slow to come must not hold the
 * point's own camera and microphone back).
 */
const programWaitMs = 2000;
/** A page that does not say when the picture is on screen: the camera follows this long after the first decoded frame. */
const shownGraceMs = 250;

/** At most this long after the click, the page shows 'connecting' even if the join's reply has not come. */
const quietConnectingMs = 100;
/**
 * After the join's reply, how long the page's first redraw (the whole session
 * page) may wait for the picture's transport to connect; the join button says
 * 'joining' meanwhile. A slow link shows the page, 'connecting', after this.
 */
const firstRedrawWaitMs = 300;

export interface ConferenceOptions {
  token: string;
  /** Base URL of the server's WebSocket, e.g. ws://host:3000/ws */
  signalingUrl: string;
  receiveMode?: ReceiveMode;
  /** Camera and mic to send; asked for lazily when the role may send. */
  getLocalMedia?: () => Promise<MediaStream>;
}

/**
 * A browser's side of a session: joins over signaling, sends camera and mic
 * when the role may, receives the program, and keeps doing so through network
 * trouble — ICE restart first, then a full rejoin as the same identity.
 */
export class ConferenceClient extends Emitter<ConferenceEvents> {
  readonly state: ClientState;
  readonly programStream = new MediaStream();
  localStream: MediaStream | null = null;
  readonly #options: ConferenceOptions;
  #signaling: SignalingClient | null = null;
  #device: Device | null = null;
  #sendTransport: ms.Transport | null = null;
  #recvTransport: ms.Transport | null = null;
  #recvReady: Promise<ms.Transport> | null = null;
  readonly #consumers = new Map<string, ms.Consumer>();
  readonly #producers = new Map<string, ms.Producer>();
  #generation = 0;
  #stopped = false;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #statsTimer: ReturnType<typeof setInterval> | null = null;
  #signalingUrl: string;
  /** A connection opened before the click (prepare()): the socket, and the Device loaded with the router's capabilities. */
  #prepared: { url: string; signaling: SignalingClient; ready: Promise<Prepared>; loaded: Prepared | null } | null = null;
  /** Resolves when the current join's program video consumer exists (the camera is sent after it). */
  #programArrived: (() => void) | null = null;
  /** Resolves when the page says the current join's program picture is on screen (programShown()). */
  #programShown: (() => void) | null = null;
  /** Resolves when the current join's receiving transport is connected (ICE and DTLS up). */
  #recvConnected: (() => void) | null = null;
  /** Consumers being set up in the page now, and who waits for there to be none. */
  #consuming = 0;
  #consumersSettled: (() => void)[] = [];
  /** While the first redraw waits for the picture's transport: changes are kept, and told to the page once after. */
  #redrawHold: object | null = null;
  /** The join path's performance marks already set for the current join (each once per join). */
  readonly #marked = new Set<JoinMark>();

  constructor(options: ConferenceOptions) {
    super();
    this.#options = options;
    this.#signalingUrl = options.signalingUrl;
    this.state = idleState(options.receiveMode);
  }

  // ---- Public actions ------------------------------------------------------------

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#join('connecting');
  }

  /**
   * What a join needs before it can ask to join, done while the page waits
   * for the click: the signaling socket, the router's capabilities, the
   * Device. It joins nothing — a socket that has not joined is no peer, so
   * the point is not marked present until start(). start() takes this
   * connection over, or opens its own if it closed meanwhile; stop() closes
   * it. Errors are left for start() to meet and report.
   */
  prepare(): void {
    if (this.#prepared || this.#signaling || this.state.connection !== 'idle') return;
    const url = `${this.#signalingUrl}?token=${encodeURIComponent(this.#options.token)}`;
    const signaling = new SignalingClient(url);
    const prepared = { url, signaling, ready: this.#load(signaling), loaded: null as Prepared | null };
    prepared.ready.then((loaded) => (prepared.loaded = loaded)).catch(() => {});
    this.#prepared = prepared;
  }

  async raiseHand(raised: boolean): Promise<void> {
    await this.#request('hand.raise', { raised });
  }

  async setReceiveMode(mode: ReceiveMode): Promise<void> {
    const previous = this.state.receiveMode;
    this.#set({ receiveMode: mode });
    try {
      await this.#request('receive.setMode', { mode });
    } catch (error) {
      this.#set({ receiveMode: previous });
      throw error;
    }
  }

  async goLive(): Promise<void> {
    await this.#request('session.goLive', {});
  }

  async endSession(): Promise<void> {
    await this.#request('session.end', {});
  }

  async giveFloor(identity: string): Promise<void> {
    await this.#request('floor.give', { identity });
  }

  async takeFloor(): Promise<void> {
    await this.#request('floor.take', {});
  }

  /** Which of the hall's studios (its browser, its encoder) is the program; null: the first to join. */
  async chooseStudio(identity: string | null): Promise<void> {
    await this.#request('studio.choose', { identity });
  }

  async startRecording(): Promise<void> {
    await this.#request('recording.start', {});
  }

  async stopRecording(): Promise<void> {
    await this.#request('recording.stop', {});
  }

  async removePeer(identity: string): Promise<void> {
    await this.#request('peer.remove', { identity });
  }

  /** Silences a participant at the media server (a noisy room): not heard, floor or not, until unmuted. */
  async mutePeer(identity: string, muted: boolean): Promise<void> {
    await this.#request('peer.mute', { identity, muted });
  }

  /** Asks a point to run its readiness check again: its open page shows the request, or shows it when opened. */
  async requestReadiness(identity: string): Promise<void> {
    await this.#request('readiness.request', { identity });
  }

  /** Marks the agenda item under discussion (null: none); every participant sees it. */
  async setAgendaItem(itemId: string | null): Promise<void> {
    await this.#request('agenda.setCurrent', { itemId });
  }

  /** Decoding figures of what this page receives (for the UI and for tests). */
  async receiveStats(): Promise<{ framesDecoded: number; packetsReceived: number; audioPackets: number; programIdentity: string | null }> {
    let framesDecoded = 0;
    let packetsReceived = 0;
    let audioPackets = 0;
    for (const consumer of this.#consumers.values()) {
      const stats = await consumer.getStats();
      stats.forEach((s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') framesDecoded += s.framesDecoded ?? 0;
        if (s.kind === 'video') packetsReceived += s.packetsReceived ?? 0;
        if (s.kind === 'audio') audioPackets += s.packetsReceived ?? 0;
      });
    }
    return { framesDecoded, packetsReceived, audioPackets, programIdentity: this.state.programIdentity };
  }

  /** The page shows the program's picture (its first frame is on screen): the camera may start now. */
  programShown(): void {
    this.#programShown?.();
  }

  /** Drops the connection as a dead network would; the client recovers by itself. */
  simulateNetworkLoss(): void {
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#signaling?.close();
  }

  stop(): void {
    this.#stopped = true;
    this.#prepared?.signaling.close();
    this.#prepared = null;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    void this.#signaling?.request('leave', {}).catch(() => {});
    this.#teardown();
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.localStream = null;
    this.#set({ connection: 'idle' });
  }

  // ---- Joining -----------------------------------------------------------------------

  async #join(phase: 'connecting' | 'reconnecting'): Promise<void> {
    const generation = ++this.#generation;
    this.#teardown();
    this.#marked.clear();
    const url = `${this.#signalingUrl}?token=${encodeURIComponent(this.#options.token)}`;
    // The connection prepared before the click, if it is for this address and still open.
    const prepared = this.#prepared;
    this.#prepared = null;
    const reuse = prepared && prepared.url === url && prepared.signaling.isOpen ? prepared : null;
    if (prepared && !reuse) prepared.signaling.close();
    const signaling = reuse?.signaling ?? new SignalingClient(url);
    this.#signaling = signaling;
    signaling.on('notification', (m) => {
      this.#onNotification(m, generation).catch((error: unknown) => {
        // A consumer being set up when its connection closed (the page leaving, a rejoin): that connection is gone, and so is the error.
        if (generation !== this.#generation || this.#stopped) return;
        this.#scheduleRejoin(error);
      });
    });
    signaling.on('close', (code, reason) => this.#onClose(code, reason, generation));
    // Consumers may be announced before the join's reply is read: they wait for the transport the reply brings.
    let recvMade!: (transport: ms.Transport) => void;
    let recvFailed!: (error: unknown) => void;
    this.#recvReady = new Promise<ms.Transport>((resolve, reject) => ((recvMade = resolve), (recvFailed = reject)));
    this.#recvReady.catch(() => {});
    const programArrived = new Promise<void>((resolve) => (this.#programArrived = resolve));
    const recvConnected = new Promise<void>((resolve) => (this.#recvConnected = resolve));
    const programShown = new Promise<void>((resolve) => (this.#programShown = resolve));
    // With a prepared connection the join leaves now, before the page redraws for 'connecting'
    // (it mounts the whole session page: tens of milliseconds the request need not wait for).
    const early = reuse?.loaded ? this.#askToJoin(signaling, reuse.loaded.device) : null;
    // The page shows 'connecting' with the join's reply (below), or after quietConnectingMs if the
    // reply is slow: its redraw (the whole session page) then runs while the browser sets the
    // picture's transport up, instead of before — the user sees the page a few ms later, the picture sooner.
    this.state.connection = phase;
    const showConnecting = setTimeout(() => generation === this.#generation && this.emit('change', this.state), quietConnectingMs);
    try {
      const { device, openedAt, loadedAt } = reuse?.loaded ?? (await (reuse?.ready ?? this.#load(signaling)));
      this.#mark('join:signaling-open', openedAt);
      this.#mark('join:device-loaded', loadedAt);
      this.#device = device;
      const joined = await (early ?? this.#askToJoin(signaling, device));
      clearTimeout(showConnecting);
      if (generation !== this.#generation) return;
      // The page redraws with the session once the picture's transport is up: mounting the whole
      // session page (tens of ms of main thread on an old PC) before that holds back the consumer's
      // set-up and starves ICE and DTLS of the CPU — the picture then comes later, not sooner.
      // The program's sound, announced with its picture, is set up too: the picture's element then starts
      // once with both, instead of starting again (a blank moment) when the sound joins it.
      // (A rejoin redraws at once: its page is already there.)
      if (phase === 'connecting' && this.#expectsProgramVideo(joined.snapshot, joined.identity))
        this.#holdRedraw(
          recvConnected.then(() => this.#consumersSet()),
          programArrived,
        );
      this.#set({ identity: joined.identity, role: joined.role, snapshot: joined.snapshot, failure: null }, 'soon');
      try {
        recvMade(
          joined.recvTransport
            ? this.#makeTransport('recv', joined.recvTransport, generation)
            : await this.#createTransport('recv', generation),
        );
      } catch (error) {
        recvFailed(error);
        throw error;
      }
      if (can(joined.role, 'media.send')) {
        // The user waits for the program's picture, not for their own camera: opening and encoding
        // the camera (three layers) competes for the CPU with receiving, decoding and drawing the
        // picture, so it starts once the first program frame is on screen (programWaitMs at most).
        if (this.#expectsProgramVideo(joined.snapshot, joined.identity))
          await this.#firstProgramFrame(programArrived, programShown, generation);
        if (generation !== this.#generation) return;
        await this.#startSending(generation);
      }
      if (generation !== this.#generation) return;
      this.#set({ connection: 'live' });
      this.#startStatsReports(generation);
    } catch (error) {
      clearTimeout(showConnecting);
      this.#releaseRedraw();
      if (generation !== this.#generation || this.#stopped) return;
      // No camera, refused, busy in another program, or unable to meet the constraints:
      // retrying on its own would not help, the user has to act.
      const mediaErrors = ['NotAllowedError', 'NotFoundError', 'NotReadableError', 'OverconstrainedError'];
      if (error instanceof DOMException && mediaErrors.includes(error.name)) {
        this.#fail('media-denied', error.message);
        return;
      }
      this.#scheduleRejoin(error);
    }
  }

  /** The join request; it brings the receiving transport along: one round trip less before the picture. */
  #askToJoin(signaling: SignalingClient, device: Device): Promise<ResponseData['join']> {
    return signaling.request('join', {
      rtpCapabilities: device.rtpCapabilities as unknown as Record<string, unknown> & { codecs: never[] },
      receiveMode: this.state.receiveMode,
      recvTransport: true,
    });
  }

  /** Waits for the socket, asks for the router's capabilities and loads the Device with them. */
  async #load(signaling: SignalingClient): Promise<Prepared> {
    await signaling.opened;
    const openedAt = performance.now();
    const { rtpCapabilities } = await signaling.request('router.capabilities', {});
    const device = new Device();
    await device.load({ routerRtpCapabilities: rtpCapabilities });
    return { device, openedAt, loadedAt: performance.now() };
  }

  /**
   * Resolves once the program's first frame is on screen (the page says so), or shownGraceMs after
   * it is decoded (a page that does not say), the join is over, or programWaitMs have passed.
   */
  async #firstProgramFrame(programArrived: Promise<void>, programShown: Promise<void>, generation: number): Promise<void> {
    const deadline = performance.now() + programWaitMs;
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), programWaitMs));
    if ((await Promise.race([programArrived, timeout])) === 'timeout') return;
    let shown = false;
    void programShown.then(() => (shown = true));
    let decodedAt: number | null = null;
    // Bounded: at most programWaitMs / 50 rounds.
    while (!shown && performance.now() < deadline && generation === this.#generation) {
      if (decodedAt === null) {
        const { framesDecoded } = await this.receiveStats().catch(() => ({ framesDecoded: 0 }));
        if (framesDecoded > 0) decodedAt = performance.now();
      } else if (performance.now() - decodedAt >= shownGraceMs) return;
      await Promise.race([programShown, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
  }

  /** The session shows a picture this page will receive: on air, from someone else, and the page takes video. */
  #expectsProgramVideo(snapshot: SessionSnapshot, identity: string): boolean {
    return (
      snapshot.status === 'live' &&
      !!snapshot.programSource &&
      snapshot.programSource !== identity &&
      this.state.receiveMode !== 'audio-only'
    );
  }

  /** Opens the camera and microphone once per client (kept through rejoins). */
  async #openLocalMedia(): Promise<void> {
    if (this.localStream) return;
    const get =
      this.#options.getLocalMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } }));
    const stream = await get();
    if (this.localStream) {
      stream.getTracks().forEach((t) => t.stop());
      return;
    }
    this.localStream = stream;
    this.#set({});
  }

  async #createTransport(direction: 'send' | 'recv', generation: number): Promise<ms.Transport> {
    const options = await this.#signaling!.request('transport.create', { direction });
    return this.#makeTransport(direction, options, generation);
  }

  /** The page's side of a transport the server created. */
  #makeTransport(direction: 'send' | 'recv', options: TransportOptions, generation: number): ms.Transport {
    const signaling = this.#signaling!;
    const params = options as unknown as ms.TransportOptions;
    const transport = direction === 'send' ? this.#device!.createSendTransport(params) : this.#device!.createRecvTransport(params);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      signaling
        .request('transport.connect', {
          transportId: transport.id,
          dtlsParameters: dtlsParameters,
        })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters,
            source: (appData as { source: 'camera' | 'mic' | 'screen' }).source,
          })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
      this.#sendTransport = transport;
    } else {
      this.#recvTransport = transport;
      this.#mark('join:recv-transport-created');
      transport.on('connectionstatechange', (state) => {
        if (state !== 'connected') return;
        this.#mark('join:recv-transport-connected');
        this.#recvConnected?.();
      });
    }
    transport.on('connectionstatechange', (state) => this.#watchTransport(transport, state, generation));
    return transport;
  }

  async #startSending(generation: number): Promise<void> {
    await this.#openLocalMedia();
    if (!this.localStream) return;
    const transport = await this.#createTransport('send', generation);
    const video = this.localStream.getVideoTracks()[0];
    const audio = this.localStream.getAudioTracks()[0];
    if (video && this.#device!.canProduce('video')) {
      const producer = await transport.produce({
        track: video,
        encodings: cameraEncodings,
        codecOptions: { videoGoogleStartBitrate: 800 },
        appData: { source: 'camera' },
        stopTracks: false,
      });
      this.#producers.set(producer.id, producer);
    }
    if (audio && this.#device!.canProduce('audio')) {
      const producer = await transport.produce({
        track: audio,
        codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
        appData: { source: 'mic' },
        stopTracks: false,
      });
      this.#producers.set(producer.id, producer);
    }
  }

  // ---- Recovery ---------------------------------------------------------------------------

  /**
   * ICE went away: wait a moment (it often comes back alone), then restart ICE;
   * if that does not bring it back, rejoin from scratch.
   */
  #watchTransport(transport: ms.Transport, state: string, generation: number): void {
    if (generation !== this.#generation || this.#stopped) return;
    if (state !== 'disconnected' && state !== 'failed') return;
    const delay = state === 'failed' ? 0 : 2000;
    setTimeout(async () => {
      if (generation !== this.#generation || transport.closed) return;
      if (transport.connectionState === 'connected') return;
      this.#set({ connection: 'reconnecting' });
      try {
        const { iceParameters } = await this.#signaling!.request('transport.restartIce', { transportId: transport.id });
        await transport.restartIce({ iceParameters: iceParameters as unknown as ms.IceParameters });
      } catch {
        this.#scheduleRejoin(new Error('ICE restart failed'));
        return;
      }
      setTimeout(() => {
        if (generation !== this.#generation || transport.closed) return;
        if (transport.connectionState === 'connected') this.#set({ connection: 'live' });
        else this.#scheduleRejoin(new Error('ICE restart did not reconnect'));
      }, 6000);
    }, delay);
  }

  #onClose(code: number, reason: string, generation: number): void {
    if (generation !== this.#generation || this.#stopped) return;
    if (code === closeCodes.unauthorized) return this.#fail('token-invalid', reason);
    if (code === closeCodes.replaced) return this.#fail('replaced', reason);
    if (code === closeCodes.removed) return this.#fail('removed', reason);
    if (code === closeCodes.sessionEnded) return this.#fail('session-ended', reason);
    if (code === closeCodes.moved && /^https?:\/\//.test(reason)) {
      // The session runs on another node: join there, at once.
      this.#signalingUrl = `${reason.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
      this.#generation++;
      void this.#join('connecting');
      return;
    }
    this.#scheduleRejoin(new Error(reason || 'connection lost'));
  }

  #scheduleRejoin(error: unknown): void {
    if (this.#stopped || this.state.connection === 'failed') return;
    if (this.#retryTimer) return;
    const attempt = this.state.reconnects;
    const delay = Math.min(500 * 2 ** attempt, 8000);
    console.warn('diemcau: rejoining', error);
    this.#generation++;
    this.#teardown();
    this.#set({ connection: 'reconnecting', reconnects: attempt + 1 });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#join('reconnecting');
    }, delay);
  }

  #fail(reason: FailureReason, detail: string): void {
    this.#generation++;
    this.#teardown();
    this.#set({ connection: 'failed', failure: reason, failureDetail: detail });
  }

  #teardown(): void {
    this.#releaseRedraw();
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    this.#statsTimer = null;
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = null;
    this.#recvTransport = null;
    this.#recvReady = null;
    this.#consumers.clear();
    this.#producers.clear();
    for (const track of this.programStream.getTracks()) this.programStream.removeTrack(track);
    this.#signaling?.close();
    this.#signaling = null;
    this.emit('program', this.programStream);
  }

  // ---- Notifications ---------------------------------------------------------------------

  async #onNotification(message: NotificationMessage, generation: number): Promise<void> {
    if (generation !== this.#generation) return;
    switch (message.notification) {
      case 'session.snapshot':
        this.#set({ snapshot: message.data });
        if (this.state.connection === 'live' && message.data.status === 'ended') this.#fail('session-ended', '');
        break;
      case 'activeSpeaker':
        this.#set({ activeSpeaker: message.data.identity });
        break;
      case 'producer.paused':
        this.#set({ micHeldBySfu: message.data.paused });
        break;
      case 'consumer.new':
        await this.#onNewConsumer(message.data, generation);
        break;
      case 'consumer.closed':
        this.#dropConsumer(message.data.consumerId);
        break;
      case 'consumer.paused':
        break;
      case 'media.restart':
        this.#scheduleRejoin(new Error(message.data.reason));
        break;
    }
  }

  async #onNewConsumer(data: Extract<NotificationMessage, { notification: 'consumer.new' }>['data'], generation: number): Promise<void> {
    this.#consuming++;
    try {
      await this.#consume(data, generation);
    } finally {
      if (--this.#consuming === 0) this.#consumersSettled.splice(0).forEach((settled) => settled());
    }
  }

  /** Resolves once no consumer is being set up (at once if none is). */
  #consumersSet(): Promise<void> {
    return this.#consuming === 0 ? Promise.resolve() : new Promise((resolve) => this.#consumersSettled.push(resolve));
  }

  async #consume(data: Extract<NotificationMessage, { notification: 'consumer.new' }>['data'], generation: number): Promise<void> {
    const transport = await this.#recvReady;
    if (!transport || generation !== this.#generation) return;
    const consumer = await transport.consume({
      id: data.consumerId,
      producerId: data.producerId,
      kind: data.kind,
      rtpParameters: data.rtpParameters as unknown as ms.RtpParameters,
      appData: { identity: data.identity, program: data.program },
    });
    this.#consumers.set(consumer.id, consumer);
    if (consumer.kind === 'video') {
      if (data.program) {
        this.#mark('join:program-consumer-created');
        this.#programArrived?.();
      }
      // One program picture at a time: the new one replaces the old.
      for (const track of this.programStream.getVideoTracks()) this.programStream.removeTrack(track);
      this.#set({ programIdentity: data.identity });
    }
    this.programStream.addTrack(consumer.track);
    this.emit('program', this.programStream);
    await this.#signaling?.request('consumer.resume', { consumerId: consumer.id }).catch(() => {});
  }

  #dropConsumer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    if (!consumer) return;
    this.#consumers.delete(consumerId);
    if (this.programStream.getTracks().includes(consumer.track)) this.programStream.removeTrack(consumer.track);
    consumer.close();
    if (consumer.kind === 'video' && !this.programStream.getVideoTracks().length) this.#set({ programIdentity: null });
    this.emit('program', this.programStream);
  }

  #startStatsReports(generation: number): void {
    if (!this.state.role || !can(this.state.role, 'stats.report')) return;
    // Program video packets received and lost at the last report: the server
    // holds the picture at the lowest layer while this link loses too much.
    let lastVideo = { received: 0, lost: 0 };
    this.#statsTimer = setInterval(async () => {
      if (generation !== this.#generation || !this.#sendTransport) return;
      const report: { availableOutgoingBitrate?: number; roundTripTime?: number; inboundLoss?: number } = {};
      (await this.#sendTransport.getStats()).forEach(
        (s: { type: string; state?: string; availableOutgoingBitrate?: number; currentRoundTripTime?: number }) => {
          if (s.type === 'candidate-pair' && s.state === 'succeeded') {
            report.availableOutgoingBitrate = s.availableOutgoingBitrate;
            report.roundTripTime = s.currentRoundTripTime;
          }
        },
      );
      const video = { received: 0, lost: 0 };
      for (const consumer of this.#consumers.values()) {
        if (consumer.kind !== 'video') continue;
        (await consumer.getStats()).forEach((s: { type: string; packetsReceived?: number; packetsLost?: number }) => {
          if (s.type !== 'inbound-rtp') return;
          video.received += s.packetsReceived ?? 0;
          video.lost += Math.max(0, s.packetsLost ?? 0);
        });
      }
      const received = video.received - lastVideo.received;
      const lost = video.lost - lastVideo.lost;
      // A new consumer restarts the counters: skip that report.
      if (received >= 0 && lost >= 0 && received + lost > 20) report.inboundLoss = lost / (received + lost);
      lastVideo = video;
      await this.#signaling?.request('stats.report', report).catch(() => {});
    }, 2000);
  }

  async #request<M extends Parameters<SignalingClient['request']>[0]>(
    method: M,
    data: Parameters<SignalingClient['request']>[1] & object,
  ): Promise<unknown> {
    if (!this.#signaling) throw new RequestError('not-joined', 'not connected');
    return this.#signaling.request(method, data as never);
  }

  /** Keeps the page's redraws until `until`, firstRedrawWaitMs at most (bounded; a failure or a new join lets go at once). */
  #holdRedraw(until: Promise<void>, pictureReady: Promise<void>): void {
    const hold = {};
    this.#redrawHold = hold;
    // The picture's consumer exists: the page draws the picture alone (a small redraw), so its
    // element is there and playing when the first frame is decoded; the rest waits for `until`.
    void pictureReady.then(() => {
      if (this.#redrawHold !== hold) return;
      this.state.pictureFirst = true;
      this.emit('change', this.state);
    });
    const waited = new Promise((resolve) => setTimeout(resolve, firstRedrawWaitMs));
    void Promise.race([until, waited]).then(() => this.#redrawHold === hold && this.#releaseRedraw());
  }

  /** Tells the page the state kept while the redraw was held (the state itself is always current). */
  #releaseRedraw(): void {
    if (!this.#redrawHold) return;
    this.#redrawHold = null;
    this.state.pictureFirst = false;
    this.emit('change', this.state);
  }

  /** Marks a step of the join path on the page's performance timeline, once per join (the join bench reads them). */
  #mark(name: JoinMark, startTime?: number): void {
    if (this.#marked.has(name)) return;
    this.#marked.add(name);
    performance.mark(name, startTime === undefined ? undefined : { startTime });
  }

  /** Changes the state and tells the page: now, or 'soon' — after the tasks already waiting (messages received). */
  #set(patch: Partial<ClientState>, when: 'now' | 'soon' = 'now'): void {
    Object.assign(this.state, patch);
    if (this.#redrawHold) return;
    if (when === 'now') this.emit('change', this.state);
    else setTimeout(() => this.emit('change', this.state), 0);
  }
}
