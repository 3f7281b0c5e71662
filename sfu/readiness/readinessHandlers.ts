import type { types } from 'mediasoup';
import type { Action, AuditEntry, ParsedRequestData, ResponseData, TokenClaims } from '../../protocol/index.js';
import { DiemcauError, ForbiddenError } from '../errors.js';
import type { Room } from '../room/Room.js';
import type { ReadinessService } from './ReadinessService.js';
import type { ReadinessSocket } from './ReadinessSocket.js';

type ReadinessMethod =
  | 'readiness.status'
  | 'readiness.start'
  | 'readiness.connect'
  | 'readiness.produce'
  | 'readiness.resume'
  | 'readiness.finish'
  | 'readiness.request';

/** What the readiness requests need of the signaling connection (a part of its handler context). */
export interface ReadinessContext {
  claims: TokenClaims;
  room: Room;
  /** This socket's checks; none when the server runs without readiness checks. */
  readonly readiness?: { socket: ReadinessSocket; service: ReadinessService };
  audit(entry: Pick<AuditEntry, 'action' | 'target' | 'details'>): void;
}

type ReadinessHandler<M extends ReadinessMethod> = (ctx: ReadinessContext, data: ParsedRequestData<M>) => Promise<ResponseData[M]>;

/** The permission each readiness request needs (checked before its handler runs, like every request's). */
export const readinessRequiredAction: Record<ReadinessMethod, Action> = {
  'readiness.status': 'readiness.check',
  'readiness.start': 'readiness.check',
  'readiness.connect': 'readiness.check',
  'readiness.produce': 'readiness.check',
  'readiness.resume': 'readiness.check',
  'readiness.finish': 'readiness.check',
  'readiness.request': 'readiness.request',
};

function readinessOf(ctx: ReadinessContext): { socket: ReadinessSocket; service: ReadinessService } {
  if (!ctx.readiness) throw new DiemcauError('unavailable', 'this server runs no readiness checks');
  return ctx.readiness;
}

const empty = {} as Record<string, never>;

/**
 * The readiness check over a point's signaling socket, without joining: the
 * point does not appear in the session while it checks. mediasoup's refusals
 * (bad DTLS or RTP parameters) come back as 'media-error'.
 */
export const readinessHandlers: { [M in ReadinessMethod]: ReadinessHandler<M> } = {
  'readiness.status': (ctx) => readinessOf(ctx).socket.status(),

  'readiness.start': (ctx, data) => readinessOf(ctx).socket.start(data.rtpCapabilities as unknown as types.RtpCapabilities),

  'readiness.connect': async (ctx, data) => {
    await readinessOf(ctx).socket.connect(data.transportId, data.dtlsParameters as unknown as types.DtlsParameters);
    return empty;
  },

  'readiness.produce': (ctx, data) => readinessOf(ctx).socket.produce(data.rtpParameters as unknown as types.RtpParameters),

  'readiness.resume': async (ctx) => {
    await readinessOf(ctx).socket.resume();
    return empty;
  },

  'readiness.finish': async (ctx, data) => {
    const result = await readinessOf(ctx).socket.finish(data.figures);
    ctx.audit({ action: 'readiness.check', target: ctx.claims.sub, details: { verdict: result.verdict, problems: result.problems } });
    return result;
  },

  'readiness.request': async (ctx, data) => {
    // Only points check their readiness; asking anyone else is a mistake the operator should hear of.
    const peer = ctx.room.peer(data.identity);
    if (peer && peer.role !== 'point') throw new ForbiddenError(`${data.identity} is not a connection point`);
    await readinessOf(ctx).service.request(ctx.room.id, data.identity);
    ctx.audit({ action: 'readiness.request', target: data.identity });
    return empty;
  },
};

/** Readiness requests whose refusals by mediasoup are the browser's news ('media-error'), not the server's fault. */
export const readinessMediaMethods = ['readiness.start', 'readiness.connect', 'readiness.produce', 'readiness.resume'] as const;
