import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { alwaysOnAir, type MediaSource, type ReceiveMode, type SessionSnapshot, type SessionStatus } from '../../protocol/index.js';
import { ConflictError, NotFoundError, WorkerBusyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Peer, type ConsumerInfo, type PeerOptions, type ProducerInfo } from './Peer.js';
import {
  type FloorState,
  mayBeHeard,
  programStudio,
  preferredSpatialLayer,
  programKey,
  programOf,
  programPicture,
  receivedOnJoin,
  type Program,
  wantedBy,
} from './onAir.js';
import { RoomMedia } from './RoomMedia.js';
import { snapshotFor } from './snapshotFor.js';
import { decideWeakLink, historyLength } from './weakLink.js';

/** Where the operator's live actions reach the services beside the Room. */
export interface RoomControls {
  /** Marks an agenda item current, checked against the session's agenda (the session registry keeps it). */
  agenda?: (itemId: string | null) => Promise<void>;
  /** Starts and stops the recorder (the recording service). */
  recording?: { start(actor: string): Promise<void>; stop(actor: string): Promise<void> };
}

export interface RoomOptions {
  id: string;
  title: string;
  pool: WorkerPool;
  logger: Logger;
  maxIncomingBitrate: number;
  controls?: RoomControls;
}

/** How many receivers a reconcile serves at once. */
const reconcileLanes = 16;

/** What is on air, as mediasoup producers. */
export type ProgramSources = Program<types.Producer<ProducerInfo>>;

