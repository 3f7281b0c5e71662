/**
 * The readiness check of a commune connection point: before a session the
 * clerk's page tests the camera, the microphone, the speakers and the
 * network to the media server (an echo: the page sends a picture and gets
 * it back), and the result is kept per session and point for the operator.
 * The signaling requests and notifications are listed in messages.ts; this
 * module holds their schemas, so it imports nothing from messages.ts (which
 * imports it).
 */
import { z } from 'zod';

/** Longest a network check may hold its transports on the server. */
export const readinessMaxDurationMs = 15_000;

/** What the page measured. Bounds keep a made-up report from storing anything absurd. */
export const readinessFiguresSchema = z.strictObject({
  /** The camera gave a picture. */
  camera: z.boolean(),
  /** The loudest the microphone was during the check, 0..1 of full scale. */
  micLevel: z.number().min(0).max(1),
  /** The clerk's answer to the test tone: heard, not heard, or no answer given. */
  speakers: z.enum(['heard', 'not-heard', 'unanswered']),
  /** How media reached the server: 'udp', 'tcp' (UDP blocked), or null when it did not get through at all. */
  transport: z.enum(['udp', 'tcp']).nullable(),
  /** Round-trip time to the media server (ms). */
  rttMs: z.number().min(0).max(60_000).nullable(),
  /** Highest sending rate sustained for a second (kbit/s). */
  uploadKbps: z.number().min(0).max(1_000_000).nullable(),
  /** Highest receiving rate sustained for a second (kbit/s). */
  downloadKbps: z.number().min(0).max(1_000_000).nullable(),
  /** Share of the echoed packets lost, 0..1. */
  loss: z.number().min(0).max(1).nullable(),
});
export type ReadinessFigures = z.infer<typeof readinessFiguresSchema>;

/**
 * What can be wrong, each with advice on the page. 'tcp-only' is a warning:
 * media still flows, only later.
 */
export const readinessProblemSchema = z.enum([
  'no-camera',
  'mic-silent',
  'speakers-not-confirmed',
  'network-unreachable',
  'tcp-only',
  'high-rtt',
  'low-upload',
  'low-download',
  'high-loss',
]);
export type ReadinessProblem = z.infer<typeof readinessProblemSchema>;

/** Problems that leave the point ready (shown with their advice, but not a failure). */
export const readinessWarnings: readonly ReadinessProblem[] = ['tcp-only'];

export const readinessVerdictSchema = z.enum(['ready', 'problem']);
export type ReadinessVerdict = z.infer<typeof readinessVerdictSchema>;

/** One finished check, as kept and shown. */
export const readinessCheckSchema = z.object({
  at: z.number(),
  figures: readinessFiguresSchema,
  verdict: readinessVerdictSchema,
  problems: z.array(readinessProblemSchema),
});
export type ReadinessCheck = z.infer<typeof readinessCheckSchema>;

/** A point's readiness in one session: its latest check, and whether the organisers asked for another. */
export const readinessStateSchema = z.object({
  latest: readinessCheckSchema.nullable(),
  /** When the operator asked the point to check again (cleared by the next finished check). */
  requestedAt: z.number().nullable(),
});
export type ReadinessState = z.infer<typeof readinessStateSchema>;

const transportId = z.string().min(1).max(128);
const mediaObject = z.looseObject({});

/** The readiness requests over signaling (merged into requestSchemas). */
export const readinessRequestSchemas = {
  /** The point's latest check and any request to check again. */
  'readiness.status': z.object({}),
  /** Opens a network check: a send and a receive transport that belong to no participant. */
  'readiness.start': z.object({
    rtpCapabilities: z.looseObject({ codecs: z.array(mediaObject).max(64) }),
  }),
  'readiness.connect': z.object({ transportId, dtlsParameters: mediaObject }),
  /** Sends the test picture; the server echoes it back on the receive transport. */
  'readiness.produce': z.object({
    kind: z.literal('video'),
    rtpParameters: z.looseObject({ codecs: z.array(mediaObject).min(1).max(16), encodings: z.array(mediaObject).max(8).optional() }),
  }),
  'readiness.resume': z.object({}),
  /** The page's figures: the server judges them, keeps them and closes the check. */
  'readiness.finish': z.object({ figures: readinessFiguresSchema }),
  /** The operator asks a point to run the check again. */
  'readiness.request': z.object({
    identity: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,63}$/),
  }),
} as const;

interface ReadinessTransportOptions {
  id: string;
  iceParameters: Record<string, unknown>;
  iceCandidates: Record<string, unknown>[];
  dtlsParameters: Record<string, unknown>;
}

export interface ReadinessResponseData {
  'readiness.status': ReadinessState;
  'readiness.start': {
    routerRtpCapabilities: Record<string, unknown>;
    send: ReadinessTransportOptions;
    recv: ReadinessTransportOptions;
    maxDurationMs: number;
  };
  'readiness.connect': Record<string, never>;
  'readiness.produce': {
    producerId: string;
    consumer: { id: string; producerId: string; kind: 'video'; rtpParameters: Record<string, unknown> };
  };
  'readiness.resume': Record<string, never>;
  'readiness.finish': ReadinessCheck;
  'readiness.request': Record<string, never>;
}

export interface ReadinessNotificationData {
  /** The organisers ask this point to run the check again. */
  'readiness.requested': { requestedAt: number };
}
