import type { RequestHandler } from 'express';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerPool } from '../media/WorkerPool.js';

/** What the metrics read: the media workers and the open signaling sockets. */
export interface MetricsSources {
  pool: Pick<WorkerPool, 'slots' | 'maxStreamsPerWorker'>;
  signaling: { connections: { size: number } };
}

/** Prometheus metrics: sessions, peers, and the load on each media worker. */
export function createMetrics(server: MetricsSources): RequestHandler {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'diemcau_' });
  new Gauge({
    name: 'diemcau_worker_peers',
    help: 'Peers placed on each media worker',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of server.pool.slots) this.set({ worker: String(slot.index) }, slot.peers);
    },
  });
  new Gauge({
    name: 'diemcau_worker_streams',
    help: 'Producers and consumers of participants on each media worker (at diemcau_worker_streams_max, new ones get busy)',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of server.pool.slots) this.set({ worker: String(slot.index) }, slot.streams);
    },
  });
  new Gauge({
    name: 'diemcau_worker_streams_max',
    help: 'Streams one media worker may carry (DIEMCAU_MAX_STREAMS_PER_WORKER); alert before the workers reach it',
    registers: [registry],
    collect() {
      this.set(server.pool.maxStreamsPerWorker);
    },
  });
  new Gauge({
    name: 'diemcau_worker_reply_ms',
    help: 'How long each media worker took to answer its last health probe',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of server.pool.slots) this.set({ worker: String(slot.index) }, slot.replyMs);
    },
  });
  new Gauge({
    name: 'diemcau_worker_saturated',
    help: 'Whether each media worker is saturated, by its own CPU or its replies against its usual delay (1) or has headroom (0)',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of server.pool.slots) this.set({ worker: String(slot.index) }, slot.saturated ? 1 : 0);
    },
  });
  new Gauge({
    name: 'diemcau_worker_cpu_percent',
    help: 'CPU each media worker used over the last 5 s, in % of one core',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const slot of server.pool.slots) this.set({ worker: String(slot.index) }, slot.cpuPercent);
    },
  });
  new Gauge({
    name: 'diemcau_signaling_connections',
    help: 'Open signaling WebSockets',
    registers: [registry],
    collect() {
      this.set(server.signaling.connections.size);
    },
  });
  return async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  };
}