export interface RoomEvents {
  /** The floor moved: the identity that holds it now, or null; `actor` is who moved it. */
  floor: [identity: string | null, previous: string | null, actor: string];
  /** The operator chose the program studio (null: the first to join). */
  studio: [identity: string | null, actor: string];
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

/**
 * One live session: its peers and the rules of the program — who is on air,
 * who is heard, who receives what. Its media on the workers (routers, pipes,
 * the rebuild after a worker dies) is a RoomMedia it owns.
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
  readonly #media: RoomMedia;
  readonly #log: Logger;
  readonly #controls: RoomControls;
  readonly #peers = new Map<string, Peer>();
  readonly #hands = new Set<string>();
  #status: SessionStatus = 'waiting';
  #floor: string | null = null;
  /** The studio the operator put on air when the hall sends from two (browser and encoder); null: the first to join. */
  #chosenStudio: string | null = null;
  /** The program studio at the last reconcile: when it changes, the studios' microphones follow. */
  #lastProgramStudio: string | null = null;
  #activeSpeaker: string | null = null;
  #reconciling: Promise<void> = Promise.resolve();
  #reconcileQueued = false;
  #snapshotTimer: NodeJS.Timeout | null = null;
  #programKey = '';
  #recording = false;
  readonly #closeDelays: Promise<unknown>[] = [];
  readonly #muted = new Set<string>();
  #agendaItem: { id: string; title: string } | null = null;
  #closed = false;
  private constructor(options: RoomOptions, media: RoomMedia, log: Logger) {
    super();
    this.id = options.id;
    this.title = options.title;
    this.#log = log;
    this.#controls = options.controls ?? {};
    this.#media = media;
    media.on('activeSpeaker', (identity) => this.#setActiveSpeaker(identity));
    media.on('capacity', () => this.#scheduleReconcile());
    // Every transport went with the routers: each peer forgets its media and
    // is asked to rejoin once the routers are back. The floor and the hands survive.
    media.on('lost', () => {
      for (const peer of this.#peers.values()) peer.closeMedia();
    });
    media.on('restarted', (reason) => {
      for (const peer of this.#peers.values()) peer.notify('media.restart', { reason });
    });
  }

  static async create(options: RoomOptions): Promise<Room> {
    const log = options.logger.child({ session: options.id });
    const media = await RoomMedia.create({
      sessionId: options.id,
      pool: options.pool,
      logger: log,
      maxIncomingBitrate: options.maxIncomingBitrate,
    });
    return new Room(options, media, log);
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
    return this.#media.rtpCapabilities;
  }

  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  peer(identity: string): Peer | undefined {
    return this.#peers.get(identity);
  }

  /** The router of one worker, where the recorder takes its streams. */
  router(slotIndex: number): types.Router | undefined {
    return this.#media.router(slotIndex);
  }

  /**
   * A WebRTC transport on the first worker's router that belongs to no peer:
   * a point's readiness check (sfu/readiness) echoes its test picture through
   * it without joining. Its owner closes it; the routers' end closes it too.
   */
  async createCheckTransport(direction: 'send' | 'recv'): Promise<types.WebRtcTransport> {
    if (this.#closed || this.#status === 'ended') throw new ConflictError('the session has ended');
    return this.#media.createWebRtcTransport(0, direction);
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
    const placement = this.#media.placePeer(this.#programSize(options));
    const slot = placement.slot;
    const peer = new Peer({ ...options, slotIndex: slot.index });
    peer.rtpCapabilities = options.rtpCapabilities;
    peer.receiveMode = options.receiveMode ?? 'auto';
    peer.once('close', () => this.#media.release(placement));
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
    const transport = await this.#media.createWebRtcTransport(peer.slotIndex, direction);
    this.#adopt(peer, transport, direction);
    return transport;
  }

  /** An RTP transport for a hardware encoder, the recorder or a test. */
  async createPlainTransport(
    peer: Peer,
    direction: 'send' | 'recv',
    options: { enableSrtp?: boolean } = {},
  ): Promise<types.PlainTransport> {
    const transport = await this.#media.createPlainTransport(peer.slotIndex, direction, options);
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
    // The studio is always on air: its media goes to every worker at once.
    // Points are piped when given the floor: a hundred idle cameras copied to
    // every worker would cost more than the wait.
    const producer = await this.#media.produce(
      transport,
      peer.slotIndex,
      { kind, rtpParameters, paused: muted, appData: { source, identity: peer.identity } },
      { everywhere: alwaysOnAir(peer.role) },
    );
    // Added first: the peer forgets it on close before the reactions below run.
    peer.addProducer(producer);
    producer.observer.once('close', () => {
      this.#scheduleReconcile();
      this.#changed();
    });
    if (muted) peer.notify('producer.paused', { producerId: producer.id, paused: true });
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
      if (consumer.kind === 'video') await preferLayers(consumer, peer.receiveMode, peer.weakLink);
    }
    this.#changed();
  }

  async setReceiveMode(peer: Peer, mode: ReceiveMode): Promise<void> {
    peer.receiveMode = mode;
    for (const consumer of peer.consumers.values()) {
      if (consumer.kind === 'video') await preferLayers(consumer, mode, peer.weakLink);
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

  /**
   * The operator chooses which of the hall's studios is the program (its
   * browser or its encoder); null returns to the first that joined. The
   * other stays connected, silent and off air, ready to take over.
   */
  chooseStudio(identity: string | null, actor = 'operator'): void {
    if (identity !== null) {
      const peer = this.#peers.get(identity);
      if (!peer) throw new NotFoundError(`${identity} is not in the session`);
      if (!alwaysOnAir(peer.role)) throw new ConflictError('only a studio can be chosen as the program');
    }
    this.#chosenStudio = identity;
    this.#log.info({ identity, actor }, 'program studio chosen');
    this.emit('studio', identity, actor);
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

  /** The operator marks an agenda item current: checked against the session's agenda, then shown to everyone. */
  async markAgendaItem(itemId: string | null): Promise<void> {
    if (!this.#controls.agenda) throw new ConflictError('this session has no agenda');
    await this.#controls.agenda(itemId);
  }

  /** The operator starts or stops the recording. */
  async controlRecording(recording: boolean, actor: string): Promise<void> {
    const control = this.#controls.recording;
    if (!control) throw new ConflictError('recording is not available on this server');
    await (recording ? control.start(actor) : control.stop(actor));
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
      programSource: programPicture(this.#peers.values(), this.#state())?.appData.identity ?? null,
      floor: this.#floor,
      studio: this.#state().studio,
      chosenStudio: this.#chosenStudio,
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
    // A change still waiting to be announced (going on air just before a
    // shutdown) is announced now: the registry saves the status from it.
    if (this.#snapshotTimer) this.#flushSnapshot();
    for (const peer of [...this.#peers.values()]) peer.close(this.#status === 'ended' ? 'ended' : 'closed');
    this.#peers.clear();
    this.#media.close();
    this.emit('close');
  }

  // ---- Program rules -------------------------------------------------------------

  /** The state the program rules read (onAir.ts). */
  #state(): FloorState {
    return {
      status: this.#status,
      floor: this.#floor,
      muted: this.#muted,
      studio: programStudio(this.#peers.values(), this.#chosenStudio),
    };
  }

  #mayBeHeard(peer: Peer): boolean {
    return mayBeHeard(peer, this.#state());
  }

  /** A studio came, left or was chosen: each studio's microphone is heard only while it is the program. */
  async #followProgramStudio(): Promise<void> {
    const studio = this.#state().studio;
    if (studio === this.#lastProgramStudio) return;
    this.#log.info({ studio, previous: this.#lastProgramStudio }, 'program studio');
    this.#lastProgramStudio = studio;
    for (const peer of this.#peers.values()) if (alwaysOnAir(peer.role)) await this.#applyMicRules(peer);
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
    return programOf(this.#peers.values(), this.#state());
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
        await this.#followProgramStudio();
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
          this.#media.waitForCapacity(receiver.slotIndex, receiver.identity);
          return;
        }
        this.#log.warn({ err: error, identity: receiver.identity, producerId }, 'could not consume');
      }
    }
  }

  async #consume(receiver: Peer, transport: types.Transport, producer: types.Producer<ProducerInfo>, program: boolean): Promise<void> {
    const source = this.#peers.get(producer.appData.identity);
    if (!source) return;
    // Browsers resume after their consumer exists, so the first packets are not lost.
    const consumer = await this.#media.consume(
      transport,
      producer,
      { fromSlot: source.slotIndex, toSlot: receiver.slotIndex, rtpCapabilities: receiver.rtpCapabilities! },
      {
        paused: !receiver.plain,
        counted: true,
        appData: { identity: producer.appData.identity, source: producer.appData.source, program },
      },
    );
    if (!consumer) {
      this.#log.warn({ identity: receiver.identity, producerId: producer.id }, 'receiver cannot decode this codec');
      return;
    }
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
    let tuned: Promise<unknown> | undefined;
    if (consumer.kind === 'video') {
      // The layer a receiver gets (none: a frozen picture) is what a support call needs to know.
      consumer.on('layerschange', (layers) =>
        this.#log.debug({ identity: receiver.identity, from: producer.appData.identity, layers: layers ?? null }, 'video layers'),
      );
      // Asked of the worker now, the browser told at once: the worker takes requests in order, so both are
      // applied before the browser's resume (which needs consumer.new first) — and the point waits two round trips less.
      tuned = Promise.all([
        preferLayers(consumer, receiver.receiveMode, receiver.weakLink),
        consumer.setPriority(program ? 255 : 1).catch(() => {}),
      ]);
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
    await tuned;
  }

  /** How many streams a peer joining now receives at once: the program picture and the voices on air. */
  #programSize(options: { rtpCapabilities?: types.RtpCapabilities; receiveMode?: ReceiveMode }): number {
    return options.rtpCapabilities ? receivedOnJoin(this.programSources(), options.receiveMode ?? 'auto') : 0;
  }

  #transportOf(peer: Peer, transportId: string): types.Transport {
    const transport = peer.transport(transportId);
    if (!transport) throw new NotFoundError(`no transport ${transportId}`);
    return transport;
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
    const consumer = await this.#media.consume(
      transport,
      producer,
      { fromSlot: source.slotIndex, toSlot: slotIndex, rtpCapabilities },
      { paused: true, counted: false, appData: { identity: producer.appData.identity, source: producer.appData.source, program: true } },
    );
    if (!consumer) throw new ConflictError(`the recorder cannot take ${producer.kind} from ${producer.appData.identity}`);
    return consumer;
  }

  #setActiveSpeaker(identity: string | null): void {
    if (identity === this.#activeSpeaker) return;
    this.#activeSpeaker = identity;
    this.emit('activeSpeaker', identity);
    for (const peer of this.#peers.values()) peer.notify('activeSpeaker', { identity });
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

/** 'low' pins the lowest layer, and so does a link that loses too much; 'auto' otherwise lets mediasoup follow the receiver's bandwidth. */
async function preferLayers(consumer: types.Consumer, mode: ReceiveMode, weakLink: boolean): Promise<void> {
  if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
  await consumer.setPreferredLayers({ spatialLayer: preferredSpatialLayer(mode, weakLink) }).catch(() => {});
}
