import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { DiemcauError } from '../errors.js';
import type { Logger } from '../logger.js';
import { mediaCodecs } from '../media/codecs.js';
import type { Placement, WorkerPool } from '../media/WorkerPool.js';
import type { ConsumerInfo, ProducerInfo } from './Peer.js';

export interface RoomMediaOptions {
  sessionId: string;
  pool: WorkerPool;
  logger: Logger;
  /** The most a browser may send, in bits per second. */
  maxIncomingBitrate: number;
}

export interface RoomMediaEvents {
  /** The loudest voice on air changed: whose it is, or null in silence. */
  activeSpeaker: [identity: string | null];
  /** A worker died: every router is gone, with every transport on it. Rebuilding follows. */
  lost: [reason: string];
  /** The routers are rebuilt after `lost`: peers may create their transports again. */
  restarted: [reason: string];
  /** A receiver refused for a full worker may be served now (a stream there closed). */
  capacity: [];
}

/** What a stream to produce is, as `transport.produce()` takes it. */
export interface ProduceRequest {
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
  paused: boolean;
  appData: ProducerInfo;
}

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

interface SlotRouter {
  router: types.Router;
  speakerObserver: types.AudioLevelObserver;
}

/**
 * A session's media on the workers: one router per worker, the pipes that
 * carry a producer from its sender's worker to its receivers', the places
 * each stream takes on a worker, and the rebuild after a worker dies.
 *
 * It knows streams, not people: who should receive what is the Room's
 * business (onAir.ts), and a Peer keeps the transports and streams it owns.
 */
export class RoomMedia extends EventEmitter<RoomMediaEvents> {
  readonly #sessionId: string;
  readonly #pool: WorkerPool;
  readonly #log: Logger;
  readonly #maxIncomingBitrate: number;
  readonly #routers = new Map<number, SlotRouter>();
  /** Pipes already made: `${producerId}>${slotIndex}`. */
  readonly #pipes = new Map<string, Promise<void>>();
  #closed = false;
  /** Rebuilds run one after another: a worker may die again while one is under way. */
  #restarts: Promise<void> = Promise.resolve();
  /** A receiver was refused a consumer because its worker is full: said once until a stream closes. */
  #waitingForCapacity = false;

