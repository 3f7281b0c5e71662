import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { closeCodes, type AuditEntry } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { BusyError, DiemcauError, MovedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReadinessService } from '../readiness/ReadinessService.js';
import type { Room } from '../room/Room.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { Store, Unsubscribe } from '../store/Store.js';
import { closeSocket } from './closeSocket.js';
import { Connection } from './Connection.js';
import type { SignalingLimits } from './limits.js';

export const signalingPath = '/ws';

/** Where the point registry announces each changed point (`{ id }`): revoked, disabled, deleted. */
const pointChangesChannel = 'points';

/**
 * What a browser may send before its token is checked (it sends its first
 * requests at once); more is held nowhere and the socket is closed.
 */
const maxEarlyFrames = 32;
const maxEarlyBytes = 512 * 1024;

export interface SignalingOptions {
  limits: SignalingLimits;
  /** The store the point registry announces changes on: a revoked point's sockets are let go at once. */
  store?: Pick<Store, 'subscribe'>;
  /** Writes what an operator did over signaling to the audit log (never throws); none: not logged. */
  audit?: (entry: Omit<AuditEntry, 'at'>) => void;
  /** The points' readiness checks over their sockets; none: refused as unavailable. */
  readiness?: ReadinessService;
}

/**
 * Accepts WebSockets at /ws?token=…: the token decides the session and the
 * role; a bad token gets the socket closed with 4401 and a reason the page
 * can show. Whatever a client sends — a frame `ws` rejects, a reset socket —
 * costs that client its connection and nothing else.
 */
export class SignalingServer {
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  /**
   * The connections of each Room and the one 'close' listener that ends them
   * all: a listener per socket would grow with the audience of a session.
   */
  readonly #rooms = new Map<Room, { connections: Set<Connection>; onClose: () => void }>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #limits: SignalingLimits;
  readonly #unsubscribe: Promise<Unsubscribe | undefined>;
  readonly #audit: (entry: Omit<AuditEntry, 'at'>) => void;
  readonly #readiness: ReadinessService | undefined;

