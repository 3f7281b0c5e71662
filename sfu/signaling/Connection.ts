import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  can,
  closeCodes,
  isRequestMethod,
  requestEnvelopeSchema,
  requestSchemas,
  type AuditEntry,
  type ReplyMessage,
  type TokenClaims,
} from '../../protocol/index.js';
import { DiemcauError, errorBodyOf, RateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ReadinessService } from '../readiness/ReadinessService.js';
import type { ReadinessSocket } from '../readiness/ReadinessSocket.js';
import type { Peer } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import { closeSocket } from './closeSocket.js';
import { handlers, requiredAction, type HandlerContext } from './handlers.js';
import { maxRequestDepth, nestsDeeperThan } from './jsonDepth.js';
import type { SignalingLimits } from './limits.js';
import { RateLimiter } from './RateLimiter.js';

/**
 * Pings that may wait for their pong at once. A client that lets this many
 * go unanswered while we keep sending is not reading; more would tell us
 * nothing new.
 */
const maxProbes = 4;

const closeCodeFor: Record<string, number> = {
  replaced: closeCodes.replaced,
  removed: closeCodes.removed,
  ended: closeCodes.sessionEnded,
};

/** What a connection needs from the server beyond its socket, token and session. */
export interface ConnectionOptions {
  limits: SignalingLimits;
  /** Checks the socket's token again: a point revoked or disabled since the socket opened may not join. */
  verifyToken(): Promise<void>;
  /** Throws a BusyError when this node already carries as many peers as it may. */
  admitPeer(room: Room, identity: string): void;
  /** Writes an entry to the audit log; never throws. */
  audit(entry: Omit<AuditEntry, 'at'>): void;
  /** The points' readiness checks; none: the server runs none. */
  readiness?: ReadinessService;
}

/**
 * One browser's WebSocket: checks each message against the protocol and the
 * sender's role, runs it, and answers with data or a typed error. A bad
 * message never closes the socket or touches anyone else's session; a
 * connection that floods, or does not read what it is sent, is closed
 * (4429) before it costs the server its memory.
 *
 * What a client has read is known from its pongs: every ping carries a nonce
 * nobody can guess, and a pong that echoes it proves the client read
 * everything sent before that ping. `bufferedAmount` alone cannot tell: the
 * kernel's socket buffers (several MB on a fast link) take replies long
 * before anything waits in this process. A pong the client makes up (RFC
 * 6455 allows unsolicited ones) answers nothing: it keeps neither the
 * heartbeat nor this count content.
 */
