/**
 * The operator console's HTTP client (docs/operator-api.md). Requests carry
 * the operator's HttpOnly sign-in cookie (same origin); participant pages
 * pass their invitation token as a bearer instead.
 */
import type {
  Account,
  AccountCreate,
  AccountCreated,
  AccountPatch,
  AccountRole,
  AgendaItem,
  AuditEntry,
  Group,
  GroupInput,
  IngestProtocol,
  GroupKind,
  GroupPatch,
  Invitation,
  InvitationRequest,
  Invitations,
  Point,
  PointInput,
  PointPatch,
  RollCall,
  ScheduledSession,
  SessionDetail,
  SessionDocument,
  SessionIngest,
  SessionInput,
  SessionPatch,
  SessionRecord,
  SessionToken,
  SignedIn,
  TokenHolder,
} from '@protocol';
import { errorCodeSchema, groupKinds, type ErrorCode } from '@protocol';

export { groupKinds };
export type {
  Account,
  AccountCreate,
  AccountCreated,
  AccountPatch,
  AccountRole,
  AuditEntry,
  Group,
  GroupKind,
  IngestProtocol,
  Invitations,
  Point,
  ScheduledSession,
  SessionDocument,
  SessionIngest,
};

/** Who is signed in (GET /api/auth/me): the token role, and the account's role (absent on a sign-in from before account roles: an operator). */
export type Operator = TokenHolder;

/** An agenda item as the editor sends it (no id: the server gives one). */
export type AgendaDraft = Pick<AgendaItem, 'title'> & { id?: string; presenter?: string };

/**
 * A refusal from the API: its HTTP status and its code, 'network' when the
 * server could not be reached. Pages say it by the code, in the user's
 * language (errorText.ts); the server's English message is kept for the
 * browser's console only.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network',
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Any request that failed: the status is 0 when the server could not be reached. */
export function errorStatus(error: unknown): number {
  return error instanceof ApiError ? error.status : 0;
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Raw body (an upload) with its content type. */
  raw?: { data: BodyInit; type: string };
  token?: string;
  signal?: AbortSignal;
}

let unauthorized: (() => void) | null = null;

