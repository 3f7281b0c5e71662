import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { DiemcauError, WorkerBusyError } from '../errors.js';
import type { Logger } from '../logger.js';
import { chooseWorker, hasRoom, type WorkerLoad } from './placement.js';
import { baselineProbes, judgeWorker } from './saturation.js';

export interface WorkerPoolOptions {
  count: number;
  rtcListenIp: string;
  announcedAddress: string;
  /** Worker i's WebRtcServer listens on basePort + i (UDP and TCP). */
  rtcBasePort: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** Producers and consumers one worker may carry (see placement.ts); beyond, new ones are refused as busy. */
  maxStreamsPerWorker: number;
  logger: Logger;
}

/** One slot per core: its worker and the WebRtcServer every transport on it shares. */
export interface WorkerSlot extends WorkerLoad {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  /** How long the worker took to answer the last health probe (ms). */
  replyMs: number;
  /** CPU the worker used over the last probe interval, in % of one core. */
  cpuPercent: number;
  /** The worker's own verdict (saturation.ts): its CPU, or its replies against its usual delay. */
  saturated: boolean;
}

export interface WorkerPoolEvents {
  /** A worker died; the slot already runs a fresh worker. */
  workerReplaced: [index: number, error: Error];
  /** A worker that was full has room again: sessions that were refused streams there may try again. */
  capacity: [index: number];
}

/** What `place()` is asked to place. */
export type PlaceRequest =
  /** A participant who joins: the pool chooses the worker, one with room for the `streams` it receives at once. */
  | { unit: 'peer'; streams: number }
  /** One producer or consumer of a participant already placed: on that participant's worker. */
  | { unit: 'stream'; slotIndex: number };

/** A participant or a stream counted on a worker until `release()` gives it back. */
export interface Placement {
  readonly unit: 'peer' | 'stream';
  /** The slot it is counted on (its worker's replacement, for a participant whose worker died). */
  readonly slot: WorkerSlot;
}

interface Held {
  unit: 'peer' | 'stream';
  slot: WorkerSlot;
}

