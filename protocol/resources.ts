/**
 * The resources the HTTP API hands out — connection points, groups,
 * documents, invitations, recordings and their chapters — as the server
 * stores them and the web app shows them.
 */

export const groupKinds = ['district', 'organisation', 'other'] as const;
export type GroupKind = (typeof groupKinds)[number];

/** A commune or ward meeting room, a Party committee: a place that joins sessions with an invitation link. */
export interface Point {
  id: string;
  name: string;
  district?: string;
  organisation?: string;
  groupIds: string[];
  disabled: boolean;
  /** Raised by a revocation: every link signed with an older version is refused. */
  invitationVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** Points invited together: a district's communes, an organisation's offices. */
export interface Group {
  id: string;
  name: string;
  kind: GroupKind;
  createdAt: number;
  updatedAt: number;
}

/** A PDF attached to a session (paperless meeting), optionally to one agenda item. */
export interface SessionDocument {
  id: string;
  sessionId: string;
  agendaItemId?: string;
  /** Display name only: sanitized, never used as a path. */
  filename: string;
  size: number;
  sha256: string;
  uploadedBy: string;
  uploadedAt: number;
}

/** The links of a session: one per invited point, and the studio's. */
export interface Invitations {
  studio: { url: string; expiresAt?: number };
  points: { pointId: string; name: string; url: string; expiresAt: number }[];
}

export type RecordingStatus = 'recording' | 'stopped' | 'finalizing' | 'complete';

export interface RecordingMeta {
  sessionId: string;
  title: string;
  status: RecordingStatus;
  startedAt: number;
  endedAt?: number;
  /** Seconds recorded so far. */
  duration: number;
  public: boolean;
  hasMp4?: boolean;
  hasPoster?: boolean;
}

/** A recording as GET /api/recordings lists it. */
export interface RecordingInfo extends RecordingMeta {
  /** The recorder is writing the live stream right now. */
  live: boolean;
}

/** A chapter of an archive: who was on air from when, or an agenda item. */
export interface Chapter {
  /** Seconds from the start of the archive. */
  start: number;
  title: string;
  kind: 'program' | 'agenda';
  identity?: string;
}
