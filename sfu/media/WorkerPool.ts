import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';

export interface WorkerPoolOptions {
  count: number;
  rtcListenIp: string;
  announcedAddress: string;
  /** Worker i's WebRtcServer listens on basePort + i (UDP and TCP). */
  rtcBasePort: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logger: Logger;
}

/** One slot per core: its worker and the WebRtcServer every transport on it shares. */
export interface WorkerSlot {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  /** Peers currently placed on this worker (each brings its consumers), for spreading receivers. */
  load: number;
  /** How long the worker took to answer the last health probe (ms): high means it is saturated. */
  replyMs: number;
  /** CPU the worker used over the last probe interval, in % of one core. */
  cpuPercent: number;
}

/** A worker slower than this to answer is saturated: every join, switch and stats call waits. */
export const slowReplyMs = 250;

export interface WorkerPoolEvents {
  /** A worker died; the slot already runs a fresh worker. */
  workerReplaced: [index: number, error: Error];
}

/**
 * Runs one mediasoup worker per core and replaces any that dies. Sessions
 * listen for `workerReplaced` and rebuild what they had on it.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #cpu = new Map<number, { cpuMs: number; at: number }>();
  #closed = false;
  #health: NodeJS.Timeout | undefined;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
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
        if (slot.replyMs > slowReplyMs) {
          this.#options.logger.warn(
            { worker: slot.index, replyMs: slot.replyMs, cpuPercent: slot.cpuPercent },
            'media worker is saturated',
          );
        }
      } catch {
        // a worker that is being replaced
      }
    }
  }

  /** The slot with the fewest peers placed on it: where the next one goes. */
  leastLoaded(): WorkerSlot {
    return this.#slots.reduce((best, slot) => (slot.load < best.load ? slot : best));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#health);
    for (const slot of this.#slots) slot.worker.close();
    this.#slots.length = 0;
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
    const slot: WorkerSlot = { index, worker, webRtcServer, load: 0, replyMs: 0, cpuPercent: 0 };
    worker.on('died', (error) => {
      if (this.#closed) return;
      logger.error({ worker: index, pid: worker.pid, err: error }, 'media worker died; starting a new one');
      void this.#replace(index, error);
    });
    return slot;
  }

  async #replace(index: number, error: Error): Promise<void> {
    // The port of the dead worker's WebRtcServer is free again once it exits.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#slots[index] = await this.#createSlot(index);
        break;
      } catch (err) {
        if (this.#closed || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.emit('workerReplaced', index, error);
  }
}
