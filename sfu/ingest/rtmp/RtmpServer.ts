import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import pino from 'pino';
import type { Logger } from '../../logger.js';
import { WarningThrottle } from '../../logging/WarningThrottle.js';
import { RtmpListenError } from './errors.js';
import { RtmpConnection } from './RtmpConnection.js';
import {
  defaultRtmpLimits,
  type RtmpAuthorization,
  type RtmpLimits,
  type RtmpPublisher,
  type RtmpPublishRequest,
  type RtmpTls,
} from './types.js';

export type { RtmpAuthorization, RtmpLimits, RtmpPublisher, RtmpPublishRequest, RtmpTls } from './types.js';
export { defaultRtmpLimits } from './types.js';
export { RtmpListenError, RtmpProtocolError } from './errors.js';

export interface RtmpServerOptions {
  host: string;
  /** 0: any free port (see `port` once listening). */
  port: number;
  /** Decides a publish: the app and stream key an encoder gave. Rejecting counts as a refusal. */
  authorize(request: RtmpPublishRequest): Promise<RtmpAuthorization>;
  logger?: Logger;
  limits?: Partial<RtmpLimits>;
  /** RTMPS: every connection is TLS with this certificate (an unusable one fails `listen`). */
  tls?: RtmpTls;
}

export interface RtmpServerEvents {
  /** An encoder's publish was authorized: read its `flv`, or it is closed once its buffer stays full. */
  publish: [publisher: RtmpPublisher];
  /** A publish (or a play) was refused, with why: for the audit log. */
  refused: [refusal: RtmpPublishRequest & { reason: string }];
}

/**
 * Where encoders (OBS, vMix, hardware H.264 encoders) push over RTMP: each
 * authorized publish becomes an RtmpPublisher whose FLV stream the ingest
 * turns into a session's studio (EncoderFeed). RTMP itself is parsed by
 * node-media-server's protocol module; each connection (RtmpConnection)
 * bounds what a client may cost, and the server bounds how many there are.
 *
 * With a certificate (RTMPS) each accepted TCP connection is wrapped in TLS
 * at once, so that a client still in its handshake already counts against
 * the connection limit and its time to publish; the handshake itself has a
 * shorter bound of its own (its bytes are bounded by OpenSSL: a ClientHello
 * of at most 128 KiB, a few warnings or empty records).
 */
export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly #server: net.Server;
  readonly #limits: RtmpLimits;
  readonly #log: Logger;
  /** Refused connections come in floods: one warning per address and minute. */
  readonly #refusals: WarningThrottle;
  readonly #options: RtmpServerOptions;
  readonly #connections = new Set<RtmpConnection>();
  /** Connections open from each remote address. */
  readonly #perAddress = new Map<string, number>();
  /** RTMPS: what new connections are served with (replaced when the certificate is renewed). */
  #secureContext: tls.SecureContext | null;
  #port = 0;
  #closed = false;

  private constructor(options: RtmpServerOptions) {
    super();
    this.#options = options;
    this.#limits = { ...defaultRtmpLimits, ...options.limits };
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: options.tls ? 'rtmps' : 'rtmp' });
    this.#refusals = new WarningThrottle(this.#log);
    this.#secureContext = options.tls ? secureContextOf(options.tls) : null;
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  static async listen(options: RtmpServerOptions): Promise<RtmpServer> {
    const server = new RtmpServer(options);
    await server.#listen();
    return server;
  }

  get port(): number {
    return this.#port;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Whether this is RTMPS. */
  get secure(): boolean {
    return this.#secureContext !== null;
  }

  /**
   * A renewed certificate: new connections are served with it, open ones
   * keep theirs. A certificate that cannot be used throws RtmpListenError and
   * the current one stays.
   */
  setCertificate(certificate: RtmpTls): void {
    if (!this.#secureContext) throw new RtmpListenError('this server is not RTMPS: it has no certificate to replace');
    this.#secureContext = secureContextOf(certificate);
  }

  /** Stops listening and closes every connection (publishers see their stream end). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) connection.destroy('the server is closing');
    await closed;
  }

  async #listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) =>
        reject(new RtmpListenError(`cannot listen on ${this.#options.host}:${this.#options.port}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#server.on('error', (error) => this.#log.error({ err: error }, 'rtmp server error'));
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address ? address.port : this.#options.port;
    this.#log.info({ host: this.#options.host, port: this.#port, tls: this.secure }, 'rtmp server listening');
  }

  #accept(socket: net.Socket): void {
    if (this.#closed || this.#connections.size >= this.#limits.maxConnections) {
      this.#refusals.warn(
        'full',
        { remoteAddress: socket.remoteAddress, open: this.#connections.size },
        'rtmp connection refused: too many connections',
      );
      socket.destroy();
      return;
    }
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (fromAddress >= this.#limits.maxConnectionsPerAddress) {
      this.#refusals.warn(
        address,
        { remoteAddress: address, open: fromAddress },
        'rtmp connection refused: too many connections from one address',
      );
      socket.destroy();
      return;
    }
    this.#perAddress.set(address, fromAddress + 1);
    const connection = new RtmpConnection(this.#secureContext ? this.#wrapInTls(socket, this.#secureContext) : socket, {
      limits: this.#limits,
      logger: this.#log,
      authorize: (request) => this.#options.authorize(request),
      onPublish: (publisher) => this.emit('publish', publisher),
      onRefused: (refusal) => {
        this.#log.info({ app: refusal.app, remoteAddress: refusal.remoteAddress, reason: refusal.reason }, 'rtmp publish refused');
        this.emit('refused', refusal);
      },
    });
    this.#connections.add(connection);
    connection.once('close', () => {
      this.#connections.delete(connection);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    });
  }

  /** RTMPS: the TLS side of an accepted connection, cut off if its handshake does not complete in time. */
  #wrapInTls(socket: net.Socket, secureContext: tls.SecureContext): tls.TLSSocket {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
    const timer = setTimeout(() => {
      this.#log.debug({ remoteAddress: socket.remoteAddress }, 'rtmps connection closed: no TLS handshake in time');
      secure.destroy();
    }, this.#limits.tlsHandshakeTimeoutMs);
    const done = () => clearTimeout(timer);
    secure.once('secure', done);
    secure.once('close', done);
    return secure;
  }
}

/** The certificate and key as TLS serves them; RtmpListenError when they cannot be (not PEM, a key of another certificate). */
function secureContextOf(certificate: RtmpTls): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: certificate.cert, key: certificate.key });
  } catch (error) {
    throw new RtmpListenError('the certificate or its key cannot be used for RTMPS', { cause: error });
  }
}