  readonly #onWorkerReplaced = (index: number) => {
    this.#restarts = this.#restarts.then(() =>
      this.#restart(`media worker ${index} restarted`).catch((error: unknown) => {
        // A worker that dies during the rebuild is replaced in turn, and that
        // replacement starts the next rebuild: this one just gives way.
        this.#log.warn({ err: error }, 'media restart interrupted; the next one follows');
      }),
    );
  };

  readonly #onCapacity = () => {
    if (!this.#waitingForCapacity) return;
    this.#waitingForCapacity = false;
    this.emit('capacity');
  };

  private constructor(options: RoomMediaOptions) {
    super();
    this.#sessionId = options.sessionId;
    this.#pool = options.pool;
    this.#log = options.logger;
    this.#maxIncomingBitrate = options.maxIncomingBitrate;
  }

  /** A router on every worker, or nothing left behind if a worker dies meanwhile. */
  static async create(options: RoomMediaOptions): Promise<RoomMedia> {
    const media = new RoomMedia(options);
    try {
      await media.#createRouters();
    } catch (error) {
      media.close();
      throw error;
    }
    options.pool.on('workerReplaced', media.#onWorkerReplaced);
    options.pool.on('capacity', media.#onCapacity);
    return media;
  }

  get rtpCapabilities(): types.RtpCapabilities {
    return this.#routers.values().next().value!.router.rtpCapabilities;
  }

  /** The router of one worker (the recorder takes its streams there). */
  router(slotIndex: number): types.Router | undefined {
    return this.#routers.get(slotIndex)?.router;
  }

  /**
   * The worker for a participant who receives `streams` at once, counted
   * there until the returned placement is released; `busy` when none has room.
   */
  placePeer(streams: number): Placement {
    return this.#pool.place({ unit: 'peer', streams });
  }

  release(placement: Placement): void {
    this.#pool.release(placement);
  }

  async createWebRtcTransport(slotIndex: number, direction: 'send' | 'recv'): Promise<types.WebRtcTransport> {
    const { router } = this.#slotRouter(slotIndex);
    const transport = await router.createWebRtcTransport({
      webRtcServer: this.#pool.slots[slotIndex].webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 600_000,
      appData: { direction },
    });
    if (direction === 'send') await transport.setMaxIncomingBitrate(this.#maxIncomingBitrate).catch(() => {});
    // Set before the first consumer exists: the estimate is floored from the start.
    else await transport.setMinOutgoingBitrate(programFloorBitrate).catch(() => {});
    return transport;
  }

  /** An RTP transport on loopback, for a hardware encoder, the recorder or a test. */
  async createPlainTransport(
    slotIndex: number,
    direction: 'send' | 'recv',
    options: { enableSrtp?: boolean } = {},
  ): Promise<types.PlainTransport> {
    const { router } = this.#slotRouter(slotIndex);
    return router.createPlainTransport({
      listenInfo: { ...loopbackRtp },
      rtcpMux: true,
      comedia: direction === 'send',
      ...options,
      appData: { direction },
    });
  }

  /**
   * A producer on a transport of worker `slotIndex`, counted there while it
   * lives. Its voice is weighed for the active speaker; with `everywhere`
   * (the studio, always on air) it is piped to every worker at once, before
   * the first receiver there needs it (a pipe made on demand costs that receiver ~1 s).
   */
  async produce(
    transport: types.Transport,
    slotIndex: number,
    request: ProduceRequest,
    { everywhere }: { everywhere: boolean },
  ): Promise<types.Producer<ProducerInfo>> {
    // Counted before the first await, so that streams asked for together cannot all pass the limit.
    const placement = this.#pool.place({ unit: 'stream', slotIndex });
    const producer = await transport.produce<ProducerInfo>(request).catch(this.#releaseAndThrow(placement));
    this.#releaseOnClose(producer, placement);
    producer.observer.once('close', () => {
      for (const key of this.#pipes.keys()) if (key.startsWith(`${producer.id}>`)) this.#pipes.delete(key);
    });
    if (request.kind === 'audio') {
      await this.#slotRouter(slotIndex)
        .speakerObserver.addProducer({ producerId: producer.id })
        .catch(() => {});
    }
    if (everywhere) {
      for (const to of this.#routers.keys()) {
        this.#pipe(producer, slotIndex, to).catch((error) =>
          this.#log.debug({ err: error, producerId: producer.id }, 'could not pipe ahead'),
        );
      }
    }
    return producer;
  }

  /**
   * A consumer of `producer` (sent on worker `fromSlot`) on a transport of
   * worker `toSlot`, piped there first if needed. Undefined when the
   * receiver cannot decode its codec. With `counted`, the consumer takes a
   * place on its worker while it lives (`busy` when the worker is full);
   * the recorder's are not counted (see placement.ts).
   */
  async consume(
    transport: types.Transport,
    producer: types.Producer<ProducerInfo>,
    route: { fromSlot: number; toSlot: number; rtpCapabilities: types.RtpCapabilities },
    options: { paused: boolean; appData: ConsumerInfo; counted: boolean },
  ): Promise<types.Consumer<ConsumerInfo> | undefined> {
    await this.#pipe(producer, route.fromSlot, route.toSlot);
    const router = this.#slotRouter(route.toSlot).router;
    if (!router.canConsume({ producerId: producer.id, rtpCapabilities: route.rtpCapabilities })) return undefined;
    // Counted before the await: the Room serves several receivers of a worker side by side.
    const placement = options.counted ? this.#pool.place({ unit: 'stream', slotIndex: route.toSlot }) : undefined;
    const consuming = transport.consume<ConsumerInfo>({
      producerId: producer.id,
      rtpCapabilities: route.rtpCapabilities,
      paused: options.paused,
      appData: options.appData,
    });
    if (!placement) return consuming;
    const consumer = await consuming.catch(this.#releaseAndThrow(placement));
    this.#releaseOnClose(consumer, placement);
    return consumer;
  }

  /**
   * A receiver on worker `slotIndex` was refused for a full worker: a
   * `capacity` event follows when it may be served. Said once in the log,
   * not for every receiver of every reconcile, so that a full worker does
   * not flood the log too.
   */
  waitForCapacity(slotIndex: number, identity: string): void {
    // A stream there may have closed between the refusal and now, its `capacity` unheard: go again at once.
    if (this.#pool.hasRoom(slotIndex)) {
      this.emit('capacity');
      return;
    }
    if (this.#waitingForCapacity) return;
    this.#waitingForCapacity = true;
    this.#log.warn(
      { identity, worker: slotIndex, maxStreamsPerWorker: this.#pool.maxStreamsPerWorker },
      'a media worker is full: some participants miss part of the program until a stream there closes',
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('workerReplaced', this.#onWorkerReplaced);
    this.#pool.off('capacity', this.#onCapacity);
    for (const { router } of this.#routers.values()) router.close();
    this.#routers.clear();
    this.#pipes.clear();
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

  /** Makes a producer available on another worker's router (pipeToRouter), once. */
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

  #slotRouter(slotIndex: number): SlotRouter {
    const entry = this.#routers.get(slotIndex);
    if (!entry) throw new DiemcauError('media-error', 'the media server is restarting');
    return entry;
  }

  async #createRouters(): Promise<void> {
    for (const slot of this.#pool.slots) {
      if (this.#closed) return;
      const router = await slot.worker.createRouter({ mediaCodecs, appData: { session: this.#sessionId } });
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
        this.emit('activeSpeaker', producer ? (producer.appData as unknown as ProducerInfo).identity : null);
      });
      speakerObserver.on('silence', () => this.emit('activeSpeaker', null));
      this.#routers.set(slot.index, { router, speakerObserver });
    }
  }

  /** A media worker died: every router of this session is rebuilt. */
  async #restart(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#log.warn({ reason }, 'restarting the session media');
    for (const { router } of this.#routers.values()) router.close();
    this.#routers.clear();
    this.#pipes.clear();
    this.emit('lost', reason);
    await this.#createRouters();
    if (!this.#closed) this.emit('restarted', reason);
  }
}
