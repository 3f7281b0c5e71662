import type { WebSocket } from 'ws';
import { z } from 'zod';
import {
  can,
  closeCodes,
  isRequestMethod,
  requestEnvelopeSchema,
  requestSchemas,
  type ErrorBody,
  type ReplyMessage,
  type TokenClaims,
} from '../../protocol/index.js';
import { DiemcauError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import { handlers, requiredAction, type HandlerContext } from './handlers.js';

const closeCodeFor: Record<string, number> = {
  replaced: closeCodes.replaced,
  removed: closeCodes.removed,
  ended: closeCodes.sessionEnded,
};

/**
 * One browser's WebSocket: checks each message against the protocol and the
 * sender's role, runs it, and answers with data or a typed error. A bad
 * message never closes the socket or touches anyone else's session.
 */
export class Connection {
  #peer: Peer | undefined;
  #alive = true;
  readonly #log: Logger;
  readonly #detachPeer = new Set<() => void>();

  constructor(
    private readonly ws: WebSocket,
    private readonly claims: TokenClaims,
    private readonly room: Room,
    logger: Logger,
  ) {
    this.#log = logger.child({ session: room.id, identity: claims.sub, role: claims.role });
    ws.on('message', (raw, isBinary) => void this.#onMessage(isBinary ? null : (raw as Buffer).toString('utf8')));
    ws.on('pong', () => (this.#alive = true));
    ws.on('close', () => {
      if (this.#peer) room.leave(this.#peer, 'disconnected');
      this.#setPeer(undefined);
    });
    const onRoomClose = () => ws.close(closeCodes.sessionEnded, 'session ended');
    room.once('close', onRoomClose);
    ws.once('close', () => room.off('close', onRoomClose));
  }

  /** Called by the server's heartbeat: false when the browser stopped answering. */
  heartbeat(): boolean {
    if (!this.#alive) {
      this.ws.terminate();
      return false;
    }
    this.#alive = false;
    this.ws.ping();
    return true;
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** Drops the socket as a broken network would (used when a session must be rejoined). */
  terminate(): void {
    this.ws.terminate();
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
      if (code) this.ws.close(code, reason);
    };
    peer.on('notification', onNotification);
    peer.on('close', onClose);
    this.#detachPeer.add(() => peer.off('notification', onNotification));
    this.#detachPeer.add(() => peer.off('close', onClose));
  }

  async #onMessage(text: string | null): Promise<void> {
    let id = -1;
    try {
      if (text === null) throw new DiemcauError('bad-request', 'messages are JSON text');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new DiemcauError('bad-request', 'the message is not valid JSON');
      }
      const envelope = requestEnvelopeSchema.safeParse(json);
      if (!envelope.success) throw new DiemcauError('bad-request', describe(envelope.error));
      id = envelope.data.id;
      const { method } = envelope.data;
      if (!isRequestMethod(method)) throw new DiemcauError('unknown-method', `unknown method '${method}'`);
      if (!can(this.claims.role, requiredAction[method])) {
        throw new DiemcauError('forbidden', `a ${this.claims.role} may not '${method}'`);
      }
      const parsed = requestSchemas[method].safeParse(envelope.data.data ?? {});
      if (!parsed.success) throw new DiemcauError('bad-request', `${method}: ${describe(parsed.error)}`);
      const ctx: HandlerContext = {
        claims: this.claims,
        room: this.room,
        peer: this.#peer,
        attach: (peer) => this.#setPeer(peer),
      };
      const handler = handlers[method] as (ctx: HandlerContext, data: unknown) => unknown;
      const data = await handler(ctx, parsed.data);
      this.#send({ id, ok: true, data } satisfies ReplyMessage);
    } catch (error) {
      const body = toErrorBody(error);
      if (body.code === 'internal') this.#log.error({ err: error }, 'request failed');
      else this.#log.debug({ error: body }, 'request refused');
      this.#send({ id, ok: false, error: body } satisfies ReplyMessage);
    }
  }

  #send(message: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof DiemcauError) return { code: error.code, message: error.message };
  // mediasoup rejects bad parameters with TypeError/UnsupportedError/InvalidStateError.
  const name = (error as Error | undefined)?.name;
  if (name === 'TypeError' || name === 'UnsupportedError' || name === 'InvalidStateError' || name === 'Error') {
    return { code: 'media-error', message: (error as Error).message };
  }
  return { code: 'internal', message: 'internal error' };
}
