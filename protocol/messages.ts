/**
 * The signaling protocol between browsers and the SFU: every request a client
 * may send, every notification the server pushes, and the session snapshot.
 * Both sfu/ and web/ import this module; nothing else defines a message.
 *
 * Wire format (JSON over WebSocket):
 *   client → server  { id, method, data }
 *   server → client  { id, ok: true, data } | { id, ok: false, error }
 *   server → client  { notification, data }
 */
import { z } from 'zod';
import { errorBodySchema } from './errors.js';
import { roleSchema } from './roles.js';
import { readinessRequestSchemas, type ReadinessNotificationData, type ReadinessResponseData } from './readiness.js';

// mediasoup's own structures are deep; we check their outline here and let
// mediasoup validate the rest (its errors come back as 'media-error').
const mediaObject = z.looseObject({});
const rtpCapabilities = z.looseObject({
  codecs: z.array(z.looseObject({ kind: z.enum(['audio', 'video']), mimeType: z.string() })).max(64),
  headerExtensions: z.array(mediaObject).max(64).optional(),
});
const dtlsParameters = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.looseObject({ algorithm: z.string(), value: z.string() }))
    .min(1)
    .max(8),
});
const rtpParameters = z.looseObject({
  codecs: z.array(mediaObject).min(1).max(16),
  encodings: z.array(mediaObject).max(8).optional(),
});

const id = z.string().min(1).max(128);
/**
 * An id of a session, point, group or operator: letters, digits, dot, dash
 * and underscore, not starting with a dot. Ids become folder and file names
 * (recordings, documents), so '.', '..' and hidden names are impossible.
 */
export const identityPattern = /^[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,63}$/;
export const identitySchema = z
  .string()
  .min(1)
  .max(64)
  .regex(identityPattern, 'letters, digits, dot, dash and underscore, not starting with a dot');

export const mediaSourceSchema = z.enum(['camera', 'mic', 'screen']);
export type MediaSource = z.infer<typeof mediaSourceSchema>;

export const receiveModeSchema = z.enum(['auto', 'low', 'audio-only']);
export type ReceiveMode = z.infer<typeof receiveModeSchema>;

/** Every request: method name → schema of its data. */
export const requestSchemas = {
  'router.capabilities': z.object({}),
  join: z.object({
    rtpCapabilities,
    receiveMode: receiveModeSchema.default('auto'),
    /** Create the receiving transport with the join (its options come in the reply): one round trip less before the picture. */
    recvTransport: z.boolean().optional(),
  }),
  'transport.create': z.object({ direction: z.enum(['send', 'recv']) }),
  'transport.connect': z.object({ transportId: id, dtlsParameters }),
  'transport.restartIce': z.object({ transportId: id }),
  produce: z.object({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters,
    source: mediaSourceSchema,
  }),
  'producer.close': z.object({ producerId: id }),
  'consumer.resume': z.object({ consumerId: id }),
  'receive.setMode': z.object({ mode: receiveModeSchema }),
  'hand.raise': z.object({ raised: z.boolean() }),
  'session.goLive': z.object({}),
  'session.end': z.object({}),
  'floor.give': z.object({ identity: identitySchema }),
  'floor.take': z.object({}),
  /** The operator chooses which of the hall's studios (browser, encoder) is the program; null: the first to join. */
  'studio.choose': z.object({ identity: identitySchema.nullable() }),
  'peer.remove': z.object({ identity: identitySchema }),
  'peer.mute': z.object({ identity: identitySchema, muted: z.boolean() }),
  'agenda.setCurrent': z.object({ itemId: identitySchema.nullable() }),
  'recording.start': z.object({}),
  'recording.stop': z.object({}),
  'stats.report': z.object({
    // What the browser sees of its own link, for the roll call.
    availableOutgoingBitrate: z.number().nonnegative().max(1e10).optional(),
    availableIncomingBitrate: z.number().nonnegative().max(1e10).optional(),
    roundTripTime: z.number().nonnegative().max(60).optional(),
    framesPerSecond: z.number().nonnegative().max(240).optional(),
    /** Share of the program's video packets lost since the last report (0–1). */
    inboundLoss: z.number().min(0).max(1).optional(),
  }),
  leave: z.object({}),
  ...readinessRequestSchemas,
} as const;

export type RequestMethod = keyof typeof requestSchemas;
export type RequestData<M extends RequestMethod> = z.input<(typeof requestSchemas)[M]>;
export type ParsedRequestData<M extends RequestMethod> = z.output<(typeof requestSchemas)[M]>;

export const requestEnvelopeSchema = z.object({
  id: z.number().int().nonnegative(),
  method: z.string().max(64),
  data: z.unknown().optional(),
});

