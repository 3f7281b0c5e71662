/**
 * The broadcast desk's encoder (OBS, vMix, a hardware H.264 encoder) sending
 * the session's program: the addresses and secrets the operator gives it,
 * and what the console shows of the feed.
 */
import { z } from 'zod';

export const ingestProtocols = ['rtmp', 'srt', 'whip'] as const;
export const ingestProtocolSchema = z.enum(ingestProtocols);
export type IngestProtocol = z.infer<typeof ingestProtocolSchema>;

/** Where an encoder sends the session's program, and with which secret. */
export const ingestAddressSchema = z.object({
  protocol: ingestProtocolSchema,
  /** RTMP: the server field of OBS/vMix; SRT: the whole caller URL; WHIP: the endpoint. */
  url: z.string(),
  /** RTMP: the stream key (the session and its secret). */
  streamKey: z.string().optional(),
  /** SRT: the AES passphrase. */
  passphrase: z.string().optional(),
  /** SRT: the stream id. */
  streamId: z.string().optional(),
  /** WHIP: the bearer token. */
  bearerToken: z.string().optional(),
  /** False when this server does not listen for the protocol (not configured, or no port free). */
  available: z.boolean(),
});
export type IngestAddress = z.infer<typeof ingestAddressSchema>;

/** What the server reads of an encoder's feed, refreshed about once a second. */
export const feedStatsSchema = z.object({
  videoCodec: z.string().nullable(),
  profile: z.string().nullable(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  fps: z.number().nullable(),
  keyframeIntervalSeconds: z.number().nullable(),
  bitrateKbps: z.number(),
  audioCodec: z.string().nullable(),
  /** The picture has B-frames, which browsers do not decode over WebRTC: it is converted. */
  bFrames: z.boolean(),
  /** The picture is re-encoded (B-frames, another codec) instead of copied. */
  transcoding: z.boolean(),
  /**
   * The picture's layers as points receive them, low → high: the smaller ones
   * the server makes for weak links, then the original (its height null when
   * unknown). Absent where the feed has no ladder to show (WHIP).
   */
  layers: z.array(z.object({ height: z.number().nullable(), kbps: z.number().nullable() })).optional(),
});
export type FeedStats = z.infer<typeof feedStatsSchema>;

/** The encoder connected to a session now. */
export const encoderFeedStatusSchema = z.object({
  protocol: ingestProtocolSchema,
  connectedAt: z.number(),
  remoteAddress: z.string(),
  stats: feedStatsSchema.nullable(),
});
export type EncoderFeedStatus = z.infer<typeof encoderFeedStatusSchema>;

/** GET /api/sessions/:sid/ingest */
export const sessionIngestSchema = z.object({
  sessionId: z.string(),
  addresses: z.array(ingestAddressSchema),
  feed: encoderFeedStatusSchema.nullable(),
});
export type SessionIngest = z.infer<typeof sessionIngestSchema>;

/** POST /api/sessions/:sid/ingest/rotate: a new secret for one protocol; an encoder using the old one is cut off. */
export const ingestRotateSchema = z.object({ protocol: ingestProtocolSchema });
export type IngestRotate = z.infer<typeof ingestRotateSchema>;
