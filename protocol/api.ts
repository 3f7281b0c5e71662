/**
 * Shapes of the HTTP API's sessions: the schedule, a session's record and
 * agenda, the bodies that create, change and run a session, and what every
 * route may answer (health, errors). The server validates with these
 * schemas and generates its OpenAPI document from them; the web app imports
 * the same types.
 */
import { z } from 'zod';
import { errorBodySchema } from './errors.js';
import { identitySchema, sessionSnapshotSchema } from './messages.js';
import { roleSchema } from './roles.js';

// ---- Time ---------------------------------------------------------------------------------

export const defaultTimeZone = 'Asia/Ho_Chi_Minh';

/** Whether the runtime knows the IANA zone (a session's times are shown in it, on the server and in the console). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z
  .string()
  .max(64)
  .refine(isTimeZone, 'unknown time zone')
  .meta({ description: 'IANA time zone', examples: [defaultTimeZone] });

/** An instant, as ISO 8601 text with an offset (e.g. 2026-12-01T08:00:00+07:00) or ms since epoch. */
export const instantSchema = z.union([z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)), z.number().int().positive()]);

/** An instant in a query string: ISO 8601 with an offset, or ms since epoch. */
export const queryInstantSchema = z.union([
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  z
    .string()
    .regex(/^\d{1,15}$/, 'an ISO date with an offset or ms since epoch')
    .transform(Number),
]);

// ---- Sessions -----------------------------------------------------------------------------

export const sessionRecordStatusSchema = z.enum(['scheduled', 'waiting', 'live', 'ended', 'cancelled']);
export type SessionRecordStatus = z.infer<typeof sessionRecordStatusSchema>;

/** Ended or cancelled: the session no longer changes, invites or hands out links; it stays in the schedule. */
export function isSessionOver(status: SessionRecordStatus): boolean {
  return status === 'ended' || status === 'cancelled';
}

export const agendaItemInputSchema = z.object({
  id: identitySchema.optional(),
  title: z.string().trim().min(1).max(300),
  presenter: z.string().trim().max(200).optional(),
  documentIds: z.array(identitySchema).max(50).default([]),
});

export const agendaItemSchema = z.object({
  id: z.string(),
  title: z.string(),
  presenter: z.string().optional(),
  documentIds: z.array(z.string()),
});
export type AgendaItem = z.infer<typeof agendaItemSchema>;

export const sessionInputSchema = z
  .object({
    id: identitySchema.optional(),
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000).optional(),
    startsAt: instantSchema.optional(),
    endsAt: instantSchema.optional(),
    timeZone: timeZoneSchema.default(defaultTimeZone),
    agenda: z.array(agendaItemInputSchema).max(100).default([]),
    invitedPoints: z.array(identitySchema).max(2000).default([]),
    invitedGroups: z.array(identitySchema).max(200).default([]),
    public: z.boolean().default(true),
    /** Whether the scheduler puts the session on air at its start by itself; otherwise it opens in pre-show until the studio or an operator does. */
    autoOnAir: z.boolean().default(false),
  })
  .refine((s) => s.startsAt === undefined || s.endsAt === undefined || s.endsAt > s.startsAt, {
    message: 'the end must come after the start',
    path: ['endsAt'],
  });
export type SessionInput = z.input<typeof sessionInputSchema>;

/** PATCH /api/sessions/:sid: every field optional; null clears the description or a time. Agenda items that keep their id keep their documents. */
export const sessionPatchSchema = z
  .object({
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000).nullable(),
    startsAt: instantSchema.nullable(),
    endsAt: instantSchema.nullable(),
    timeZone: timeZoneSchema,
    agenda: z.array(agendaItemInputSchema.extend({ documentIds: z.array(identitySchema).max(50).optional() })).max(100),
    invitedPoints: z.array(identitySchema).max(2000),
    invitedGroups: z.array(identitySchema).max(200),
    public: z.boolean(),
    autoOnAir: z.boolean(),
  })
  .partial();
export type SessionPatch = z.input<typeof sessionPatchSchema>;

const epochMs = z.number().meta({ description: 'ms since epoch' });

