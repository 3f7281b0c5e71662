/**
 * The operator console's monitoring resources: roll call, attendance, audit
 * log and webhooks (docs/operator-api.md). The server validates bodies with
 * these schemas and generates its OpenAPI document from them; the web app
 * imports the same types.
 */
import { z } from 'zod';
import { identitySchema, receiveModeSchema } from './messages.js';
import { readinessStateSchema } from './readiness.js';
import { roleSchema } from './roles.js';

// ---- Roll call -----------------------------------------------------------------

export const rollCallGradeSchema = z.enum(['good', 'fair', 'poor', 'unknown']);
export type RollCallGrade = z.infer<typeof rollCallGradeSchema>;

/** A present peer's link as the media server measures it (null figures: no data yet). */
export const rollCallQualitySchema = z.object({
  /** What the server receives from the peer, bits per second. */
  bitrateIn: z.number(),
  /** What the server sends to the peer, bits per second. */
  bitrateOut: z.number(),
  /** Fraction of packets lost, 0..1: the worse of the uplink and the downlink. */
  packetLoss: z.number().nullable(),
  /** Round-trip time in milliseconds (RTCP, else what the browser reported). */
  rttMs: z.number().nullable(),
  /** Spatial layer of the program picture the peer receives (0 = lowest), null for a single-layer stream. */
  layer: z.number().int().nullable(),
  /** mediasoup's 0..10 stream score: the lowest of what the peer sends and receives. */
  score: z.number().nullable(),
});
export type RollCallQuality = z.infer<typeof rollCallQualitySchema>;

export const rollCallRowSchema = z.object({
  identity: identitySchema,
  name: z.string(),
  role: roleSchema,
  /** Invited to the session (directly or through a group). */
  invited: z.boolean(),
  state: z.enum(['present', 'absent', 'left']),
  /** When this state began (ms since epoch). */
  since: z.number(),
  handRaised: z.boolean(),
  hasFloor: z.boolean(),
  muted: z.boolean(),
  /** null when the peer is not present. */
  receiveMode: receiveModeSchema.nullable(),
  quality: rollCallQualitySchema.nullable(),
  grade: rollCallGradeSchema,
  /** A point's latest readiness check in this session and any request to run it again; absent: never checked. */
  readiness: readinessStateSchema.optional(),
});
export type RollCallRow = z.infer<typeof rollCallRowSchema>;

export const rollCallSchema = z.object({
  /** When the figures were measured (ms since epoch). */
  updatedAt: z.number(),
  points: z.array(rollCallRowSchema),
});
export type RollCall = z.infer<typeof rollCallSchema>;

export const muteBodySchema = z.object({ muted: z.boolean() });

// ---- Attendance ----------------------------------------------------------------

export const attendanceIntervalSchema = z.object({ from: z.number(), to: z.number().optional() });
export type AttendanceInterval = z.infer<typeof attendanceIntervalSchema>;

export const attendanceQualitySchema = z.object({
  /** Roll call samples taken while present. */
  samples: z.number().int(),
  avgLoss: z.number().nullable(),
  avgRttMs: z.number().nullable(),
  avgBitrateIn: z.number().nullable(),
});
export type AttendanceQuality = z.infer<typeof attendanceQualitySchema>;

export const attendanceEntrySchema = z.object({
  identity: identitySchema,
  name: z.string(),
  role: roleSchema,
  invited: z.boolean(),
  present: z.boolean(),
  firstJoined: z.number().nullable(),
  /** null while present or when never joined. */
  lastLeft: z.number().nullable(),
  minutesPresent: z.number(),
  intervals: z.array(attendanceIntervalSchema),
  quality: attendanceQualitySchema,
});
export type AttendanceEntry = z.infer<typeof attendanceEntrySchema>;

export const attendanceReportSchema = z.object({
  sessionId: z.string(),
  title: z.string(),
  timeZone: z.string(),
  /** When the session's room first opened, null if it never did. */
  openedAt: z.number().nullable(),
  closedAt: z.number().nullable(),
  generatedAt: z.number(),
  points: z.array(attendanceEntrySchema),
});
export type AttendanceReport = z.infer<typeof attendanceReportSchema>;

export const attendanceCsvColumns = [
  'identity',
  'name',
  'first_joined',
  'last_left',
  'minutes_present',
  'intervals',
  'avg_packet_loss',
  'avg_rtt_ms',
] as const;

/** The CSV's headings for people: `?lang=vi|en` (the console's download); without it, the stable column names above for machines. */
export const attendanceCsvLanguageSchema = z.enum(['vi', 'en']);
export type AttendanceCsvLanguage = z.infer<typeof attendanceCsvLanguageSchema>;
export const attendanceCsvHeadings: Record<AttendanceCsvLanguage, Record<(typeof attendanceCsvColumns)[number], string>> = {
  vi: {
    identity: 'Mã',
    name: 'Tên',
    first_joined: 'Vào lần đầu',
    last_left: 'Rời lần cuối',
    minutes_present: 'Số phút có mặt',
    intervals: 'Các lần có mặt',
    avg_packet_loss: 'Mất gói trung bình',
    avg_rtt_ms: 'Trễ khứ hồi trung bình (ms)',
  },
  en: {
    identity: 'ID',
    name: 'Name',
    first_joined: 'First joined',
    last_left: 'Last left',
    minutes_present: 'Minutes present',
    intervals: 'Times present',
    avg_packet_loss: 'Average packet loss',
    avg_rtt_ms: 'Average round trip (ms)',
  },
};
export const attendanceCsvQuerySchema = z.object({ lang: attendanceCsvLanguageSchema.optional() });

/** GET /api/sessions/:sid/attendance.csv: UTF-8 with a BOM (spreadsheets read the Vietnamese names), times in the session's zone. */
export const attendanceCsvSchema = z.string().meta({ description: `CSV with the columns ${attendanceCsvColumns.join(',')}` });

// ---- Audit ---------------------------------------------------------------------

export const auditEntrySchema = z.object({
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  sessionId: z.string().optional(),
  target: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** Who did what, when: one line of the audit log. */
export type AuditEntry = z.infer<typeof auditEntrySchema>;

export const auditListSchema = z.object({ entries: z.array(auditEntrySchema) });

export const auditQuerySchema = z.object({
  sessionId: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(200),
});

// ---- Webhooks ------------------------------------------------------------------

export const webhookEventTypes = ['session.started', 'session.ended', 'point.joined', 'point.left', 'recording.ready'] as const;
export const webhookEventTypeSchema = z.enum(webhookEventTypes);
export type WebhookEventType = z.infer<typeof webhookEventTypeSchema>;

export const webhookInputSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).max(2000),
  /** Signs every delivery (HMAC-SHA256); at least 16 characters. */
  secret: z.string().min(16).max(200),
  events: z.array(webhookEventTypeSchema).min(1).max(webhookEventTypes.length),
});
export type WebhookInput = z.infer<typeof webhookInputSchema>;

/** A subscription as listed: the secret is never sent back. */
export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(webhookEventTypeSchema),
  createdAt: z.number(),
  createdBy: z.string().optional(),
});
export type Webhook = z.infer<typeof webhookSchema>;

export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema) });

/** The body of each delivery. */
export const webhookDeliverySchema = z.object({
  /** Same for every attempt of one event: receivers can drop duplicates. */
  id: z.string(),
  type: webhookEventTypeSchema,
  /** When the event happened (ms since epoch). */
  at: z.number(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;
