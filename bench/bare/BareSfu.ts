/**
 * The bare baseline the benches compare Diemcau with: one mediasoup worker,
 * one router, and two tiny pages that use mediasoup-client the way a minimal
 * app would — a publisher that sends camera and mic, and a receiver that, on
 * a click, joins and plays the publisher's picture. No sessions, no roles, no
 * reconcile, no recovery: what is left is mediasoup and the browser.
 *
 * To be fair the media settings are the product's: the same router codecs
 * (sfu/media/codecs.ts), a WebRtcServer per worker with the same socket
 * buffers, UDP and TCP on 127.0.0.1, the same initial outgoing bitrate and
 * incoming cap (sfu/media/WorkerPool.ts, sfu/room/RoomMedia.ts, config/schema.ts).
 *
 * Signaling is a WebSocket with one JSON request / response per step:
 *   { id, method, data } → { id, ok: true, data } | { id, ok: false, error }
 * methods: caps, createTransport, connect, produce, consume, resume.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { WebSocketServer, type WebSocket } from 'ws';
import { mediaCodecs } from '../../sfu/media/codecs.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** What the product's WebRTC transports are given (RoomMedia.createWebRtcTransport, config maxIncomingBitrate). */
const initialAvailableOutgoingBitrate = 600_000;
const maxIncomingBitrate = 2_500_000;
/** How long a receiver's consume waits for the publisher's producer of that kind. */
const producerWaitMs = 15_000;

export interface BareSfuOptions {
  /** Address the HTTP server and the media sockets listen on; loopback by default. */
  listenIp?: string;
}

export interface BareSfu {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The publisher page: sends getUserMedia's camera and mic as soon as it loads. */
  publisherUrl: string;
  /** A receiver page; `index` only tells pages apart in logs. */
  receiverUrl(index: number): string;
  /** The worker's pid, for CPU figures. */
  workerPid: number;
  close(): Promise<void>;
}

/** A request the bare signaling does not understand or cannot serve. */
export class BareSignalingError extends Error {
  override name = 'BareSignalingError';
}

interface Request {
  id: number;
  method: string;
  data: Record<string, unknown>;
}

function parseRequest(text: string): Request {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new BareSignalingError('not an object');
  const { id, method, data } = value as Record<string, unknown>;
  if (typeof id !== 'number' || typeof method !== 'string') throw new BareSignalingError('needs a numeric id and a method');
  return { id, method, data: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {} };
}

const pageHtml = (title: string, script: string, body: string): string =>
  `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>${title}</title>` +
  `<style>body{margin:0;background:#000;color:#fff;font:14px sans-serif}video{width:640px;height:360px;background:#000;display:block}</style>` +
  `</head><body>${body}<script type="module" src="/${script}"></script></body></html>`;

