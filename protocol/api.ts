/**
 * Shapes of the HTTP API's resources and request bodies: connection points,
 * scheduled sessions and their agenda. The server validates with these
 * schemas; the web app imports the same types.
 */
import { z } from 'zod';
import { identitySchema } from './messages.js';

export const defaultTimeZone = 'Asia/Ho_Chi_Minh';

/** An instant, as ISO 8601 text with an offset (e.g. 2026-12-01T08:00:00+07:00) or ms since epoch. */
export const instantSchema = z.union([z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)), z.number().int().positive()]);

export const sessionRecordStatusSchema = z.enum(['scheduled', 'waiting', 'live', 'ended', 'cancelled']);
export type SessionRecordStatus = z.infer<typeof sessionRecordStatusSchema>;

export const agendaItemInputSchema = z.object({
  id: identitySchema.optional(),
  title: z.string().trim().min(1).max(300),
  presenter: z.string().trim().max(200).optional(),
  documentIds: z.array(identitySchema).max(50).default([]),
});
export type AgendaItem = z.output<typeof agendaItemInputSchema> & { id: string };

export const sessionInputSchema = z
  .object({
    id: identitySchema.optional(),
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000).optional(),
    startsAt: instantSchema.optional(),
    endsAt: instantSchema.optional(),
    timeZone: z.string().max(64).default(defaultTimeZone),
    agenda: z.array(agendaItemInputSchema).max(100).default([]),
    invitedPoints: z.array(identitySchema).max(2000).default([]),
    invitedGroups: z.array(identitySchema).max(200).default([]),
    public: z.boolean().default(true),
  })
  .refine((s) => s.startsAt === undefined || s.endsAt === undefined || s.endsAt > s.startsAt, {
    message: 'the end must come after the start',
    path: ['endsAt'],
  })
  .refine((s) => isTimeZone(s.timeZone), { message: 'unknown time zone', path: ['timeZone'] });
export type SessionInput = z.input<typeof sessionInputSchema>;

export interface SessionRecord {
  id: string;
  title: string;
  description?: string;
  /** ms since epoch; undefined for an ad hoc session opened by hand. */
  startsAt?: number;
  endsAt?: number;
  timeZone: string;
  agenda: AgendaItem[];
  invitedPoints: string[];
  invitedGroups: string[];
  /** Members may watch the live stream and the archive without a token. */
  public: boolean;
  status: SessionRecordStatus;
  currentAgendaItem?: string;
  createdAt: number;
  updatedAt: number;
  createdBy?: string;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
