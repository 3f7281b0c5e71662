import type { types } from 'mediasoup';
import {
  can,
  type Action,
  type AuditEntry,
  type ParsedRequestData,
  type RequestMethod,
  type ResponseData,
  type TokenClaims,
} from '../../protocol/index.js';
import { DiemcauError, ForbiddenError, MediaError } from '../errors.js';
import type { Peer, PeerLimits } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import { snapshotFor } from '../room/snapshotFor.js';
import {
  readinessHandlers,
  readinessMediaMethods,
  readinessRequiredAction,
  type ReadinessContext,
} from '../readiness/readinessHandlers.js';
import { isStaffToken } from '../rollcall/participants.js';

/** What a handler sees: who is asking, in which session, as which peer. */
export interface HandlerContext extends ReadinessContext {
  claims: TokenClaims;
  room: Room;
  /** This connection's peer now (it may change while a request awaits). */
  readonly peer: Peer | undefined;
  /** What the peer this connection joins as may hold open. */
  limits: PeerLimits;
  /** Makes this connection the given peer (join) or none (leave). */
  attach(peer: Peer | undefined): void;
  /** Checks the connection's token again; throws UnauthorizedError when it no longer admits it. */
  verifyToken(): Promise<void>;
  /** Throws BusyError when this node carries as many peers as it may (a replaced identity does not count). */
  admitPeer(identity: string): void;
  /**
   * Writes what this connection's bearer did in the session to the audit log,
   * for what no Room event names an actor for (the agenda item). Never throws.
   */
  audit(entry: Pick<AuditEntry, 'action' | 'target' | 'details'>): void;
}

type Handler<M extends RequestMethod> = (ctx: HandlerContext, data: ParsedRequestData<M>) => Promise<ResponseData[M]> | ResponseData[M];

/** The permission each request needs; checked before the handler runs. */
export const requiredAction: Record<RequestMethod, Action> = {
  'router.capabilities': 'session.join',
  join: 'session.join',
  'transport.create': 'media.receive',
  'transport.connect': 'media.receive',
  'transport.restartIce': 'media.receive',
  produce: 'media.send',
  'producer.close': 'media.send',
  'consumer.resume': 'media.receive',
  'receive.setMode': 'media.receive',
  'hand.raise': 'hand.raise',
  'session.goLive': 'session.goLive',
  'session.end': 'session.end',
  'floor.give': 'floor.give',
  'floor.take': 'floor.take',
  // Who is on air is the floor's authority: the operator's.
  'studio.choose': 'floor.give',
  'peer.remove': 'peer.remove',
  'peer.mute': 'peer.mute',
  'agenda.setCurrent': 'agenda.control',
  'recording.start': 'recording.control',
  'recording.stop': 'recording.control',
  'stats.report': 'stats.report',
  leave: 'session.join',
  ...readinessRequiredAction,
};

/** A WebRTC transport for a joined peer, within its limit, as the browser's mediasoup-client wants its options. */
async function createTransport(peer: Peer, room: Room, direction: 'send' | 'recv'): Promise<ResponseData['transport.create']> {
  // Reserved before the first await: requests sent together cannot all pass the limit.
  const release = peer.reserveTransport();
  const t = await room.createWebRtcTransport(peer, direction).finally(release);
  // The socket dropped (or the peer was replaced) while the worker created it: nobody else would close it.
  if (peer.closed) {
    t.close();
    throw new DiemcauError('not-joined', 'the participant left while its transport was being created');
  }
  return {
    id: t.id,
    iceParameters: t.iceParameters as unknown as Record<string, unknown>,
    iceCandidates: t.iceCandidates as unknown as Record<string, unknown>[],
    dtlsParameters: t.dtlsParameters as unknown as Record<string, unknown>,
  };
}

function joined(ctx: HandlerContext): Peer {
  if (!ctx.peer || ctx.peer.closed) throw new DiemcauError('not-joined', 'join the session first');
  return ctx.peer;
}

const empty = {} as Record<string, never>;