/** Bundles the two page scripts with mediasoup-client into a temporary folder. */
async function bundlePages(): Promise<{ dir: string; files: Map<string, string> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bare-sfu-'));
  await build({
    entryPoints: { publisher: path.join(here, 'page', 'publisher.ts'), receiver: path.join(here, 'page', 'receiver.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    outdir: dir,
    logLevel: 'silent',
    // mediasoup-client's debug logger looks at process.env in some builds.
    define: { 'process.env.NODE_ENV': '"production"', 'process.env.DEBUG': 'undefined' },
  });
  const files = new Map<string, string>([
    ['/publisher', pageHtml('Phát (bare)', 'publisher.js', '<video data-testid="local-video" autoplay muted playsinline></video>')],
    [
      '/receiver',
      pageHtml(
        'Xem (bare)',
        'receiver.js',
        '<button type="button" data-testid="join">Tham gia</button><video data-testid="program-video" autoplay muted playsinline></video>',
      ),
    ],
    ['/publisher.js', fs.readFileSync(path.join(dir, 'publisher.js'), 'utf8')],
    ['/receiver.js', fs.readFileSync(path.join(dir, 'receiver.js'), 'utf8')],
  ]);
  return { dir, files };
}

/** One page's signaling connection: its transports and consumers, closed with it. */
class BareConnection {
  readonly #transports = new Map<string, types.WebRtcTransport>();
  readonly #consumers = new Map<string, types.Consumer>();

  constructor(
    readonly socket: WebSocket,
    readonly sfu: {
      router: types.Router;
      webRtcServer: types.WebRtcServer;
      /** The feed's producer of that kind, once the publisher has sent it. */
      producer(kind: string): Promise<types.Producer>;
      published(producer: types.Producer): void;
    },
  ) {
    socket.on('message', (raw: Buffer) => void this.#onMessage(raw.toString('utf8')));
    socket.on('close', () => this.close());
  }

  async #onMessage(text: string): Promise<void> {
    let id = -1;
    try {
      const request = parseRequest(text);
      id = request.id;
      const data = await this.#handle(request);
      this.socket.send(JSON.stringify({ id, ok: true, data }));
    } catch (error) {
      if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify({ id, ok: false, error: String(error) }));
    }
  }

  #transport(data: Record<string, unknown>): types.WebRtcTransport {
    const transport = this.#transports.get(String(data.transportId));
    if (!transport) throw new BareSignalingError(`no transport ${String(data.transportId)}`);
    return transport;
  }

  async #handle({ method, data }: Request): Promise<unknown> {
    const { router, webRtcServer } = this.sfu;
    switch (method) {
      case 'caps':
        return router.rtpCapabilities;
      case 'createTransport': {
        const transport = await router.createWebRtcTransport({
          webRtcServer,
          enableUdp: true,
          enableTcp: true,
          preferUdp: true,
          initialAvailableOutgoingBitrate,
        });
        if (data.direction === 'send') await transport.setMaxIncomingBitrate(maxIncomingBitrate);
        this.#transports.set(transport.id, transport);
        return {
          id: transport.id,
          iceParameters: transport.iceParameters,
          iceCandidates: transport.iceCandidates,
          dtlsParameters: transport.dtlsParameters,
        };
      }
      case 'connect':
        await this.#transport(data).connect({ dtlsParameters: data.dtlsParameters as types.DtlsParameters });
        return {};
      case 'produce': {
        const producer = await this.#transport(data).produce({
          kind: data.kind as types.MediaKind,
          rtpParameters: data.rtpParameters as types.RtpParameters,
        });
        this.sfu.published(producer);
        return { id: producer.id };
      }
      case 'consume': {
        const producer = await this.sfu.producer(String(data.kind));
        const rtpCapabilities = data.rtpCapabilities as types.RtpCapabilities;
        if (!router.canConsume({ producerId: producer.id, rtpCapabilities })) throw new BareSignalingError('cannot consume');
        // Paused until the page has its consumer, as mediasoup's documentation advises.
        const consumer = await this.#transport(data).consume({ producerId: producer.id, rtpCapabilities, paused: true });
        this.#consumers.set(consumer.id, consumer);
        return { id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
      }
      case 'resume': {
        const consumer = this.#consumers.get(String(data.consumerId));
        if (!consumer) throw new BareSignalingError(`no consumer ${String(data.consumerId)}`);
        await consumer.resume();
        return {};
      }
      default:
        throw new BareSignalingError(`unknown method ${method}`);
    }
  }

  close(): void {
    for (const transport of this.#transports.values()) transport.close();
    this.#transports.clear();
    this.#consumers.clear();
    if (this.socket.readyState === this.socket.OPEN) this.socket.close();
  }
}

/** Starts the bare SFU and its pages; close() stops the worker, the servers and removes the bundle. */
export async function startBareSfu(options: BareSfuOptions = {}): Promise<BareSfu> {
  const listenIp = options.listenIp ?? '127.0.0.1';
  const { dir, files } = await bundlePages();
  const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 40000, rtcMaxPort: 49999 });
  const connections = new Set<BareConnection>();
  let httpServer: http.Server | undefined;
  let wss: WebSocketServer | undefined;
  try {
    const router = await worker.createRouter({ mediaCodecs });
    const webRtcServer = await worker.createWebRtcServer({
      listenInfos: [
        { protocol: 'udp', ip: listenIp, recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 },
        { protocol: 'tcp', ip: listenIp },
      ],
    });
    // The newest producer of each kind is "the feed"; receivers that ask early wait for it.
    const producers = new Map<string, types.Producer>();
    const published = (producer: types.Producer): void => {
      producers.set(producer.kind, producer);
      producer.on('transportclose', () => {
        if (producers.get(producer.kind) === producer) producers.delete(producer.kind);
      });
    };
    const producer = async (kind: string): Promise<types.Producer> => {
      const deadline = Date.now() + producerWaitMs;
      for (;;) {
        const found = producers.get(kind);
        if (found) return found;
        if (Date.now() > deadline) throw new BareSignalingError(`no ${kind} producer`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    httpServer = http.createServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      const body = files.get(pathname);
      if (body === undefined) {
        // Browsers ask for an icon; an empty answer keeps 404s out of the pages' consoles.
        if (pathname === '/favicon.ico') return void res.writeHead(204).end();
        res.writeHead(404).end();
        return;
      }
      const type = req.url?.includes('.js') ? 'text/javascript' : 'text/html';
      res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body);
    });
    wss = new WebSocketServer({ server: httpServer, path: '/ws' });
    wss.on('connection', (socket) => {
      const connection = new BareConnection(socket, { router, webRtcServer, producer, published });
      connections.add(connection);
      socket.on('close', () => connections.delete(connection));
    });
    const server = httpServer;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, listenIp, resolve);
    });
    const port = (server.address() as { port: number }).port;
    const url = `http://${listenIp}:${port}`;
    const sockets = wss;
    return {
      url,
      publisherUrl: `${url}/publisher`,
      receiverUrl: (index: number) => `${url}/receiver?i=${index}`,
      workerPid: worker.pid,
      async close() {
        for (const connection of connections) connection.close();
        sockets.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        worker.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    wss?.close();
    httpServer?.close();
    worker.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
