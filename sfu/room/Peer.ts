import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { MediaSource, NotificationData, NotificationMethod, ReceiveMode, Role } from '../../protocol/index.js';
import { BusyError, ConflictError, DiemcauError } from '../errors.js';
import { streamOf } from './onAir.js';

/** What one peer may hold open at once; a browser needs 2 transports and 2–3 producers. */
export interface PeerLimits {
  maxTransports: number;
  maxProducers: number;
}

/** Peers made inside the server (encoders, recorder, tests) are not limited. */
const unlimited: PeerLimits = { maxTransports: Infinity, maxProducers: Infinity };

export interface PeerOptions {
  identity: string;
  name: string;
  role: Role;
  /** Index of the worker slot whose router carries this peer's transports. */
  slotIndex: number;
  /** Plain-RTP peers (encoders, recorder, tests) get consumers already running. */
  plain?: boolean;
  /** Joined under a console account (the control room): present, but not a participant of the session. */
  staff?: boolean;
  /** Limits for peers that come from outside (signaling). */
  limits?: PeerLimits;
}

export interface PeerEvents {
  notification: [message: { [M in NotificationMethod]: { notification: M; data: NotificationData[M] } }[NotificationMethod]];
  close: [reason: string];
}

export type ProducerInfo = {
  source: MediaSource;
  identity: string;
};

export type ConsumerInfo = {
  identity: string;
  source: MediaSource;
  program: boolean;
};

/**
 * One participant of a session: its transports, what it sends and what it
 * receives. The Room decides what a peer may send and receive; the Peer only
 * holds the mediasoup objects and closes them with itself.
 */
export class Peer extends EventEmitter<PeerEvents> {
  readonly identity: string;
  readonly name: string;
  readonly role: Role;
  readonly slotIndex: number;
  readonly plain: boolean;
  /** Joined under a console account: the roll call and the attendance leave it out (rollcall/participants.ts). */
  readonly staff: boolean;
  readonly joinedAt = Date.now();
  rtpCapabilities?: types.RtpCapabilities;
  receiveMode: ReceiveMode = 'auto';
  readonly #transports = new Map<string, types.Transport>();
  readonly #producers = new Map<string, types.Producer<ProducerInfo>>();
  /** Keyed by the producer it receives. */
  readonly #consumers = new Map<string, types.Consumer<ConsumerInfo>>();
  /** What the browser last reported of its link. */
  clientStats: Record<string, number> = {};
  /** The browser's recent inbound loss reports, newest last (weak-link policy). */
  readonly inboundLosses: number[] = [];
  /** Its video is held at the lowest layer because its link loses too much. */
  weakLink = false;
  readonly limits: PeerLimits;
  #closed = false;
  /** Transports being created: they count against the limit before they exist. */
  #transportsPending = 0;
  /** `${kind}:${source}` of producers being created. */
  readonly #producersPending = new Set<string>();

  constructor(options: PeerOptions) {
    super();
    this.identity = options.identity;
    this.name = options.name;
    this.role = options.role;
    this.slotIndex = options.slotIndex;
    this.plain = options.plain ?? false;
    this.staff = options.staff ?? false;
    this.limits = options.limits ?? unlimited;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // Read-only views: only the Peer adds and forgets entries (add*/remove* below),
  // so the maps cannot drift from the mediasoup objects' lives.

  get transports(): ReadonlyMap<string, types.Transport> {
    return this.#transports;
  }

  get producers(): ReadonlyMap<string, types.Producer<ProducerInfo>> {
    return this.#producers;
  }

  /** Keyed by the producer each one receives. */
  get consumers(): ReadonlyMap<string, types.Consumer<ConsumerInfo>> {
    return this.#consumers;
  }

  /** Holds a transport until it closes, however it closes (by the peer, its router or its worker). */
  addTransport(transport: types.Transport): void {
    this.#transports.set(transport.id, transport);
    transport.observer.once('close', () => this.#transports.delete(transport.id));
  }

  /**
   * Holds a producer until it closes. Registered before the caller's own
   * 'close' listeners, so that they already see it gone.
   */
  addProducer(producer: types.Producer<ProducerInfo>): void {
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => this.#producers.delete(producer.id));
  }

  /**
   * Holds the consumer that receives a producer, replacing the one held for it
   * before. Forgotten when its transport closes; a consumer closed any other
   * way stays until the Room removes it, because the Room tells the browser
   * (removeConsumer).
   */
  addConsumer(producerId: string, consumer: types.Consumer<ConsumerInfo>): void {
    this.#consumers.set(producerId, consumer);
    // Unconditional, as before this moved here: a transport closing takes the entry for its producer with it.
    consumer.on('transportclose', () => this.#consumers.delete(producerId));
  }

  /**
   * Forgets what is held for a producer; given a consumer, only if that one is
   * still the current one (a newer one may have replaced it). Returns whether
   * anything was forgotten, i.e. whether the browser must be told.
   */
  removeConsumer(producerId: string, consumer?: types.Consumer<ConsumerInfo>): boolean {
    if (consumer && this.#consumers.get(producerId) !== consumer) return false;
    return this.#consumers.delete(producerId);
  }

  get recvTransport(): types.Transport | undefined {
    for (const t of this.transports.values()) if ((t.appData as { direction?: string }).direction === 'recv') return t;
    return undefined;
  }

  /** What it sends, as the on-air rules read it (onAir.ts). */
  get streams(): Iterable<types.Producer<ProducerInfo>> {
    return this.producers.values();
  }

  producerOf(kind: 'audio' | 'video', source?: MediaSource): types.Producer<ProducerInfo> | undefined {
    return streamOf(this.producers.values(), kind, source);
  }

  notify<M extends NotificationMethod>(notification: M, data: NotificationData[M]): void {
    if (this.#closed) return;
    this.emit('notification', { notification, data } as never);
  }

  transport(id: string): types.Transport | undefined {
    return this.transports.get(id);
  }

  /**
   * Holds a place for a transport about to be created, so that requests sent
   * together cannot all pass the limit before the first one exists. Call the
   * returned function once the transport exists or failed.
   */
  reserveTransport(): () => void {
    this.#assertOpen();
    if (this.transports.size + this.#transportsPending >= this.limits.maxTransports) {
      throw new BusyError(`at most ${this.limits.maxTransports} transports per participant`);
    }
    this.#transportsPending++;
    return once(() => this.#transportsPending--);
  }

  /**
   * Holds the place of the producer of one kind and source about to be
   * created: one per source, even for requests sent together (a new one
   * replaces an existing one once the first has finished, as a camera switch
   * does). Call the returned function once the producer exists or failed.
   */
  reserveProducer(kind: 'audio' | 'video', source: MediaSource): () => void {
    this.#assertOpen();
    const key = `${kind}:${source}`;
    if (this.#producersPending.has(key)) throw new ConflictError(`a ${source} ${kind} is already being set up`);
    const replaced = this.producerOf(kind, source) ? 1 : 0;
    if (this.producers.size - replaced + this.#producersPending.size >= this.limits.maxProducers) {
      throw new BusyError(`at most ${this.limits.maxProducers} streams per participant`);
    }
    this.#producersPending.add(key);
    return once(() => this.#producersPending.delete(key));
  }

  #assertOpen(): void {
    if (this.#closed) throw new DiemcauError('not-joined', 'this participant has left the session');
  }

  /** Closes every transport (and with them every producer and consumer). */
  closeMedia(): void {
    for (const transport of this.#transports.values()) transport.close();
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeMedia();
    this.emit('close', reason);
  }
}

function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}