const table: { [M in RequestMethod]: Handler<M> } = {
  'router.capabilities': (ctx) => ({ rtpCapabilities: ctx.room.rtpCapabilities as unknown as Record<string, unknown> }),

  join: async (ctx, data) => {
    // The token was checked at the upgrade; the point may have been revoked or disabled since.
    await ctx.verifyToken();
    // A second join on the same socket is the rejoin 'media.restart' asks for:
    // the new peer replaces this socket's old one and the socket stays open.
    const previous = ctx.peer && !ctx.peer.closed ? ctx.peer : undefined;
    if (!previous) ctx.admitPeer(ctx.claims.sub);
    ctx.attach(undefined);
    let peer: Peer;
    try {
      peer = ctx.room.join({
        identity: ctx.claims.sub,
        name: ctx.claims.name,
        role: ctx.claims.role,
        staff: isStaffToken(ctx.claims),
        rtpCapabilities: data.rtpCapabilities as unknown as types.RtpCapabilities,
        receiveMode: data.receiveMode,
        limits: ctx.limits,
      });
    } catch (error) {
      // Not joined again: the old peer must not stay behind without its socket.
      if (previous) ctx.room.leave(previous);
      throw error;
    }
    ctx.attach(peer);
    // The snapshot is taken before the transport exists: it is the session as the peer joined it.
    const snapshot = snapshotFor(ctx.room.snapshot(), peer);
    // The page asked for its receiving transport with the join: it waits for the picture, not for another round trip.
    const recvTransport = data.recvTransport && can(peer.role, 'media.receive') ? await createTransport(peer, ctx.room, 'recv') : undefined;
    return { identity: peer.identity, name: peer.name, role: peer.role, snapshot, ...(recvTransport && { recvTransport }) };
  },

  'transport.create': async (ctx, data) => {
    const peer = joined(ctx);
    if (data.direction === 'send' && !can(peer.role, 'media.send')) {
      throw new ForbiddenError(`a ${peer.role} cannot send media`);
    }
    return await createTransport(peer, ctx.room, data.direction);
  },

  'transport.connect': async (ctx, data) => {
    const transport = transportOf(joined(ctx), data.transportId) as types.WebRtcTransport;
    await transport.connect({ dtlsParameters: data.dtlsParameters as unknown as types.DtlsParameters });
    return empty;
  },

  'transport.restartIce': async (ctx, data) => {
    const transport = transportOf(joined(ctx), data.transportId) as types.WebRtcTransport;
    const iceParameters = await transport.restartIce();
    return { iceParameters: iceParameters as unknown as Record<string, unknown> };
  },

  produce: async (ctx, data) => {
    const peer = joined(ctx);
    // One per source and the limit, reserved before the first await (requests sent together).
    const release = peer.reserveProducer(data.kind, data.source);
    const producer = await ctx.room
      .produce(peer, data.transportId, data.kind, data.rtpParameters as unknown as types.RtpParameters, data.source)
      .finally(release);
    if (peer.closed) {
      producer.close();
      throw new DiemcauError('not-joined', 'the participant left while its stream was being set up');
    }
    return { producerId: producer.id };
  },

  'producer.close': (ctx, data) => {
    ctx.room.closeProducer(joined(ctx), data.producerId);
    return empty;
  },

  'consumer.resume': async (ctx, data) => {
    await ctx.room.resumeConsumer(joined(ctx), data.consumerId);
    return empty;
  },

  'receive.setMode': async (ctx, data) => {
    await ctx.room.setReceiveMode(joined(ctx), data.mode);
    return empty;
  },

  'hand.raise': (ctx, data) => {
    ctx.room.raiseHand(joined(ctx), data.raised);
    return empty;
  },

  'session.goLive': (ctx) => {
    ctx.room.goLive(ctx.claims.sub);
    return empty;
  },

  'session.end': (ctx) => {
    void ctx.room.end(ctx.claims.sub);
    return empty;
  },

  'floor.give': async (ctx, data) => {
    await ctx.room.giveFloor(data.identity, ctx.claims.sub);
    return empty;
  },

  'floor.take': async (ctx) => {
    await ctx.room.takeFloor(ctx.claims.sub);
    return empty;
  },

  'studio.choose': (ctx, data) => {
    ctx.room.chooseStudio(data.identity, ctx.claims.sub);
    return empty;
  },

  'peer.remove': (ctx, data) => {
    ctx.room.remove(data.identity, ctx.claims.sub);
    return empty;
  },

  'peer.mute': async (ctx, data) => {
    await ctx.room.mute(data.identity, data.muted, ctx.claims.sub);
    return empty;
  },

  'agenda.setCurrent': async (ctx, data) => {
    await ctx.room.markAgendaItem(data.itemId);
    // Logged as the console's HTTP route logs it: the control room moves the agenda over this socket.
    ctx.audit({ action: 'agenda.current', target: data.itemId ?? undefined, details: { itemId: data.itemId } });
    return empty;
  },

  'recording.start': async (ctx) => {
    await ctx.room.controlRecording(true, ctx.claims.sub);
    return empty;
  },

  'recording.stop': async (ctx) => {
    await ctx.room.controlRecording(false, ctx.claims.sub);
    return empty;
  },

  'stats.report': async (ctx, data) => {
    await ctx.room.reportStats(joined(ctx), data);
    return empty;
  },

  leave: (ctx) => {
    if (ctx.peer) ctx.room.leave(ctx.peer);
    ctx.attach(undefined);
    return empty;
  },

  ...readinessHandlers,
};

/**
 * Requests that hand what the browser sent (DTLS and RTP parameters, ids,
 * layers) to mediasoup: what mediasoup refuses is the browser's `media-error`
 * with mediasoup's reason, not a fault of the server's.
 */
const mediaMethods = [
  'transport.create',
  'transport.connect',
  'transport.restartIce',
  'produce',
  'producer.close',
  'consumer.resume',
  'receive.setMode',
  ...readinessMediaMethods,
] as const satisfies readonly RequestMethod[];

function refusedAsMedia<M extends RequestMethod>(handler: Handler<M>): Handler<M> {
  return async (ctx, data) => {
    try {
      return await handler(ctx, data);
    } catch (error) {
      throw error instanceof DiemcauError ? error : new MediaError(error);
    }
  };
}

/** Every request's handler, by method. */
export const handlers: { [M in RequestMethod]: Handler<M> } = { ...table };
for (const method of mediaMethods)
  (handlers as Record<RequestMethod, Handler<RequestMethod>>)[method] = refusedAsMedia(table[method] as Handler<RequestMethod>);

function transportOf(peer: Peer, id: string): types.Transport {
  const transport = peer.transport(id);
  if (!transport) throw new DiemcauError('not-found', `no transport ${id}`);
  return transport;
}
