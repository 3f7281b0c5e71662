/**
 * The other resources the HTTP API hands out — documents, invitations,
 * recordings and their chapters — as the server stores them and the web app
 * shows them. Connection points and groups are in points.ts.
 */
import { z } from 'zod';

// ---- Documents (paperless meeting) --------------------------------------------------------

/** A PDF attached to a session, optionally to one agenda item. */
export const sessionDocumentSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  agendaItemId: z.string().optional(),
  /** Display name only: sanitized, never used as a path. */
  filename: z.string(),
  size: z.number().int().meta({ description: 'bytes' }),
  sha256: z.string(),
  uploadedBy: z.string(),
  uploadedAt: z.number(),
});
export type SessionDocument = z.infer<typeof sessionDocumentSchema>;

export const documentListSchema = z.object({ documents: z.array(sessionDocumentSchema) });

/**
 * POST /api/sessions/:sid/documents?filename=…&agendaItem=…: the body is the
 * PDF itself; its name and agenda item travel in the query.
 */
export const documentUploadQuerySchema = z.object({
  filename: z.string().meta({ description: 'Shown to participants; paths and control characters are removed' }),
  agendaItem: z.string().optional().meta({ description: 'An agenda item of the session the document belongs to' }),
});

/** A PDF, as uploaded and as served: the bytes themselves, not JSON. */
export const pdfFileSchema = z.file().mime('application/pdf');

// ---- Invitations ------------------------------------------------------------------------

/** The links of a session: one per invited point, and the studio's. */
export const invitationsSchema = z.object({
  studio: z.object({ url: z.string(), expiresAt: z.number().optional() }),
  points: z.array(z.object({ pointId: z.string(), name: z.string(), url: z.string(), expiresAt: z.number() })),
});
export type Invitations = z.infer<typeof invitationsSchema>;

// ---- Recordings -------------------------------------------------------------------------

export const recordingStatusSchema = z.enum(['recording', 'stopped', 'finalizing', 'complete']);
export type RecordingStatus = z.infer<typeof recordingStatusSchema>;

export const recordingMetaSchema = z.object({
  sessionId: z.string(),
  title: z.string(),
  status: recordingStatusSchema,
  startedAt: z.number(),
  endedAt: z.number().optional(),
  duration: z.number().meta({ description: 'Seconds recorded so far' }),
  public: z.boolean(),
  hasMp4: z.boolean().optional(),
  hasPoster: z.boolean().optional(),
});
export type RecordingMeta = z.infer<typeof recordingMetaSchema>;

/** A recording as GET /api/recordings lists it. */
export const recordingInfoSchema = recordingMetaSchema.extend({
  live: z.boolean().meta({ description: 'The recorder is writing the live stream right now' }),
});
export type RecordingInfo = z.infer<typeof recordingInfoSchema>;

export const recordingListSchema = z.object({ recordings: z.array(recordingInfoSchema) });

/** A chapter of an archive (chapters.json): who was on air from when, or an agenda item. */
export const chapterSchema = z.object({
  /** Seconds from the start of the archive. */
  start: z.number(),
  title: z.string(),
  kind: z.enum(['program', 'agenda']),
  identity: z.string().optional(),
});
export type Chapter = z.infer<typeof chapterSchema>;

/** What /hls/:sid/:file serves: playlists, segments, poster, chapters, MP4. */
export const mediaFileSchema = z.file();