/** Called when the operator's sign-in has expired (a 401 to a cookie request): back to the sign-in page. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  let body: BodyInit | undefined;
  if (options.raw) {
    headers['Content-Type'] = options.raw.type;
    body = options.raw.data;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method: options.method ?? 'GET',
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, 'network', (error as Error).message);
  }
  if (!res.ok) {
    let code: ErrorCode = 'internal';
    let message = `HTTP ${res.status}`;
    try {
      const parsed = (await res.json()) as { error?: { code?: unknown; message?: string } };
      // A code this page does not know (a newer server) reads as 'internal': the page has words for every code it knows.
      code = errorCodeSchema.safeParse(parsed.error?.code).data ?? code;
      message = parsed.error?.message ?? message;
    } catch {
      // not JSON (a proxy's page): keep the status
    }
    if (res.status === 401 && !options.token && !path.startsWith('/auth/')) unauthorized?.();
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

const enc = encodeURIComponent;

export const api = {
  // ---- sign-in
  me: () => request<Operator>('/auth/me'),
  signIn: (username: string, password: string) => request<SignedIn>('/auth/sign-in', { method: 'POST', body: { username, password } }),
  signOut: () => request<void>('/auth/sign-out', { method: 'POST' }),
  changePassword: (current: string, next: string) => request<void>('/auth/password', { method: 'POST', body: { current, next } }),
  /** The control room's token for one session, under the signed-in account's name and role. */
  sessionToken: (sessionId: string) =>
    request<SessionToken>('/auth/session-token', { method: 'POST', body: { sessionId } }).then((r) => r.token),

  // ---- accounts (admins)
  accounts: () => request<{ accounts: Account[] }>('/accounts').then((r) => r.accounts),
  createAccount: (body: AccountCreate) => request<AccountCreated>('/accounts', { method: 'POST', body }),
  updateAccount: (username: string, patch: AccountPatch) =>
    request<Account>(`/accounts/${enc(username)}`, { method: 'PATCH', body: patch }),
  deleteAccount: (username: string) => request<void>(`/accounts/${enc(username)}`, { method: 'DELETE' }),

  // ---- points and groups
  points: () => request<{ points: Point[] }>('/points').then((r) => r.points),
  createPoint: (p: PointInput) => request<Point>('/points', { method: 'POST', body: p }),
  updatePoint: (id: string, patch: PointPatch) => request<Point>(`/points/${enc(id)}`, { method: 'PATCH', body: patch }),
  deletePoint: (id: string) => request<void>(`/points/${enc(id)}`, { method: 'DELETE' }),
  revokePoint: (id: string) => request<Point>(`/points/${enc(id)}/revoke`, { method: 'POST' }),
  groups: () => request<{ groups: Group[] }>('/groups').then((r) => r.groups),
  createGroup: (g: GroupInput) => request<Group>('/groups', { method: 'POST', body: g }),
  updateGroup: (id: string, patch: GroupPatch) => request<Group>(`/groups/${enc(id)}`, { method: 'PATCH', body: patch }),
  deleteGroup: (id: string) => request<void>(`/groups/${enc(id)}`, { method: 'DELETE' }),

  // ---- sessions
  sessions: (from?: number, to?: number) => {
    const q = new URLSearchParams();
    if (from !== undefined) q.set('from', String(Math.round(from)));
    if (to !== undefined) q.set('to', String(Math.round(to)));
    const query = q.toString();
    return request<{ sessions: ScheduledSession[] }>(`/sessions${query ? `?${query}` : ''}`).then((r) => r.sessions);
  },
  session: (sid: string, token?: string) => request<SessionDetail>(`/sessions/${enc(sid)}`, { token }),
  createSession: (input: Omit<SessionInput, 'startsAt' | 'endsAt'> & { startsAt?: string; endsAt?: string }) =>
    request<SessionRecord>('/sessions', { method: 'POST', body: input }),
  updateSession: (sid: string, patch: SessionPatch) => request<SessionRecord>(`/sessions/${enc(sid)}`, { method: 'PATCH', body: patch }),
  cancelSession: (sid: string) => request<SessionRecord>(`/sessions/${enc(sid)}/cancel`, { method: 'POST' }),
  extendSession: (sid: string, minutes: number) =>
    request<SessionRecord>(`/sessions/${enc(sid)}/extend`, { method: 'POST', body: { minutes } }),
  invitations: (sid: string) => request<Invitations>(`/sessions/${enc(sid)}/invitations`),
  mintInvitation: (sid: string, body: InvitationRequest) =>
    request<Invitation>(`/sessions/${enc(sid)}/invitations`, { method: 'POST', body }),
  /** The encoder's addresses and secrets (RTMP, SRT) and the feed arriving now; a control room's link token stands in for the sign-in. */
  ingest: (sid: string, token?: string, signal?: AbortSignal) => request<SessionIngest>(`/sessions/${enc(sid)}/ingest`, { token, signal }),
  /** A new secret for one protocol: an encoder using the old one is cut off. */
  rotateIngest: (sid: string, protocol: IngestProtocol, token?: string) =>
    request<SessionIngest>(`/sessions/${enc(sid)}/ingest/rotate`, { method: 'POST', body: { protocol }, token }),
  /** Allows a backup encoder or not: a backup connected when it is no longer allowed is cut off. */
  allowBackupEncoder: (sid: string, allow: boolean, token?: string) =>
    request<SessionIngest>(`/sessions/${enc(sid)}/ingest/backup`, { method: 'PUT', body: { allow }, token }),
  // Going on air, ending, the floor, mutes and the agenda item are the control room's live actions:
  // they go over its signaling connection (stores/session.ts), not through here.

  // ---- documents
  documents: (sid: string, token?: string, signal?: AbortSignal) =>
    request<{ documents: SessionDocument[] }>(`/sessions/${enc(sid)}/documents`, { token, signal }).then((r) => r.documents),
  uploadDocument: (sid: string, file: Blob, filename: string, agendaItem?: string) => {
    const q = new URLSearchParams({ filename });
    if (agendaItem) q.set('agendaItem', agendaItem);
    return request<SessionDocument>(`/sessions/${enc(sid)}/documents?${q}`, {
      method: 'POST',
      raw: { data: file, type: 'application/pdf' },
    });
  },
  deleteDocument: (id: string) => request<void>(`/documents/${enc(id)}`, { method: 'DELETE' }),

  // ---- control room
  rollCall: (sid: string, signal?: AbortSignal, token?: string) => request<RollCall>(`/sessions/${enc(sid)}/rollcall`, { signal, token }),

  // ---- audit
  audit: (sessionId?: string, limit = 500) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (sessionId) q.set('sessionId', sessionId);
    return request<{ entries: AuditEntry[] }>(`/audit?${q}`).then((r) => r.entries);
  },
};

/** A document as a link a browser tab (and its PDF viewer) can open. */
export function documentUrl(id: string, token?: string): string {
  return `/api/documents/${enc(id)}${token ? `?token=${enc(token)}` : ''}`;
}

/** The attendance report; an invitation link's token rides along (a download link sends no Authorization header). */
/** The attendance CSV, its headings in the console's language (`lang`). */
export function attendanceCsvUrl(sid: string, lang: string, token?: string): string {
  const query = new URLSearchParams({ lang: lang === 'en' ? 'en' : 'vi', ...(token ? { token } : {}) });
  return `/api/sessions/${enc(sid)}/attendance.csv?${query.toString()}`;
}

/** The whole schedule as iCalendar: opened from the console, the sign-in cookie admits it (the token never reaches page scripts). */
export function calendarUrl(): string {
  return '/api/calendar.ics';
}