  constructor(
    http: HttpServer,
    private readonly tokens: TokenService,
    private readonly sessions: SessionRegistry,
    private readonly logger: Logger,
    options: SignalingOptions,
  ) {
    this.#limits = options.limits;
    this.#audit = options.audit ?? (() => undefined);
    this.#readiness = options.readiness;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
    this.#wss.on('error', (error) => this.logger.warn({ err: error }, 'websocket server error'));
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node's HTTP server stops watching a socket once it is upgraded: an error on it (a reset) is ours to catch.
      socket.on('error', (error) => this.logger.debug({ err: error }, 'signaling socket error'));
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== signalingPath) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        // A frame ws rejects (too long, unmasked, bad UTF-8, reserved bits or opcodes, a bad close…)
        // is reported here; ws has already closed that socket with the matching code.
        ws.on('error', (error) => this.logger.debug({ err: error }, 'websocket protocol error'));
        void this.#accept(ws, url.searchParams.get('token'));
      });
    });
    this.#heartbeat = setInterval(() => {
      for (const c of this.#connections) {
        if (c.heartbeat()) void this.#recheck(c);
      }
    }, 10_000);
    this.#unsubscribe = this.#followPointChanges(options.store);
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  async #accept(ws: WebSocket, token: string | null): Promise<void> {
    // The browser may send before the token is checked: hold those frames, a few only.
    const early: [RawData, boolean][] = [];
    let earlyBytes = 0;
    const hold = (data: RawData, isBinary: boolean) => {
      earlyBytes += (data as Buffer).length;
      if (early.length >= maxEarlyFrames || earlyBytes > maxEarlyBytes) {
        closeSocket(ws, closeCodes.flooding, 'too many messages before the token was checked');
        return;
      }
      early.push([data, isBinary]);
    };
    ws.on('message', hold);
    try {
      const claims = await this.tokens.verify(token);
      const room = await this.sessions.room(claims.sid);
      ws.off('message', hold);
      if (ws.readyState !== ws.OPEN) return;
      const connection = new Connection(ws, claims, room, this.logger, {
        limits: this.#limits,
        verifyToken: async () => void (await this.tokens.verify(token)),
        admitPeer: (r, identity) => this.#admitPeer(r, identity),
        audit: this.#audit,
        readiness: this.#readiness,
      });
      this.#connections.add(connection);
      this.#follow(room, connection);
      ws.once('close', () => {
        this.#connections.delete(connection);
        this.#unfollow(room, connection);
      });
      for (const [data, isBinary] of early) ws.emit('message', data, isBinary);
    } catch (error) {
      ws.off('message', hold);
      if (error instanceof MovedError) {
        // Another node runs this session: the browser reconnects there.
        closeSocket(ws, closeCodes.moved, error.url);
        return;
      }
      // A store or node out of reach is not a bad link: the browser is told to try again (4503), and does.
      const code =
        error instanceof DiemcauError && error.code === 'conflict'
          ? closeCodes.sessionEnded
          : error instanceof DiemcauError && error.code === 'unavailable'
            ? closeCodes.busy
            : closeCodes.unauthorized;
      const reason = error instanceof DiemcauError ? error.message : 'cannot join';
      closeSocket(ws, code, reason);
    }
  }

  /** Ends the connection with the session; the Room is followed from its first connection here to its last. */
  #follow(room: Room, connection: Connection): void {
    // Closed while the token was checked: no 'close' is coming any more.
    if (room.closed) {
      connection.sessionEnded();
      return;
    }
    let followed = this.#rooms.get(room);
    if (!followed) {
      const connections = new Set<Connection>();
      const onClose = () => {
        this.#rooms.delete(room);
        for (const c of connections) c.sessionEnded();
      };
      followed = { connections, onClose };
      this.#rooms.set(room, followed);
      room.once('close', onClose);
    }
    followed.connections.add(connection);
  }

  #unfollow(room: Room, connection: Connection): void {
    const followed = this.#rooms.get(room);
    if (!followed?.connections.delete(connection) || followed.connections.size > 0) return;
    this.#rooms.delete(room);
    room.off('close', followed.onClose);
  }

  /** Peers joined over signaling on this node; a join over the limit is refused as busy. */
  #admitPeer(room: Room, identity: string): void {
    // The same identity joining again replaces its peer: the count does not grow.
    if (room.peer(identity)) return;
    let joined = 0;
    for (const c of this.#connections) if (c.peer && !c.peer.closed) joined++;
    if (joined >= this.#limits.maxPeersPerNode) {
      throw new BusyError('this server carries as many participants as it can: try again later');
    }
  }

  /** Lets a connection go when its token's claims no longer admit it (revoked, disabled, signed out). */
  async #recheck(connection: Connection): Promise<void> {
    try {
      await this.tokens.recheck(connection.claims);
    } catch (error) {
      // A store that cannot answer now is not a revocation: the next heartbeat asks again.
      if (!(error instanceof DiemcauError && error.code === 'unauthorized')) {
        this.logger.warn({ err: error, identity: connection.claims.sub }, 'could not check a connection’s token again');
        return;
      }
      this.logger.info({ identity: connection.claims.sub, reason: error.message }, 'closing a connection whose token no longer admits it');
      connection.revoke(error.message);
    }
  }

  async #followPointChanges(store: SignalingOptions['store']): Promise<Unsubscribe | undefined> {
    if (!store) return undefined;
    try {
      return await store.subscribe(pointChangesChannel, (message) => {
        const id = (message as { id?: unknown } | null)?.id;
        for (const c of this.#connections) if (c.claims.role === 'point' && c.claims.sub === id) void this.#recheck(c);
      });
    } catch (error) {
      this.logger.error({ err: error }, 'cannot follow point changes: revoked points keep their open sockets until the next heartbeat');
      return undefined;
    }
  }

  close(): void {
    clearInterval(this.#heartbeat);
    void this.#unsubscribe.then((unsubscribe) => unsubscribe?.()).catch(() => {});
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
  }
}