/**
 * Runs one mediasoup worker per core and replaces any that dies. Sessions
 * listen for `workerReplaced` and rebuild what they had on it.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: WorkerSlot[] = [];
  /** Everything placed and not yet released: what the counts on the slots add up. */
  readonly #placed = new Set<Held>();
  readonly #cpu = new Map<number, { cpuMs: number; at: number }>();
  /** Each worker's recent probe replies (ms), by pid: its usual delay. */
  readonly #replies = new Map<number, number[]>();
  #closed = false;
  #health: NodeJS.Timeout | undefined;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    // Every open session listens for replaced workers and freed capacity.
    this.setMaxListeners(0);
  }

  get maxStreamsPerWorker(): number {
    return this.#options.maxStreamsPerWorker;
  }

  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.#options.count; i++) {
      this.#slots.push(await this.#createSlot(i));
    }
    this.#options.logger.info(
      { workers: this.#slots.length, worker: mediasoup.workerBin, version: mediasoup.version },
      'media workers running',
    );
    this.#health = setInterval(() => void this.#probe(), 5000);
    this.#health.unref();
  }

  /**
   * Asks every worker for its resource usage: the answer's delay tells how
   * busy its control channel is, the CPU time how busy the worker is — an
   * operator sees a saturating worker (metrics, log) before points suffer.
   */
  async #probe(): Promise<void> {
    for (const slot of this.#slots) {
      const started = performance.now();
      try {
        const usage = await slot.worker.getResourceUsage();
        slot.replyMs = Math.round((performance.now() - started) * 10) / 10;
        const cpuMs = usage.ru_utime + usage.ru_stime;
        const previous = this.#cpu.get(slot.worker.pid);
        if (previous) slot.cpuPercent = Math.round(((cpuMs - previous.cpuMs) / (Date.now() - previous.at)) * 1000) / 10;
        this.#cpu.set(slot.worker.pid, { cpuMs, at: Date.now() });
        const recent = this.#replies.get(slot.worker.pid) ?? [];
        const verdict = judgeWorker(slot, recent);
        // Once when it starts and once when it ends: an operator reads a state, not a stream of the same line.
        if (verdict.saturated && !slot.saturated) {
          this.#options.logger.warn(
            {
              worker: slot.index,
              replyMs: slot.replyMs,
              usualReplyMs: verdict.baselineReplyMs,
              cpuPercent: slot.cpuPercent,
              reason: verdict.reason,
            },
            verdict.reason === 'cpu'
              ? 'media worker is saturated: its core is nearly full'
              : 'media worker is saturated: requests queue at it',
          );
        } else if (!verdict.saturated && slot.saturated) {
          this.#options.logger.info(
            { worker: slot.index, replyMs: slot.replyMs, cpuPercent: slot.cpuPercent },
            'media worker has headroom again',
          );
        }
        slot.saturated = verdict.saturated;
        this.#replies.set(slot.worker.pid, [...recent, slot.replyMs].slice(-baselineProbes));
      } catch {
        // a worker that is being replaced
      }
    }
  }

  /**
   * Counts a participant or a stream on a worker, or throws WorkerBusyError
   * (a `busy` reply to whoever asked) when no worker that could take it has
   * room. Synchronous, so requests that arrive together cannot all pass the
   * limit before the first stream exists. Every placement must be released
   * exactly once; releasing again does nothing.
   */
  place(request: PlaceRequest): Placement {
    const max = this.#options.maxStreamsPerWorker;
    let held: Held;
    if (request.unit === 'peer') {
      const slot = chooseWorker(this.#slots, request.streams, max);
      if (!slot) throw new WorkerBusyError('every media worker carries as many streams as it can: try again later');
      slot.peers++;
      held = { unit: 'peer', slot };
    } else {
      const slot = this.#slots[request.slotIndex];
      if (!slot) throw new DiemcauError('media-error', 'the media server is restarting');
      if (!hasRoom(slot, 1, max)) throw new WorkerBusyError('this media worker carries as many streams as it can: try again later');
      slot.streams++;
      held = { unit: 'stream', slot };
    }
    this.#placed.add(held);
    return held;
  }

  /** Whether the worker in slot `slotIndex` can take another stream now. */
  hasRoom(slotIndex: number): boolean {
    const slot = this.#slots[slotIndex];
    return !!slot && hasRoom(slot, 1, this.#options.maxStreamsPerWorker);
  }

  /** Gives a placement back; tells the sessions when a full worker has room again. */
  release(placement: Placement): void {
    const held = placement as Held;
    if (!this.#placed.delete(held)) return;
    if (held.unit === 'peer') {
      held.slot.peers--;
      return;
    }
    const wasFull = !hasRoom(held.slot, 1, this.#options.maxStreamsPerWorker);
    held.slot.streams--;
    if (wasFull && this.#slots[held.slot.index] === held.slot) this.emit('capacity', held.slot.index);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#health);
    for (const slot of this.#slots) slot.worker.close();
    this.#slots.length = 0;
    this.#placed.clear();
  }

  async #createSlot(index: number): Promise<WorkerSlot> {
    const { logger } = this.#options;
    const worker = await mediasoup.createWorker({
      logLevel: 'warn',
      rtcMinPort: this.#options.rtcMinPort,
      rtcMaxPort: this.#options.rtcMaxPort,
      appData: { index },
    });
    // Port 0 means "any free port" (tests run several servers side by side).
    const port = this.#options.rtcBasePort === 0 ? undefined : this.#options.rtcBasePort + index;
    const listen = { ip: this.#options.rtcListenIp, announcedAddress: this.#options.announcedAddress, port };
    const webRtcServer = await worker.createWebRtcServer({
      // Every browser of this worker shares these sockets: give them room for bursts
      // (the kernel caps the size at net.core.rmem_max / wmem_max).
      listenInfos: [
        { ...listen, protocol: 'udp', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 },
        { ...listen, protocol: 'tcp' },
      ],
    });
    const slot: WorkerSlot = { index, worker, webRtcServer, peers: 0, streams: 0, replyMs: 0, cpuPercent: 0, saturated: false };
    worker.on('died', (error) => {
      if (this.#closed) return;
      logger.error({ worker: index, pid: worker.pid, err: error }, 'media worker died; starting a new one');
      this.#cpu.delete(worker.pid);
      this.#replies.delete(worker.pid);
      void this.#replace(index, error);
    });
    return slot;
  }

  async #replace(index: number, error: Error): Promise<void> {
    // The port of the dead worker's WebRtcServer is free again once it exits.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#adopt(this.#slots[index], await this.#createSlot(index));
        break;
      } catch (err) {
        if (this.#closed || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.emit('workerReplaced', index, error);
  }

  /**
   * Puts a fresh worker in a dead one's slot. The participants placed there
   * stay (they rejoin over their sockets) and are counted on the new worker;
   * the streams died with the old one and are no longer counted, whether or
   * not their close has been seen yet.
   */
  #adopt(dead: WorkerSlot, fresh: WorkerSlot): void {
    for (const held of this.#placed) {
      if (held.slot !== dead) continue;
      if (held.unit === 'stream') {
        this.#placed.delete(held);
        continue;
      }
      held.slot = fresh;
      fresh.peers++;
    }
    this.#slots[fresh.index] = fresh;
  }
}
