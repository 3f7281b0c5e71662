import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { alwaysOnAir, type MediaSource, type ReceiveMode, type SessionSnapshot, type SessionStatus } from '../../protocol/index.js';
import { ConflictError, DiemcauError, NotFoundError, WorkerBusyError } from '../errors.js';
import type { Logger } from '../logger.js';
import { mediaCodecs } from '../media/codecs.js';
import type { Placement, WorkerPool } from '../media/WorkerPool.js';
import { Peer, type ConsumerInfo, type PeerOptions, type ProducerInfo } from './Peer.js';
import {
  mayBeHeard,
  preferredSpatialLayer,
  programKey,
  programOf,
  programPicture,
  receivedOnJoin,
  type Program,
  wantedBy,
} from './onAir.js';
import { snapshotFor } from './snapshotFor.js';
import { decideWeakLink, historyLength } from './weakLink.js';

export interface RoomOptions {
  id: string;
  title: string;
  pool: WorkerPool;
  logger: Logger;
  maxIncomingBitrate: number;
}

/** How many receivers a reconcile serves at once. */
const reconcileLanes = 16;

/**
 * The least bandwidth the SFU assumes a receiver has. mediasoup gives a
 * simulcast consumer no layer at all while its estimate of the receiver's link
 * is below the lowest layer's bitrate, and that estimate sinks to the audio
 * rate whenever no picture flows (between the old and the new program picture
 * on a floor change; all along for the point holding the floor) and climbs back
 * slowly on a busy receiver: unfloored, points lose the program picture for
 * many seconds after each floor change while still hearing it. Floored at
 * the lowest camera layer (150 kbps, see the web client's camera encodings)
 * with room for its keyframes, the estimate still chooses among the layers
 * above it, and a point gets a smaller picture, never none (weakLink.ts holds
 * the lowest layer on lossy links).
 */
const programFloorBitrate = 300_000;

/**
 * Loopback UDP for plain RTP and pipes between workers, with socket buffers
 * large enough for a program's bursts (the kernel caps them at
 * net.core.rmem_max / wmem_max: raise those on a production host).
 */
const loopbackRtp = {
  protocol: 'udp' as const,
  ip: '127.0.0.1',
  recvBufferSize: 4 * 1024 * 1024,
  sendBufferSize: 4 * 1024 * 1024,
};

/** What is on air, as mediasoup producers. */
export type ProgramSources = Program<types.Producer<ProducerInfo>>;

export interface RoomEvents {
  /** The floor moved: the identity that holds it now, or null; `actor` is who moved it. */
  floor: [identity: string | null, previous: string | null, actor: string];
  /** The session went on air or ended, by `actor` (an operator, the studio, 'scheduler', 'system'). */
  status: [status: SessionStatus, actor: string];
  /** Recording started or stopped, by `actor`. */
  recording: [recording: boolean, actor: string];
  /** A peer was sent away by `actor`. */
  removed: [identity: string, actor: string];
  /** The agenda item under discussion changed. */
  agenda: [item: { id: string; title: string } | null];
  /** The operator muted or unmuted a peer. */
  mute: [identity: string, muted: boolean, actor: string];
  /** The producers on air changed (floor, a sender joined or left, on air). */
  program: [sources: ProgramSources];
  /** Status, floor, hands or presence changed. */
  snapshot: [snapshot: SessionSnapshot];
  activeSpeaker: [identity: string | null];
  /** A peer joined or left; identity and whether it is present now. */
  presence: [identity: string, present: boolean];
  close: [];
}

interface SlotRouter {
  router: types.Router;
  speakerObserver: types.AudioLevelObserver;
}

