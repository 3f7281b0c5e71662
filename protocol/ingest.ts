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
  /**
   * RTMP: true for RTMPS (RTMP over TLS, the `rtmps://` URL: the same stream
   * key, encrypted with the server's certificate), false for plain RTMP.
   */
  tls: z.boolean().optional(),
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

/**
 * An SRT caller's link as libsrt measures it (srt-live-transmit's
 * statistics): readings of the latest report, counters since it connected.
 */
export const srtLinkStatsSchema = z.object({
  /** Round-trip time between the encoder and the server. */
  rttMs: z.number(),
  /** What arrives, retransmissions included. */
  receiveMbps: z.number(),
  /** Packets found missing over the last few seconds, in % of those sent (before retransmission recovers them). */
  lossPercent: z.number(),
  packetsReceived: z.number(),
  /** Packets found missing since the caller connected (most are recovered by retransmission). */
  packetsLost: z.number(),
  /** Retransmitted packets received since the caller connected. */
  packetsRetransmitted: z.number(),
  /** Packets that came too late even for the latency and were dropped: these the picture misses. */
  packetsDropped: z.number(),
  /** What the receive buffer holds, in ms of the program. */
  receiveBufferMs: z.number(),
  /** The SRT latency agreed with the encoder. */
  latencyMs: z.number(),
  /** When the latest report came (ms since the epoch). */
  updatedAt: z.number(),
});
export type SrtLinkStats = z.infer<typeof srtLinkStatsSchema>;

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
  /**
   * The sound's level over about the last second, in dB below full scale
   * (0 loudest, -90 the floor: silence); null without sound or until measured.
   * RTMP/SRT: the decoded sound's loudness (EBU R128 momentary, LUFS); WHIP:
   * the mean of the levels the encoder writes in its packets (RFC 6464), null
   * if it writes none.
   */
  audioLevelDb: z.number().nullable().optional(),
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
  /** SRT only: the link's statistics, once libsrt has reported them. */
  srt: srtLinkStatsSchema.optional(),
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
  /** The operator allows a second encoder as a backup: silent and off air, it takes over when the main drops. */
  allowBackup: z.boolean(),
  /** The main encoder, on air as the studio (unless the operator chose the browser studio). */
  feed: encoderFeedStatusSchema.nullable(),
  /** The backup encoder, connected and ready, off air. */
  backup: encoderFeedStatusSchema.nullable(),
});
export type SessionIngest = z.infer<typeof sessionIngestSchema>;

/** POST /api/sessions/:sid/ingest/rotate: a new secret for one protocol; an encoder using the old one is cut off. */
export const ingestRotateSchema = z.object({ protocol: ingestProtocolSchema });
export type IngestRotate = z.infer<typeof ingestRotateSchema>;

/** PUT /api/sessions/:sid/ingest/backup: allow a backup encoder or not; a backup connected when it is no longer allowed is cut off. */
export const ingestBackupSchema = z.object({ allow: z.boolean() });
export type IngestBackup = z.infer<typeof ingestBackupSchema>;