export const sessionRecordSchema = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string().optional(),
  /** Absent for an ad hoc session opened by hand. */
  startsAt: epochMs.optional(),
  endsAt: epochMs.optional(),
  timeZone: z.string().meta({ examples: [defaultTimeZone] }),
  agenda: z.array(agendaItemSchema),
  invitedPoints: z.array(z.string()),
  invitedGroups: z.array(z.string()),
  public: z.boolean().meta({ description: 'Members may watch the live stream and the archive without a token' }),
  autoOnAir: z
    .boolean()
    .optional()
    .meta({ description: 'The scheduler puts it on air at its start; otherwise (absent or false) it opens in pre-show at its start' }),
  status: sessionRecordStatusSchema,
  currentAgendaItem: z.string().optional(),
  createdAt: epochMs,
  updatedAt: epochMs,
  createdBy: z.string().optional(),
});
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** A session in the schedule, with the sessions it clashes with (a point or group in two places at once). */
export const scheduledSessionSchema = sessionRecordSchema.extend({
  conflicts: z.array(z.string()),
  /** The points invited, directly or through their groups, each once. */
  invitedReach: z.number().int().optional(),
  /** The points connected now, for a session open on this server; absent otherwise. */
  connectedPoints: z.number().int().optional(),
  /** Of the points invited, how many passed their latest readiness check and how many had a problem; absent once the session is over. */
  readiness: z.object({ ready: z.number().int(), problem: z.number().int() }).optional(),
});
export type ScheduledSession = z.infer<typeof scheduledSessionSchema>;

/** GET /api/sessions?from=&to=: sessions that overlap the window. */
export const sessionListQuerySchema = z
  .object({ from: queryInstantSchema.optional(), to: queryInstantSchema.optional() })
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, { message: 'to must come after from', path: ['to'] });

export const sessionListSchema = z.object({ sessions: z.array(scheduledSessionSchema) });
export type SessionList = z.infer<typeof sessionListSchema>;

/** GET /api/sessions/:sid: the record, and what participants see while its room is open. */
export const sessionDetailSchema = z.object({ session: sessionRecordSchema, snapshot: sessionSnapshotSchema.nullable() });
export type SessionDetail = z.infer<typeof sessionDetailSchema>;

/** What the watch page may show of a public session not yet over: no invitations, no documents. */
export const publicSessionSchema = sessionRecordSchema
  .pick({ id: true, title: true, description: true, startsAt: true, endsAt: true, timeZone: true, status: true })
  .extend({ agenda: z.array(agendaItemSchema.pick({ title: true, presenter: true })) });
export type PublicSession = z.infer<typeof publicSessionSchema>;

export const publicSessionListSchema = z.object({ sessions: z.array(publicSessionSchema) });
export type PublicSessionList = z.infer<typeof publicSessionListSchema>;

/** GET /api/calendar.ics and /api/calendar/public.ics: the schedule for calendar apps. */
export const calendarFileSchema = z.string().meta({ description: 'iCalendar (RFC 5545)' });

// ---- Running a session --------------------------------------------------------------------

/** POST /api/sessions/:sid/extend: moves the scheduled end later. */
export const sessionExtendSchema = z.object({
  minutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
});

/** PUT /api/sessions/:sid/agenda/current: the item under discussion, or none. */
export const agendaCurrentSchema = z.object({ itemId: identitySchema.nullable() });

/** PUT /api/sessions/:sid/floor: the present point that speaks next. */
export const floorGiveSchema = z.object({ identity: identitySchema });

/** PUT /api/sessions/:sid/studio: which of the hall's studios (browser, encoder) is the program; null: the first to join. */
export const studioChooseSchema = z.object({ identity: identitySchema.nullable() });

/** POST /api/sessions/:sid/invitations: an ad hoc link for one participant. */
export const invitationRequestSchema = z.object({
  role: roleSchema,
  identity: identitySchema,
  name: z.string().trim().min(1).max(120),
});
export type InvitationRequest = z.input<typeof invitationRequestSchema>;

export const invitationSchema = z.object({ token: z.string(), url: z.string() });
export type Invitation = z.infer<typeof invitationSchema>;

// ---- Every route ----------------------------------------------------------------------------

export const healthSchema = z.object({ ok: z.boolean() });
export type Health = z.infer<typeof healthSchema>;

/** The one shape of every refusal, on every route, with the status of its code (errors.ts). */
export const errorReplySchema = z.object({ error: errorBodySchema });
export type ErrorReply = z.infer<typeof errorReplySchema>;

/** GET /api/openapi.json: the document itself, described only as far as a client needs to pick it up. */
export const openApiDocumentSchema = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