/**
 * One live session: its routers (one per media worker), its peers, and the
 * rules of the program — who is on air, who is heard, who receives what.
 *
 * Every change that can alter what someone should receive ends in
 * `#reconcile()`, which compares each peer's consumers with what the program
 * says it should receive and creates or closes consumers until they match.
 * Floor rules are enforced here, not in the browser: a point's microphone is
 * paused at the SFU and consumed by nobody unless it holds the floor.
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly id: string;
  readonly title: string;
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #maxIncomingBitrate: number;
  readonly #routers = new Map<number, SlotRouter>();
  readonly #peers = new Map<string, Peer>();
  /** Pipes already made: `${producerId}>${slotIndex}`. */
  readonly #pipes = new Map<string, Promise<void>>();
  readonly #hands = new Set<string>();
  #status: SessionStatus = 'waiting';
  #floor: string | null = null;
  #activeSpeaker: string | null = null;
  #reconciling: Promise<void> = Promise.resolve();
  #reconcileQueued = false;
  #snapshotTimer: NodeJS.Timeout | null = null;
  #programKey = '';
  #recording = false;
  readonly #closeDelays: Promise<unknown>[] = [];
  readonly #muted = new Set<string>();
  #agendaItem: { id: string; title: string } | null = null;
  /** Set by the server: marks an agenda item current (validates it against the session's agenda). */
  agendaControl?: (itemId: string | null) => Promise<void>;
  /** Set by the recording service: lets the operator start and stop recording from signaling. */
  recordingControl?: { start(actor: string): Promise<void>; stop(actor: string): Promise<void> };
  #closed = false;
  /** Media restarts run one after another: a worker may die again while one is under way. */
  #mediaRestarts: Promise<void> = Promise.resolve();
  readonly #onWorkerReplaced = (index: number) => {
    this.#mediaRestarts = this.#mediaRestarts.then(() =>
      this.#restartMedia(`media worker ${index} restarted`).catch((error: unknown) => {
        // A worker that dies during the rebuild is replaced in turn, and that
        // replacement starts the next rebuild: this one just gives way.
        this.#log.warn({ err: error }, 'media restart interrupted; the next one follows');
      }),
    );
  };

  /** A receiver was refused a consumer because its worker is full: retried once a stream there closes. */
  #waitingForCapacity = false;
  readonly #onCapacity = () => {
    if (!this.#waitingForCapacity) return;
    this.#waitingForCapacity = false;
    this.#scheduleReconcile();
  };

  private constructor(options: RoomOptions) {
    super();
    this.id = options.id;
    this.title = options.title;
    this.#pool = options.pool;
    this.#log = options.logger.child({ session: options.id });
    this.#maxIncomingBitrate = options.maxIncomingBitrate;
  }

  static async create(options: RoomOptions): Promise<Room> {
    const room = new Room(options);
    try {
      await room.#createRouters();
    } catch (error) {
      // A worker died while the session opened: leave nothing behind on the others.
      room.close();
      throw error;
    }
    options.pool.on('workerReplaced', room.#onWorkerReplaced);
    options.pool.on('capacity', room.#onCapacity);
    return room;
  }

  get status(): SessionStatus {
    return this.#status;
  }

  get floor(): string | null {
    return this.#floor;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get rtpCapabilities(): types.RtpCapabilities {
    return this.#routers.values().next().value!.router.rtpCapabilities;
  }

  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  peer(identity: string): Peer | undefined {
    return this.#peers.get(identity);
  }

  /** Routers by worker slot, for tests and the recorder. */
  router(slotIndex: number): types.Router | undefined {
    return this.#routers.get(slotIndex)?.router;
  }

  // ---- Presence ---------------------------------------------------------------

  /**
   * Adds a peer. A peer with the same identity (a reloaded page, a second
   * device) is closed first, so no ghost stays behind.
   */
  join(options: Omit<PeerOptions, 'slotIndex'> & { rtpCapabilities?: types.RtpCapabilities; receiveMode?: ReceiveMode }): Peer {
    if (this.#closed || this.#status === 'ended') throw new ConflictError('the session has ended');
    const previous = this.#peers.get(options.identity);
    if (previous) this.#removePeer(previous, 'replaced');
    // A worker with room for what the peer receives at once, or `busy`: better a clear
    // refusal than a point that joins and never gets the program.
    const placement = this.#pool.place({ unit: 'peer', streams: this.#programSize(options) });
    const slot = placement.slot;
    const peer = new Peer({ ...options, slotIndex: slot.index });
    peer.rtpCapabilities = options.rtpCapabilities;
    peer.receiveMode = options.receiveMode ?? 'auto';
    peer.once('close', () => this.#pool.release(placement));
    this.#peers.set(peer.identity, peer);
    this.#log.info({ identity: peer.identity, role: peer.role, worker: slot.index }, 'peer joined');
    this.emit('presence', peer.identity, true);
    this.#changed();
    return peer;
  }

  leave(peer: Peer, reason = 'left'): void {
    if (this.#peers.get(peer.identity) === peer) this.#removePeer(peer, reason);
  }

  #removePeer(peer: Peer, reason: string): void {
    this.#peers.delete(peer.identity);
    peer.close(reason);
    this.#log.info({ identity: peer.identity, reason }, 'peer left');
    this.emit('presence', peer.identity, false);
    this.#changed();
  }

  // ---- Transports and producers --------------------------------------------------

  async createWebRtcTransport(peer: Peer, direction: 'send' | 'recv'): Promise<types.WebRtcTransport> {
    const { router } = this.#slotRouter(peer.slotIndex);
    const webRtcServer = this.#pool.slots[peer.slotIndex].webRtcServer;
    const transport = await router.createWebRtcTransport({
      webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 600_000,
      appData: { direction },
    });
    if (direction === 'send') await transport.setMaxIncomingBitrate(this.#maxIncomingBitrate).catch(() => {});
    // Set before the first consumer exists: the estimate is floored from the start.
    else await transport.setMinOutgoingBitrate(programFloorBitrate).catch(() => {});
    this.#adopt(peer, transport, direction);
    return transport;
  }

  /** An RTP transport for a hardware encoder, the recorder or a test. */
  async createPlainTransport(
    peer: Peer,
    direction: 'send' | 'recv',
    options: { enableSrtp?: boolean } = {},
  ): Promise<types.PlainTransport> {
    const { router } = this.#slotRouter(peer.slotIndex);
    const transport = await router.createPlainTransport({
      listenInfo: { ...loopbackRtp },
      rtcpMux: true,
      comedia: direction === 'send',
      ...options,
      appData: { direction },
    });
    this.#adopt(peer, transport, direction);
    return transport;
  }

  #adopt(peer: Peer, transport: types.Transport, direction: 'send' | 'recv'): void {
    peer.addTransport(transport);
    if (direction === 'recv') this.#scheduleReconcile();
  }

  async produce(
    peer: Peer,
    transportId: string,
    kind: 'audio' | 'video',
    rtpParameters: types.RtpParameters,
    source: MediaSource,
  ): Promise<types.Producer<ProducerInfo>> {
    const transport = this.#transportOf(peer, transportId);
    const existing = peer.producerOf(kind, source);
    if (existing) existing.close();
    // A point is heard only with the floor: its microphone starts paused.
    const muted = kind === 'audio' && !this.#mayBeHeard(peer);
    // Counted before the first await, so that streams asked for together cannot all pass the limit.
    const placement = this.#pool.place({ unit: 'stream', slotIndex: peer.slotIndex });
    const producer = await transport
      .produce<ProducerInfo>({
        kind,
        rtpParameters,
        paused: muted,
        appData: { source, identity: peer.identity },
      })
      .catch(this.#releaseAndThrow(placement));
    this.#releaseOnClose(producer, placement);
    // Added first: the peer forgets it on close before the reactions below run.
    peer.addProducer(producer);
    producer.observer.once('close', () => {
      for (const key of this.#pipes.keys()) if (key.startsWith(`${producer.id}>`)) this.#pipes.delete(key);
      this.#scheduleReconcile();
      this.#changed();
    });
    if (kind === 'audio') {
      await this.#slotRouter(peer.slotIndex)
        .speakerObserver.addProducer({ producerId: producer.id })
        .catch(() => {});
    }
    if (muted) peer.notify('producer.paused', { producerId: producer.id, paused: true });
    // The studio is always on air: have its media on every worker before the
    // first receiver there needs it (setting up a pipe costs that receiver ~1 s).
    // Points are piped when given the floor: a hundred idle cameras copied to
    // every worker would cost more than the wait.
    if (alwaysOnAir(peer.role)) {
      for (const slotIndex of this.#routers.keys()) {
        this.#pipe(producer, peer.slotIndex, slotIndex).catch((error) =>
          this.#log.debug({ err: error, producerId: producer.id }, 'could not pipe ahead'),
        );
      }
    }
    this.#scheduleReconcile();
    this.#changed();
    return producer;
  }

  closeProducer(peer: Peer, producerId: string): void {
    const producer = peer.producers.get(producerId);
    if (!producer) throw new NotFoundError(`no producer ${producerId}`);
    producer.close();
  }

  async resumeConsumer(peer: Peer, consumerId: string): Promise<void> {
    const consumer = [...peer.consumers.values()].find((c) => c.id === consumerId);
    if (!consumer) throw new NotFoundError(`no consumer ${consumerId}`);
    await consumer.resume();
  }

  /**
   * What a browser reports of its link every 2 s: kept for the roll call, and
   * its inbound loss decides whether its picture is held at the lowest layer.
   */
  async reportStats(peer: Peer, stats: Record<string, number | undefined>): Promise<void> {
    peer.clientStats = { ...(stats as Record<string, number>), at: Date.now() };
    if (stats.inboundLoss === undefined) return;
    peer.inboundLosses.push(stats.inboundLoss);
    if (peer.inboundLosses.length > historyLength) peer.inboundLosses.shift();
    const decision = decideWeakLink(peer.inboundLosses, peer.weakLink);
    if (decision === 'keep') return;
    peer.weakLink = decision === 'cap';
    this.#log.info({ identity: peer.identity, loss: stats.inboundLoss, weakLink: peer.weakLink }, 'weak-link policy');
    for (const consumer of peer.consumers.values()) {
      if (consumer.kind === 'video') await this.#applyLayers(consumer, peer.receiveMode, peer.weakLink);
    }
    this.#changed();
  }

  async setReceiveMode(peer: Peer, mode: ReceiveMode): Promise<void> {
    peer.receiveMode = mode;
    for (const consumer of peer.consumers.values()) {
      if (consumer.kind === 'video') await this.#applyLayers(consumer, mode, peer.weakLink);
    }
    this.#scheduleReconcile();
    this.#changed();
  }

  // ---- Session control -----------------------------------------------------------

  goLive(actor = 'system'): void {
    if (this.#status === 'ended') throw new ConflictError('the session has ended');
    if (this.#status === 'live') return;
    this.#status = 'live';
    this.#log.info({ actor }, 'session on air');
    this.emit('status', 'live', actor);
    this.#scheduleReconcile();
    this.#changed();
  }

  raiseHand(peer: Peer, raised: boolean): void {
    if (raised) this.#hands.add(peer.identity);
    else this.#hands.delete(peer.identity);
    this.#changed();
  }

  /** Gives the floor to a present peer: its picture and voice go on air. */
  async giveFloor(identity: string, actor = 'operator'): Promise<void> {
    const peer = this.#peers.get(identity);
    if (!peer) throw new NotFoundError(`${identity} is not in the session`);
    if (peer.role !== 'point') throw new ConflictError('only a connection point can be given the floor');
    const previous = this.#floor;
    this.#floor = identity;
    this.#hands.delete(identity);
    this.#log.info({ identity, previous }, 'floor given');
    this.emit('floor', identity, previous, actor);
    if (previous && previous !== identity) await this.#applyMicRules(this.#peers.get(previous));
    await this.#applyMicRules(peer);
    this.#scheduleReconcile();
    this.#changed();
  }

  /** Takes the floor back: the program returns to the studio. */
  async takeFloor(actor = 'operator'): Promise<void> {
    const previous = this.#floor;
    this.#floor = null;
    this.#log.info({ previous }, 'floor taken back');
    if (previous) this.emit('floor', null, previous, actor);
    if (previous) await this.#applyMicRules(this.#peers.get(previous));
    this.#scheduleReconcile();
    this.#changed();
  }

  /** The operator silences a peer (a noisy room): not heard, floor or not, until unmuted. */
  async mute(identity: string, muted: boolean, actor = 'operator'): Promise<void> {
    const peer = this.#peers.get(identity);
    if (!peer) throw new NotFoundError(`${identity} is not in the session`);
    if (muted) this.#muted.add(identity);
    else this.#muted.delete(identity);
    await this.#applyMicRules(peer);
    this.emit('mute', identity, muted, actor);
    this.#scheduleReconcile();
    this.#changed();
  }

  /** Marks the agenda item under discussion; every point sees it and the recorder makes it a chapter. */
  setAgendaItem(item: { id: string; title: string } | null): void {
    this.#agendaItem = item;
    this.emit('agenda', item);
    this.#changed();
  }

  get agendaItem(): { id: string; title: string } | null {
    return this.#agendaItem;
  }

  remove(identity: string, actor = 'operator'): void {
    const peer = this.#peers.get(identity);
    if (!peer) throw new NotFoundError(`${identity} is not in the session`);
    this.#hands.delete(identity);
    if (this.#floor === identity) void this.takeFloor(actor);
    this.emit('removed', identity, actor);
    this.#removePeer(peer, 'removed');
  }

  /**
   * Ends the session for everyone. Whoever must finish while media still
   * flows (the recorder closing its last segment) calls `delayClose()` from
   * its 'snapshot' listener; the routers close after that, or after 5 s.
   */
  async end(actor = 'system'): Promise<void> {
    if (this.#status === 'ended') return;
    this.#status = 'ended';
    this.#log.info({ actor }, 'session ended');
    this.emit('status', 'ended', actor);
    this.#flushSnapshot();
    const waits = this.#closeDelays.splice(0);
    if (waits.length) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise((resolve) => (timer = setTimeout(resolve, 5000)));
      await Promise.race([Promise.allSettled(waits), limit]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** Keeps the routers open until `work` settles when the session ends (see end()). */
  delayClose(work: Promise<unknown>): void {
    this.#closeDelays.push(work);
  }

  snapshot(): SessionSnapshot {
    return {
      sessionId: this.id,
      title: this.title,
      status: this.#status,
      programSource: programPicture(this.#peers.values(), this.#floor)?.appData.identity ?? null,
      floor: this.#floor,
      recording: this.#recording,
      agendaItem: this.#agendaItem,
      handsRaised: [...this.#hands],
      peers: [...this.#peers.values()]
        .filter((p) => !p.plain || p.role !== 'operator')
        .map((p) => ({
          identity: p.identity,
          name: p.name,
          role: p.role,
          handRaised: this.#hands.has(p.identity),
          sending: { audio: !!p.producerOf('audio'), video: !!p.producerOf('video') },
          receiveMode: p.receiveMode,
          muted: this.#muted.has(p.identity),
          joinedAt: p.joinedAt,
        })),
    };
  }

  /** The recorder says whether it is writing; everyone sees the indicator. */
  setRecording(recording: boolean, actor = 'system'): void {
    if (recording === this.#recording) return;
    this.#recording = recording;
    this.emit('recording', recording, actor);
    this.#changed();
  }

  get recording(): boolean {
    return this.#recording;
  }

  get activeSpeaker(): string | null {
    return this.#activeSpeaker;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('workerReplaced', this.#onWorkerReplaced);
    this.#pool.off('capacity', this.#onCapacity);
    // A change still waiting to be announced (going on air just before a
    // shutdown) is announced now: the registry saves the status from it.
    if (this.#snapshotTimer) this.#flushSnapshot();
    for (const peer of [...this.#peers.values()]) peer.close(this.#status === 'ended' ? 'ended' : 'closed');
    this.#peers.clear();
    for (const { router } of this.#routers.values()) router.close();
    this.#routers.clear();
    this.emit('close');
  }

  // ---- Program rules -------------------------------------------------------------

  #mayBeHeard(peer: Peer): boolean {
    return mayBeHeard(peer, { floor: this.#floor, muted: this.#muted });
  }

  async #applyMicRules(peer: Peer | undefined): Promise<void> {
    if (!peer) return;
    const mic = peer.producerOf('audio');
    if (!mic) return;
    const heard = this.#mayBeHeard(peer);
    if (heard && mic.paused) await mic.resume();
    else if (!heard && !mic.paused) await mic.pause();
    peer.notify('producer.paused', { producerId: mic.id, paused: !heard });
  }

  /** What is on air now: the program picture and every voice that is heard (onAir.ts). */
  programSources(): ProgramSources {
    return programOf(this.#peers.values(), { status: this.#status, floor: this.#floor, muted: this.#muted });
  }

  /** Everything a peer should receive now: the program picture and every voice on air. */
  #wanted(receiver: Peer): Map<string, { producer: types.Producer<ProducerInfo>; program: boolean }> {
    if (!receiver.rtpCapabilities) return new Map();
    const wanted = wantedBy({ receiveMode: receiver.receiveMode, ownStreamIds: receiver.producers.keys() }, this.programSources());
    return new Map([...wanted].map(([id, producer]) => [id, { producer, program: true }]));
  }

  #scheduleReconcile(): void {
    if (this.#reconcileQueued || this.#closed) return;
    this.#reconcileQueued = true;
    this.#reconciling = this.#reconciling.then(async () => {
      this.#reconcileQueued = false;
      if (this.#closed) return;
      try {
        await this.#reconcile();
      } catch (error) {
        this.#log.error({ err: error }, 'reconcile failed');
      }
      this.#announceProgram();
    });
  }

  /** Resolves once every scheduled reconcile has run (tests, recorder). */
  async settled(): Promise<void> {
    while (true) {
      const current = this.#reconciling;
      await current;
      if (current === this.#reconciling && !this.#reconcileQueued) return;
    }
  }

  async #reconcile(): Promise<void> {
    // Receivers are served side by side: with hundreds of points, one after
    // another would keep the last waiting for every round trip to the workers.
    const receivers = [...this.#peers.values()];
    const lanes = Array.from({ length: Math.min(reconcileLanes, receivers.length) }, async () => {
      for (let receiver = receivers.shift(); receiver; receiver = receivers.shift()) await this.#reconcilePeer(receiver);
    });
    await Promise.all(lanes);
  }

  async #reconcilePeer(receiver: Peer): Promise<void> {
    const transport = receiver.recvTransport;
    if (!transport || receiver.closed) return;
    const wanted = this.#wanted(receiver);
    for (const [producerId, consumer] of receiver.consumers) {
      if (!wanted.has(producerId) || consumer.closed) {
        consumer.close();
        receiver.removeConsumer(producerId);
        receiver.notify('consumer.closed', { consumerId: consumer.id });
      }
    }
    for (const [producerId, { producer, program }] of wanted) {
      if (receiver.consumers.has(producerId)) continue;
      try {
        await this.#consume(receiver, transport, producer, program);
      } catch (error) {
        // A receiver that left while we were consuming is not an error.
        if (receiver.closed || transport.closed) return;
        if (error instanceof WorkerBusyError) {
          this.#waitForCapacity(receiver);
          return;
        }
        this.#log.warn({ err: error, identity: receiver.identity, producerId }, 'could not consume');
      }
    }
  }

  async #consume(receiver: Peer, transport: types.Transport, producer: types.Producer<ProducerInfo>, program: boolean): Promise<void> {
    const source = this.#peers.get(producer.appData.identity);
    if (!source) return;
    await this.#pipe(producer, source.slotIndex, receiver.slotIndex);
    const router = this.#slotRouter(receiver.slotIndex).router;
    if (!router.canConsume({ producerId: producer.id, rtpCapabilities: receiver.rtpCapabilities! })) {
      this.#log.warn({ identity: receiver.identity, producerId: producer.id }, 'receiver cannot decode this codec');
      return;
    }
    // Counted before the await: the reconcile serves several receivers of a worker side by side.
    const placement = this.#pool.place({ unit: 'stream', slotIndex: receiver.slotIndex });
    // Browsers resume after their consumer exists, so the first packets are not lost.
    const consumer = await transport
      .consume<ConsumerInfo>({
        producerId: producer.id,
        rtpCapabilities: receiver.rtpCapabilities!,
        paused: !receiver.plain,
        appData: { identity: producer.appData.identity, source: producer.appData.source, program },
      })
      .catch(this.#releaseAndThrow(placement));
    this.#releaseOnClose(consumer, placement);
    if (receiver.closed || transport.closed) {
      consumer.close();
      return;
    }
    receiver.addConsumer(producer.id, consumer);
    // Its transport closing is the peer's bookkeeping (addConsumer); its
    // producer closing is news for the browser, unless a newer consumer already took its place.
    consumer.on('producerclose', () => {
      if (receiver.removeConsumer(producer.id, consumer)) receiver.notify('consumer.closed', { consumerId: consumer.id });
    });
    if (consumer.kind === 'video') {
      // The layer a receiver gets (none: a frozen picture) is what a support call needs to know.
      consumer.on('layerschange', (layers) =>
        this.#log.debug({ identity: receiver.identity, from: producer.appData.identity, layers: layers ?? null }, 'video layers'),
      );
      await this.#applyLayers(consumer, receiver.receiveMode, receiver.weakLink);
      await consumer.setPriority(program ? 255 : 1).catch(() => {});
    }
    receiver.notify('consumer.new', {
      consumerId: consumer.id,
      producerId: producer.id,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      identity: producer.appData.identity,
      source: producer.appData.source,
      program,
    });
  }

  /**
   * The receiver's worker is full: what it misses is made by the reconcile
   * that follows the next stream closing there (`capacity`). Said once, not
   * for every receiver of every reconcile, so that a full worker does not
   * flood the log too.
   */
  #waitForCapacity(receiver: Peer): void {
    // A stream there may have closed between the refusal and now, its `capacity` unheard: try again at once.
    if (this.#pool.hasRoom(receiver.slotIndex)) {
      this.#scheduleReconcile();
      return;
    }
    if (this.#waitingForCapacity) return;
    this.#waitingForCapacity = true;
    this.#log.warn(
      { identity: receiver.identity, worker: receiver.slotIndex, maxStreamsPerWorker: this.#pool.maxStreamsPerWorker },
      'a media worker is full: some participants miss part of the program until a stream there closes',
    );
  }

  /** How many streams a peer joining now receives at once: the program picture and the voices on air. */
  #programSize(options: { rtpCapabilities?: types.RtpCapabilities; receiveMode?: ReceiveMode }): number {
    return options.rtpCapabilities ? receivedOnJoin(this.programSources(), options.receiveMode ?? 'auto') : 0;
  }

  /** A stream's place on its worker is given back when it closes, however it closes (peer, transport, worker). */
  #releaseOnClose(stream: types.Producer | types.Consumer, placement: Placement): void {
    const observer: Pick<types.Producer['observer'], 'once'> = stream.observer;
    if (stream.closed) this.#pool.release(placement);
    else observer.once('close', () => this.#pool.release(placement));
  }

  /** For a stream mediasoup refused to create: its place is given back. */
  #releaseAndThrow(placement: Placement): (error: unknown) => never {
    return (error) => {
      this.#pool.release(placement);
      throw error;
    };
  }

  async #applyLayers(consumer: types.Consumer, mode: ReceiveMode, weakLink: boolean): Promise<void> {
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
    // 'low' pins the lowest layer, and so does a link that loses too much;
    // 'auto' otherwise lets mediasoup follow the receiver's bandwidth.
    await consumer.setPreferredLayers({ spatialLayer: preferredSpatialLayer(mode, weakLink) }).catch(() => {});
  }

  /** Makes a producer available on another worker's router (pipeToRouter). */
  async #pipe(producer: types.Producer, fromSlot: number, toSlot: number): Promise<void> {
    if (fromSlot === toSlot) return;
    const key = `${producer.id}>${toSlot}`;
    let pending = this.#pipes.get(key);
    if (!pending) {
      const from = this.#slotRouter(fromSlot).router;
      const to = this.#slotRouter(toSlot).router;
      pending = from.pipeToRouter({ producerId: producer.id, router: to, listenInfo: { ...loopbackRtp } }).then(() => undefined);
      this.#pipes.set(key, pending);
      pending.catch(() => this.#pipes.delete(key));
    }
    await pending;
  }

  // ---- Routers ---------------------------------------------------------------------

  #slotRouter(slotIndex: number): SlotRouter {
    const entry = this.#routers.get(slotIndex);
    if (!entry) throw new DiemcauError('media-error', 'the media server is restarting');
    return entry;
  }

  #transportOf(peer: Peer, transportId: string): types.Transport {
    const transport = peer.transport(transportId);
    if (!transport) throw new NotFoundError(`no transport ${transportId}`);
    return transport;
  }

  async #createRouters(): Promise<void> {
    for (const slot of this.#pool.slots) {
      if (this.#closed) return;
      const router = await slot.worker.createRouter({ mediaCodecs, appData: { session: this.id } });
      let speakerObserver: types.AudioLevelObserver;
      try {
        // The loudest voice on air, from the audio level the senders put in each packet.
        speakerObserver = await router.createAudioLevelObserver({ maxEntries: 1, threshold: -70, interval: 800 });
      } catch (error) {
        router.close();
        throw error;
      }
      if (this.#closed) {
        router.close();
        return;
      }
      speakerObserver.on('volumes', (volumes) => {
        const producer = volumes[0]?.producer;
        this.#setActiveSpeaker(producer ? (producer.appData as unknown as ProducerInfo).identity : null);
      });
      speakerObserver.on('silence', () => this.#setActiveSpeaker(null));
      this.#routers.set(slot.index, { router, speakerObserver });
    }
  }

  /** Tells the recorder when the set of producers on air changes. */
  #announceProgram(): void {
    const sources = this.programSources();
    const key = programKey(sources);
    if (key === this.#programKey) return;
    this.#programKey = key;
    this.emit('program', sources);
  }

  /**
   * Consumes a producer on a transport of one worker's router, piping it
   * there first if needed. For receivers outside the peer model (the recorder).
   */
  async consumeOn(
    slotIndex: number,
    transport: types.Transport,
    producer: types.Producer<ProducerInfo>,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerInfo>> {
    const source = this.#peers.get(producer.appData.identity);
    if (!source) throw new NotFoundError(`${producer.appData.identity} has left`);
    await this.#pipe(producer, source.slotIndex, slotIndex);
    return transport.consume<ConsumerInfo>({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { identity: producer.appData.identity, source: producer.appData.source, program: true },
    });
  }

  #setActiveSpeaker(identity: string | null): void {
    if (identity === this.#activeSpeaker) return;
    this.#activeSpeaker = identity;
    this.emit('activeSpeaker', identity);
    for (const peer of this.#peers.values()) peer.notify('activeSpeaker', { identity });
  }

  /**
   * A media worker died: every router of this session is rebuilt and every
   * peer is asked to rejoin. Who holds the floor and whose hand is up survive.
   */
  async #restartMedia(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#log.warn({ reason }, 'restarting the session media');
    for (const { router } of this.#routers.values()) router.close();
    this.#routers.clear();
    this.#pipes.clear();
    for (const peer of this.#peers.values()) peer.closeMedia();
    await this.#createRouters();
    for (const peer of this.#peers.values()) peer.notify('media.restart', { reason });
  }

  #changed(): void {
    if (this.#snapshotTimer || this.#closed) return;
    // Many changes arrive together (a join brings transports and producers):
    // send one snapshot for them.
    this.#snapshotTimer = setTimeout(() => this.#flushSnapshot(), 30);
  }

  #flushSnapshot(): void {
    if (this.#snapshotTimer) clearTimeout(this.#snapshotTimer);
    this.#snapshotTimer = null;
    const snapshot = this.snapshot();
    this.emit('snapshot', snapshot);
    for (const peer of this.#peers.values()) peer.notify('session.snapshot', snapshotFor(snapshot, peer));
  }
}