export class Connection {
  #peer: Peer | undefined;
  #alive = true;
  readonly #log: Logger;
  readonly #detachPeer = new Set<() => void>();
  readonly #limiter: RateLimiter;
  /** Bytes of replies and notifications that may be sent and not yet read before the connection is closed. */
  readonly #maxUnreadBytes: number;
  /** Bytes of replies and notifications handed to the socket so far. */
  #sentBytes = 0;
  /** Of those, the bytes the client has provably read (sent before the last ping it answered). */
  #readBytes = 0;
  /** Pings not yet answered, oldest first: the nonce each carries and `#sentBytes` when it was sent. */
  readonly #probes: { nonce: Buffer; sentBytes: number }[] = [];
  /** Requests being handled: a flood is closed once they are answered. */
  #inFlight = 0;
  #flooded = false;
  /** This socket's readiness checks (a point's page checks without joining). */
  readonly #readiness: { socket: ReadinessSocket; service: ReadinessService } | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly claims: TokenClaims,
    private readonly room: Room,
    logger: Logger,
    private readonly options: ConnectionOptions,
  ) {
    this.#log = logger.child({ session: room.id, identity: claims.sub, role: claims.role });
    this.#limiter = new RateLimiter(options.limits.maxRequestsPerSecond);
    this.#maxUnreadBytes = options.limits.maxSendBufferKb * 1024;
    ws.on('message', (raw, isBinary) => this.#receive(raw as Buffer, isBinary));
    // Pings and pongs count against the rate like requests (ws answers pings itself, and
    // cuts a client that leaves 60 of its pongs unsent: a ping flood costs no memory).
    ws.on('ping', () => this.#take());
    ws.on('pong', (data) => {
      this.#answered(data);
      this.#take();
    });
    const readiness = options.readiness;
    this.#readiness = readiness && { service: readiness, socket: readiness.open(claims, room, (message) => this.#send(message)) };
    ws.on('close', () => {
      this.#leave();
      // A check still running holds two transports on the worker: they go with the page.
      this.#readiness?.socket.close();
    });
  }

  /**
   * The session ended (its Room closed): the page is told so. Called by the
   * signaling server, which follows each Room once for all of its sockets.
   */
  sessionEnded(): void {
    closeSocket(this.ws, closeCodes.sessionEnded, 'session ended');
  }

  /** Called by the server's heartbeat: false when the browser stopped answering. */
  heartbeat(): boolean {
    if (!this.#alive) {
      this.ws.terminate();
      return false;
    }
    this.#alive = false;
    this.#ping();
    return true;
  }

  /** A ping whose pong will prove the client read everything sent so far. */
  #ping(): void {
    const nonce = randomBytes(8);
    this.#probes.push({ nonce, sentBytes: this.#sentBytes });
    this.ws.ping(nonce);
  }

  /** A pong: if it echoes one of our pings, the client read everything sent before that ping, and is alive. */
  #answered(data: Buffer): void {
    // A pong with any other payload (unsolicited, or made up) proves nothing.
    const index = this.#probes.findIndex((probe) => probe.nonce.equals(data));
    if (index < 0) return;
    this.#readBytes = this.#probes[index].sentBytes;
    // Browsers may answer only the latest of several pings: the earlier ones are answered with it.
    this.#probes.splice(0, index + 1);
    this.#alive = true;
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** Drops the socket as a broken network would (used when a session must be rejoined). */
  terminate(): void {
    this.ws.terminate();
  }

  /**
   * The token of this socket no longer admits it (its point was revoked,
   * disabled or deleted). A joined point is removed from the session, as the
   * operator would (4403); a socket that has not joined is closed with 4401
   * and the reason.
   */
  revoke(reason: string): void {
    const peer = this.#peer;
    if (peer && !peer.closed && this.room.peer(peer.identity) === peer) {
      this.room.remove(peer.identity, 'system');
      return;
    }
    closeSocket(this.ws, closeCodes.unauthorized, reason);
  }

  /** Its peer leaves the session, as a dropped socket's does. */
  #leave(): void {
    if (this.#peer) this.room.leave(this.#peer, 'disconnected');
    this.#setPeer(undefined);
  }

  #setPeer(peer: Peer | undefined): void {
    for (const detach of this.#detachPeer) detach();
    this.#detachPeer.clear();
    this.#peer = peer;
    if (!peer) return;
    const onNotification = (message: unknown) => this.#send(message);
    const onClose = (reason: string) => {
      if (this.#peer !== peer) return;
      const code = closeCodeFor[reason];
      if (code) closeSocket(this.ws, code, reason);
    };
    peer.on('notification', onNotification);
    peer.on('close', onClose);
    this.#detachPeer.add(() => peer.off('notification', onNotification));
    this.#detachPeer.add(() => peer.off('close', onClose));
  }

  /**
   * Counts one frame from the client against its rate. Undefined: drop it
   * (the socket is closing, or this frame made it a flood).
   */
  #take(): 'admitted' | 'limited' | undefined {
    // Frames still arriving once we started closing (the rest of a flood) are not read.
    if (this.ws.readyState !== this.ws.OPEN || this.#flooded) return undefined;
    const decision = this.#limiter.take();
    if (decision !== 'flooding') return decision;
    this.#log.warn('closing a connection that keeps sending faster than allowed');
    this.#flooded = true;
    // Not another frame of the flood is read: parsing it is what the flood costs us.
    this.ws.pause();
    this.#closeFloodWhenAnswered();
    return undefined;
  }

  #receive(raw: Buffer, isBinary: boolean): void {
    const decision = this.#take();
    if (!decision) return;
    this.#inFlight++;
    void this.#onMessage(isBinary ? null : raw.toString('utf8'), decision === 'limited').finally(() => {
      this.#inFlight--;
      if (this.#flooded) this.#closeFloodWhenAnswered();
    });
  }

  /** Requests admitted before the flood still get their replies; then the socket goes. */
  #closeFloodWhenAnswered(): void {
    if (this.#inFlight === 0) closeSocket(this.ws, closeCodes.flooding, 'too many requests');
  }

  async #onMessage(text: string | null, rateLimited: boolean): Promise<void> {
    let id = -1;
    try {
      if (text === null) throw new DiemcauError('bad-request', 'messages are JSON text');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new DiemcauError('bad-request', 'the message is not valid JSON');
      }
      // Answer with the request's id whenever it has a valid one, even if the rest is wrong.
      id = requestIdOf(json);
      if (rateLimited) throw new RateLimitedError('too many requests: slow down');
      if (nestsDeeperThan(json, maxRequestDepth)) throw new DiemcauError('bad-request', 'the message is nested too deeply');
      const envelope = requestEnvelopeSchema.safeParse(json);
      if (!envelope.success) throw new DiemcauError('bad-request', describe(envelope.error));
      const { method } = envelope.data;
      if (!isRequestMethod(method)) throw new DiemcauError('unknown-method', `unknown method '${method}'`);
      if (!can(this.claims.role, requiredAction[method])) {
        throw new DiemcauError('forbidden', `a ${this.claims.role} may not '${method}'`);
      }
      const parsed = requestSchemas[method].safeParse(envelope.data.data ?? {});
      if (!parsed.success) throw new DiemcauError('bad-request', `${method}: ${describe(parsed.error)}`);
      const handler = handlers[method] as (ctx: HandlerContext, data: unknown) => unknown;
      const data = await handler(this.#context(), parsed.data);
      this.#send({ id, ok: true, data } satisfies ReplyMessage);
    } catch (error) {
      const body = errorBodyOf(error);
      if (body.code === 'internal') this.#log.error({ err: error }, 'request failed');
      else this.#log.debug({ error: body }, 'request refused');
      this.#send({ id, ok: false, error: body } satisfies ReplyMessage);
      // A token that no longer admits this socket (checked again on join): the reply says why, then the socket goes.
      if (body.code === 'unauthorized') closeSocket(this.ws, closeCodes.unauthorized, body.message);
    }
  }

  #context(): HandlerContext {
    const currentPeer = () => this.#peer;
    return {
      claims: this.claims,
      room: this.room,
      // Read when used: a request that awaited may find another peer attached by then.
      get peer() {
        return currentPeer();
      },
      limits: { maxTransports: this.options.limits.maxTransportsPerPeer, maxProducers: this.options.limits.maxProducersPerPeer },
      attach: (peer) => this.#setPeer(peer),
      verifyToken: () => this.options.verifyToken(),
      admitPeer: (identity) => this.options.admitPeer(this.room, identity),
      audit: (entry) => this.options.audit({ ...entry, actor: this.claims.sub, sessionId: this.room.id }),
      readiness: this.#readiness,
    };
  }

  /**
   * Sends unless what was sent before is still unread past the limit: a
   * client that does not read would have it pile up — in the kernel, then
   * here — without end, so it is closed instead. What is about to be sent
   * does not count yet: one large message (a big session's snapshot) never
   * closes a client by itself. A client that reads answers the pings sent
   * along the way (one every quarter of the limit), which moves what it has
   * read forward.
   */
  #send(message: unknown): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const unread = this.#sentBytes - this.#readBytes;
    if (unread > this.#maxUnreadBytes) {
      this.#log.warn(
        { unreadBytes: unread, bufferedBytes: this.ws.bufferedAmount },
        'closing a connection that does not read what it is sent',
      );
      closeSocket(this.ws, closeCodes.flooding, 'replies are not being read', { stopReading: true });
      // Out of the session now, not once the close is answered or cut (up to 5 s): nothing more is made or sent
      // for it. After the current notification has reached everyone else (this may run inside the Room's loop).
      queueMicrotask(() => this.#leave());
      return;
    }
    const text = JSON.stringify(message);
    this.ws.send(text);
    this.#sentBytes += Buffer.byteLength(text);
    const probedAt = this.#probes.at(-1)?.sentBytes ?? this.#readBytes;
    if (this.#sentBytes - probedAt >= this.#maxUnreadBytes / 4 && this.#probes.length < maxProbes) this.#ping();
  }
}

const requestIdSchema = requestEnvelopeSchema.shape.id;

/** The request's id when it has a valid one, else -1. */
function requestIdOf(json: unknown): number {
  if (typeof json !== 'object' || json === null || !Object.hasOwn(json, 'id')) return -1;
  const id = requestIdSchema.safeParse((json as { id: unknown }).id);
  return id.success ? id.data : -1;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ')
    .slice(0, 500);
}