// ---- Session snapshot: what every participant sees of the session ----------

export const sessionStatusSchema = z.enum(['waiting', 'live', 'ended']);
export type SessionStatus = z.infer<typeof sessionStatusSchema>;

export const peerSummarySchema = z.object({
  identity: identitySchema,
  name: z.string(),
  role: roleSchema,
  handRaised: z.boolean(),
  sending: z.object({ audio: z.boolean(), video: z.boolean() }),
  receiveMode: receiveModeSchema,
  /** The operator muted this peer: not heard even with the floor. */
  muted: z.boolean(),
  joinedAt: z.number(),
});
export type PeerSummary = z.infer<typeof peerSummarySchema>;

export const sessionSnapshotSchema = z.object({
  sessionId: id,
  title: z.string(),
  status: sessionStatusSchema,
  /** Identity whose picture is on air (the floor holder, else the studio). */
  programSource: identitySchema.nullable(),
  floor: identitySchema.nullable(),
  /** The studio on air when the hall sends from two (its browser and its encoder), else the only one; null: none sends. */
  studio: identitySchema.nullable(),
  /** The studio the operator chose; null: the first to join stays on air until the operator chooses. */
  chosenStudio: identitySchema.nullable(),
  /** The recorder is writing the program to the live stream and the archive. */
  recording: z.boolean(),
  /** The agenda item under discussion, which every point sees. */
  agendaItem: z.object({ id: identitySchema, title: z.string() }).nullable(),
  handsRaised: z.array(identitySchema),
  peers: z.array(peerSummarySchema),
});
export type SessionSnapshot = z.infer<typeof sessionSnapshotSchema>;

// ---- Responses ----------------------------------------------------------------

export interface TransportOptions {
  id: string;
  iceParameters: Record<string, unknown>;
  iceCandidates: Record<string, unknown>[];
  dtlsParameters: Record<string, unknown>;
}

export interface ResponseData extends ReadinessResponseData {
  'router.capabilities': { rtpCapabilities: Record<string, unknown> };
  join: {
    identity: string;
    name: string;
    role: z.infer<typeof roleSchema>;
    snapshot: SessionSnapshot;
    /** The receiving transport, when the join asked for it (recvTransport) and the role may receive. */
    recvTransport?: TransportOptions;
  };
  'transport.create': TransportOptions;
  'transport.connect': Record<string, never>;
  'transport.restartIce': { iceParameters: Record<string, unknown> };
  produce: { producerId: string };
  'producer.close': Record<string, never>;
  'consumer.resume': Record<string, never>;
  'receive.setMode': Record<string, never>;
  'hand.raise': Record<string, never>;
  'session.goLive': Record<string, never>;
  'session.end': Record<string, never>;
  'floor.give': Record<string, never>;
  'floor.take': Record<string, never>;
  'studio.choose': Record<string, never>;
  'peer.remove': Record<string, never>;
  'peer.mute': Record<string, never>;
  'agenda.setCurrent': Record<string, never>;
  'recording.start': Record<string, never>;
  'recording.stop': Record<string, never>;
  'stats.report': Record<string, never>;
  leave: Record<string, never>;
}

export type ReplyMessage = { id: number; ok: true; data: unknown } | { id: number; ok: false; error: z.infer<typeof errorBodySchema> };

// ---- Notifications (server → client) -------------------------------------------

export interface NotificationData extends ReadinessNotificationData {
  /** The session changed: status, floor, hands, who is present. */
  'session.snapshot': SessionSnapshot;
  /** Start receiving a producer: create the consumer, then 'consumer.resume'. */
  'consumer.new': {
    consumerId: string;
    producerId: string;
    kind: 'audio' | 'video';
    rtpParameters: Record<string, unknown>;
    identity: string;
    source: MediaSource;
    /** true when this consumer carries the program picture. */
    program: boolean;
  };
  'consumer.closed': { consumerId: string };
  /** The server paused or resumed a consumer (e.g. audio-only mode). */
  'consumer.paused': { consumerId: string; paused: boolean };
  /** The server muted or unmuted one of this peer's producers (floor rules). */
  'producer.paused': { producerId: string; paused: boolean };
  activeSpeaker: { identity: string | null };
  /** The media server restarted this session; rejoin over the same socket. */
  'media.restart': { reason: string };
}
export type NotificationMethod = keyof NotificationData;
export type NotificationMessage = {
  [M in NotificationMethod]: { notification: M; data: NotificationData[M] };
}[NotificationMethod];

/** Parses a request's data for a known method; throws zod errors as-is. */
export function isRequestMethod(method: string): method is RequestMethod {
  return Object.prototype.hasOwnProperty.call(requestSchemas, method);
}
