import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { closeCodes } from '../../protocol/index.js';
import type { TokenService } from '../auth/TokenService.js';
import { DiemcauError, MovedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import { Connection } from './Connection.js';

export const signalingPath = '/ws';

/**
 * Accepts WebSockets at /ws?token=…: the token decides the session and the
 * role; a bad token gets the socket closed with 4401 and a reason the page
 * can show.
 */
export class SignalingServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  readonly #connections = new Set<Connection>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(
    http: HttpServer,
    private readonly tokens: TokenService,
    private readonly sessions: SessionRegistry,
    private readonly logger: Logger,
  ) {
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== signalingPath) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => void this.#accept(ws, url.searchParams.get('token')));
    });
    this.#heartbeat = setInterval(() => {
      for (const c of this.#connections) c.heartbeat();
    }, 10_000);
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  async #accept(ws: WebSocket, token: string | null): Promise<void> {
    // The browser may send before the token is checked: hold those frames.
    const early: [RawData, boolean][] = [];
    const hold = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on('message', hold);
    try {
      const claims = await this.tokens.verify(token);
      const room = await this.sessions.room(claims.sid);
      const connection = new Connection(ws, claims, room, this.logger);
      this.#connections.add(connection);
      ws.once('close', () => this.#connections.delete(connection));
      ws.off('message', hold);
      for (const [data, isBinary] of early) ws.emit('message', data, isBinary);
    } catch (error) {
      ws.off('message', hold);
      if (error instanceof MovedError) {
        // Another node runs this session: the browser reconnects there.
        ws.close(closeCodes.moved, error.url.slice(0, 120));
        return;
      }
      const code = error instanceof DiemcauError && error.code === 'conflict' ? closeCodes.sessionEnded : closeCodes.unauthorized;
      const reason = error instanceof DiemcauError ? error.message : 'cannot join';
      ws.close(code, reason.slice(0, 120));
    }
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
  }
}
