import express from 'express';
import { z } from 'zod';
import {
  accountCreateSchema,
  accountCreatedSchema,
  accountListSchema,
  accountMay,
  accountPatchSchema,
  accountRoleSchema,
  accountSchema,
  agendaCurrentSchema,
  attendanceCsvSchema,
  attendanceReportSchema,
  auditEntrySchema,
  auditListSchema,
  auditQuerySchema,
  calendarFileSchema,
  can,
  documentListSchema,
  documentUploadQuerySchema,
  errorReplySchema,
  floorGiveSchema,
  groupDetailSchema,
  groupInputSchema,
  groupListSchema,
  groupPatchSchema,
  groupSchema,
  healthSchema,
  invitationRequestSchema,
  invitationSchema,
  invitationsSchema,
  mediaFileSchema,
  muteBodySchema,
  openApiDocumentSchema,
  passwordChangeSchema,
  pdfFileSchema,
  pointInputSchema,
  pointListSchema,
  pointPatchSchema,
  pointSchema,
  publicSessionListSchema,
  publicSessionSchema,
  recordingInfoSchema,
  recordingListSchema,
  roleSchema,
  rollCallSchema,
  scheduledSessionSchema,
  sessionDetailSchema,
  sessionDocumentSchema,
  sessionExtendSchema,
  sessionInputSchema,
  sessionListQuerySchema,
  sessionListSchema,
  sessionPatchSchema,
  sessionRecordSchema,
  sessionSnapshotSchema,
  sessionTokenBodySchema,
  sessionTokenSchema,
  signedInSchema,
  signInSchema,
  tokenHolderSchema,
  webhookInputSchema,
  webhookListSchema,
  webhookSchema,
  type AccountRole,
  type Action,
  type Role,
} from '../../protocol/index.js';

/**
 * The HTTP API as an OpenAPI 3.1 document, served at GET /api/openapi.json.
 *
 * Routes are listed here by hand (tests/integration/openapi.test.ts checks
 * that every route express has under /api and /hls is in it, and that every
 * route said to be for operators refuses everyone else). Every body, asked
 * or answered, is a zod schema of protocol/ — the very one the route
 * validates with, or the one its reply is typed by — turned into JSON Schema
 * here with z.toJSONSchema, so the contract cannot drift from the code.
 */

type JsonSchema = Record<string, unknown>;

/** Who may call a route. */
export type Access =
  /** No token needed. */
  | { kind: 'public' }
  /** A token whose role allows `action`; for a route with :sid, a token for that session or an operator's '*'. */
  | { kind: 'action'; action: Action }
  /** A token for every session (`sid: '*'`) whose role or account role allows `action`. */
  | { kind: 'all-sessions'; action: Action }
  /** An account's own sign-in (cookie or the token it returned), whatever the account's role. */
  | { kind: 'account' }
  /** Any valid token (for a document: one for its session). */
  | { kind: 'token' };

/** Bytes that are not JSON (an uploaded PDF, a calendar, a video segment): their media type and what they are. */
export interface RawBody {
  contentType: string;
  schema: z.ZodType;
}

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express-style path from the server root, e.g. /api/sessions/:sid/rollcall. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  /** A `?token=` query parameter is accepted as well as the header or cookie. */
  queryToken?: boolean;
  /** The JSON body: the schema the route parses it with. */
  body?: z.ZodType | RawBody;
  /** Query parameters: the object schema the route parses them with, one parameter per key. */
  query?: z.ZodObject;
  /** Success status → description and the reply: a JSON shape named in `replyNames`, or raw bytes. */
  responses: Record<string, { description: string; body?: z.ZodType | RawBody }>;
  /** Refusals particular to the route (status → description), beside those every route of its kind has. */
  errors?: Record<string, string>;
}

/**
 * Every JSON reply, by the name it has under components/schemas: generated
 * clients get one type per name, and a shape that nests another (a list of
 * points) refers to it. A route whose reply is not named here is an error
 * when the document is built.
 */
const replyNames: [string, z.ZodType][] = [
  ['Error', errorReplySchema],
  ['Health', healthSchema],
  ['OpenApiDocument', openApiDocumentSchema],
  ['SignedIn', signedInSchema],
  ['TokenHolder', tokenHolderSchema],
  ['SessionToken', sessionTokenSchema],
  ['Account', accountSchema],
  ['AccountList', accountListSchema],
  ['AccountCreated', accountCreatedSchema],
  ['Point', pointSchema],
  ['PointList', pointListSchema],
  ['Group', groupSchema],
  ['GroupDetail', groupDetailSchema],
  ['GroupList', groupListSchema],
  ['SessionRecord', sessionRecordSchema],
  ['ScheduledSession', scheduledSessionSchema],
  ['SessionList', sessionListSchema],
  ['SessionSnapshot', sessionSnapshotSchema],
  ['SessionDetail', sessionDetailSchema],
  ['PublicSession', publicSessionSchema],
  ['PublicSessionList', publicSessionListSchema],
  ['Invitations', invitationsSchema],
  ['Invitation', invitationSchema],
  ['Document', sessionDocumentSchema],
  ['DocumentList', documentListSchema],
  ['RollCall', rollCallSchema],
  ['AttendanceReport', attendanceReportSchema],
  ['AuditEntry', auditEntrySchema],
  ['AuditLog', auditListSchema],
  ['Webhook', webhookSchema],
  ['WebhookList', webhookListSchema],
  ['Recording', recordingInfoSchema],
  ['RecordingList', recordingListSchema],
];

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const file = (contentType: string, schema: z.ZodType): RawBody => ({ contentType, schema });

// ---- The routes -------------------------------------------------------------------------

const op = (action: Action): Access => ({ kind: 'action', action });
const all = (action: Action): Access => ({ kind: 'all-sessions', action });
const noContent = { '204': { description: 'Done' } };

export const routes: RouteDoc[] = [
  // Service
  {
    method: 'get',
    path: '/api/health',
    summary: 'Liveness',
    tag: 'service',
    access: { kind: 'public' },
    responses: { '200': { description: 'Up', body: healthSchema } },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    tag: 'service',
    access: { kind: 'public' },
    responses: { '200': { description: 'OpenAPI 3.1', body: openApiDocumentSchema } },
  },

  // Operator sign-in
  {
    method: 'post',
    path: '/api/auth/sign-in',
    summary:
      'Operator sign-in: sets the HttpOnly cookie and returns the token. Attempts per address are limited (DIEMCAU_MAX_SIGN_IN_PER_MINUTE); past the limit the wait grows with every attempt',
    tag: 'auth',
    access: { kind: 'public' },
    body: signInSchema,
    errors: {
      '401': 'Wrong name or password',
      '403': 'Sent from another site, or the account is disabled',
      '429': 'Too many attempts from this address: `Retry-After` says when to try again',
      '503': 'Too many sign-ins at once: try again in a moment',
    },
    responses: { '200': { description: 'Signed in', body: signedInSchema } },
  },
  {
    method: 'post',
    path: '/api/auth/password',
    summary: "Changes the signed-in operator's password: every token signed in before stops working; a cookie caller gets a fresh cookie",
    tag: 'auth',
    access: { kind: 'account' },
    body: passwordChangeSchema,
    responses: noContent,
    errors: { '429': 'Too many password checks from this address (see sign-in)', '503': 'Too many password checks at once' },
  },
  {
    method: 'post',
    path: '/api/auth/sign-out',
    summary: 'Signs the operator out everywhere: every token of the account signed in so far stops working; clears the cookie',
    tag: 'auth',
    access: { kind: 'public' },
    responses: noContent,
  },
  {
    method: 'get',
    path: '/api/auth/me',
    summary: 'Who the token or cookie belongs to',
    tag: 'auth',
    access: { kind: 'token' },
    responses: { '200': { description: 'The bearer', body: tokenHolderSchema } },
  },
  {
    method: 'post',
    path: '/api/auth/session-token',
    summary:
      "The signed-in account's token for one session (the control room's signaling socket): its name, its token role, its generation (signing out or disabling the account ends it)",
    tag: 'auth',
    access: { kind: 'account' },
    body: sessionTokenBodySchema,
    responses: { '201': { description: 'The token', body: sessionTokenSchema } },
  },

  // Operator accounts
  {
    method: 'get',
    path: '/api/accounts',
    summary: 'Operator accounts with their role and state',
    tag: 'accounts',
    access: all('accounts.manage'),
    responses: { '200': { description: 'Accounts', body: accountListSchema } },
  },
  {
    method: 'post',
    path: '/api/accounts',
    summary: 'Creates an account; without a password the server generates one. The reply is the only time the password is sent',
    tag: 'accounts',
    access: all('accounts.manage'),
    body: accountCreateSchema,
    responses: { '201': { description: 'Created', body: accountCreatedSchema } },
    errors: { '409': 'The username is taken (in any letter case)' },
  },
  {
    method: 'get',
    path: '/api/accounts/:username',
    summary: 'One account',
    tag: 'accounts',
    access: all('accounts.manage'),
    responses: { '200': { description: 'The account', body: accountSchema } },
  },
  {
    method: 'patch',
    path: '/api/accounts/:username',
    summary:
      "Changes an account's role, name or state; disabling it or changing its role ends its sessions at once (tokens refused, sockets closed)",
    tag: 'accounts',
    access: all('accounts.manage'),
    body: accountPatchSchema,
    responses: { '200': { description: 'Changed', body: accountSchema } },
    errors: { '409': 'The last enabled admin cannot be disabled or demoted' },
  },
  {
    method: 'delete',
    path: '/api/accounts/:username',
    summary: 'Deletes an account; its sessions end at once',
    tag: 'accounts',
    access: all('accounts.manage'),
    responses: noContent,
    errors: { '409': 'The last enabled admin cannot be deleted' },
  },

  // Points and groups
  {
    method: 'get',
    path: '/api/points',
    summary: 'Connection points',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'Points', body: pointListSchema } },
  },
  {
    method: 'post',
    path: '/api/points',
    summary: 'Registers a connection point',
    tag: 'points',
    access: all('session.create'),
    body: pointInputSchema,
    responses: { '201': { description: 'Created', body: pointSchema } },
    errors: { '409': 'A point with this id exists' },
  },
  {
    method: 'get',
    path: '/api/points/:id',
    summary: 'One point',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'The point', body: pointSchema } },
  },
  {
    method: 'patch',
    path: '/api/points/:id',
    summary: 'Changes a point (`disabled: true` disables it)',
    tag: 'points',
    access: all('session.create'),
    body: pointPatchSchema,
    responses: { '200': { description: 'Changed', body: pointSchema } },
  },
  {
    method: 'delete',
    path: '/api/points/:id',
    summary: 'Deletes a point',
    tag: 'points',
    access: all('session.create'),
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/points/:id/revoke',
    summary: 'Revokes every earlier invitation link of the point',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'Revoked', body: pointSchema } },
  },
  {
    method: 'get',
    path: '/api/groups',
    summary: 'Groups of points',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'Groups', body: groupListSchema } },
  },
  {
    method: 'post',
    path: '/api/groups',
    summary: 'Creates a group',
    tag: 'points',
    access: all('session.create'),
    body: groupInputSchema,
    responses: { '201': { description: 'Created', body: groupSchema } },
    errors: { '409': 'A group with this id exists' },
  },
  {
    method: 'get',
    path: '/api/groups/:id',
    summary: 'One group and its members',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'The group', body: groupDetailSchema } },
  },
  {
    method: 'patch',
    path: '/api/groups/:id',
    summary: 'Changes a group',
    tag: 'points',
    access: all('session.create'),
    body: groupPatchSchema,
    responses: { '200': { description: 'Changed', body: groupSchema } },
  },
  {
    method: 'delete',
    path: '/api/groups/:id',
    summary: 'Deletes a group',
    tag: 'points',
    access: all('session.create'),
    responses: noContent,
  },

  // Sessions and schedule
  {
    method: 'get',
    path: '/api/sessions',
    summary: 'The schedule, with conflicts',
    tag: 'sessions',
    access: all('schedule.view'),
    query: sessionListQuerySchema,
    responses: { '200': { description: 'Sessions', body: sessionListSchema } },
  },
  {
    method: 'post',
    path: '/api/sessions',
    summary: 'Schedules a session',
    tag: 'sessions',
    access: all('session.create'),
    body: sessionInputSchema,
    responses: { '201': { description: 'Created', body: sessionRecordSchema } },
    errors: {
      '409': 'A session with this id exists',
      '503': 'The server keeps as many sessions as it may (DIEMCAU_MAX_SESSIONS): `busy`',
    },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid',
    summary: 'A session and its live snapshot',
    tag: 'sessions',
    access: op('session.join'),
    responses: { '200': { description: 'The session', body: sessionDetailSchema } },
  },
  {
    method: 'patch',
    path: '/api/sessions/:sid',
    summary: 'Changes a session (409 once ended or cancelled)',
    tag: 'sessions',
    access: op('session.create'),
    body: sessionPatchSchema,
    responses: { '200': { description: 'Changed', body: sessionRecordSchema } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/cancel',
    summary: 'Cancels a session',
    tag: 'sessions',
    access: op('session.create'),
    responses: { '200': { description: 'Cancelled', body: sessionRecordSchema } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/extend',
    summary: 'Moves the end later',
    tag: 'sessions',
    access: op('session.create'),
    body: sessionExtendSchema,
    responses: { '200': { description: 'Extended', body: sessionRecordSchema } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/invitations',
    summary: 'Invitation links of the studio and every invited point',
    tag: 'sessions',
    access: op('session.create'),
    responses: { '200': { description: 'Links', body: invitationsSchema } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/invitations',
    summary: "An ad hoc invitation link for any role (a signed-in operator's link for themselves ends with their sign-in)",
    tag: 'sessions',
    access: op('session.create'),
    body: invitationRequestSchema,
    responses: { '201': { description: 'Link', body: invitationSchema } },
  },
  {
    method: 'put',
    path: '/api/sessions/:sid/agenda/current',
    summary: 'Marks the agenda item under discussion',
    tag: 'sessions',
    access: op('agenda.control'),
    body: agendaCurrentSchema,
    responses: { '200': { description: 'The session', body: sessionRecordSchema } },
  },
  {
    method: 'get',
    path: '/api/calendar.ics',
    summary: 'Every session as iCalendar',
    tag: 'sessions',
    access: all('schedule.view'),
    queryToken: true,
    responses: { '200': { description: 'iCalendar', body: file('text/calendar', calendarFileSchema) } },
  },
  {
    method: 'get',
    path: '/api/calendar/public',
    summary: 'Public sessions not yet over (for the watch page)',
    tag: 'sessions',
    access: { kind: 'public' },
    responses: { '200': { description: 'Sessions', body: publicSessionListSchema } },
  },
  {
    method: 'get',
    path: '/api/calendar/public.ics',
    summary: 'Public sessions as iCalendar',
    tag: 'sessions',
    access: { kind: 'public' },
    responses: { '200': { description: 'iCalendar', body: file('text/calendar', calendarFileSchema) } },
  },

  // Session control
  {
    method: 'post',
    path: '/api/sessions/:sid/live',
    summary: 'Puts the session on air',
    tag: 'control',
    access: op('session.goLive'),
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/end',
    summary: 'Ends the session for everyone',
    tag: 'control',
    access: op('session.end'),
    responses: noContent,
  },
  {
    method: 'put',
    path: '/api/sessions/:sid/floor',
    summary: 'Gives the floor to a present point',
    tag: 'control',
    access: op('floor.give'),
    body: floorGiveSchema,
    responses: noContent,
  },
  {
    method: 'delete',
    path: '/api/sessions/:sid/floor',
    summary: 'Takes the floor back',
    tag: 'control',
    access: op('floor.take'),
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/recording',
    summary: 'Starts recording',
    tag: 'control',
    access: op('recording.control'),
    responses: noContent,
  },
  {
    method: 'delete',
    path: '/api/sessions/:sid/recording',
    summary: 'Stops recording',
    tag: 'control',
    access: op('recording.control'),
    responses: noContent,
  },
  {
    method: 'delete',
    path: '/api/sessions/:sid/peers/:identity',
    summary: 'Removes a participant',
    tag: 'control',
    access: op('peer.remove'),
    responses: noContent,
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/peers/:identity/mute',
    summary: 'Mutes or unmutes a participant (not heard even with the floor)',
    tag: 'control',
    access: op('peer.mute'),
    body: muteBodySchema,
    responses: noContent,
  },

  // Documents
  {
    method: 'get',
    path: '/api/sessions/:sid/documents',
    summary: "The session's documents",
    tag: 'documents',
    access: op('session.join'),
    responses: { '200': { description: 'Documents', body: documentListSchema } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/documents',
    summary: 'Attaches a PDF',
    tag: 'documents',
    access: op('session.create'),
    query: documentUploadQuerySchema,
    body: file('application/pdf', pdfFileSchema),
    responses: { '201': { description: 'Stored', body: sessionDocumentSchema } },
  },
  {
    method: 'get',
    path: '/api/documents/:id',
    summary: 'The PDF (an operator, or any token for its session)',
    tag: 'documents',
    access: { kind: 'token' },
    queryToken: true,
    responses: { '200': { description: 'The PDF', body: file('application/pdf', pdfFileSchema) } },
  },
  {
    method: 'delete',
    path: '/api/documents/:id',
    summary: 'Deletes a document',
    tag: 'documents',
    access: op('session.create'),
    queryToken: true,
    responses: noContent,
  },

  // Monitoring
  {
    method: 'get',
    path: '/api/sessions/:sid/rollcall',
    summary: 'Roll call: who is here and how good their link is, struggling points first',
    tag: 'monitoring',
    access: op('session.monitor'),
    responses: { '200': { description: 'Roll call (at most 1.5 s old)', body: rollCallSchema } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/attendance',
    summary: 'Attendance report',
    tag: 'monitoring',
    access: op('session.monitor'),
    responses: { '200': { description: 'Report', body: attendanceReportSchema } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/attendance.csv',
    summary: 'Attendance as CSV (UTF-8 with BOM; times in the session time zone)',
    tag: 'monitoring',
    access: op('session.monitor'),
    responses: { '200': { description: 'Attendance', body: file('text/csv', attendanceCsvSchema) } },
  },
  {
    method: 'get',
    path: '/api/audit',
    summary: 'Audit log, newest last',
    tag: 'monitoring',
    access: all('session.monitor'),
    query: auditQuerySchema,
    responses: { '200': { description: 'Entries', body: auditListSchema } },
  },
  {
    method: 'get',
    path: '/api/webhooks',
    summary: 'Webhook subscriptions (secrets are not returned)',
    tag: 'webhooks',
    access: all('webhooks.manage'),
    responses: { '200': { description: 'Subscriptions', body: webhookListSchema } },
  },
  {
    method: 'post',
    path: '/api/webhooks',
    summary: 'Subscribes a URL to events',
    tag: 'webhooks',
    access: all('webhooks.manage'),
    body: webhookInputSchema,
    responses: { '201': { description: 'Created', body: webhookSchema } },
  },
  {
    method: 'delete',
    path: '/api/webhooks/:id',
    summary: 'Removes a subscription',
    tag: 'webhooks',
    access: all('webhooks.manage'),
    responses: noContent,
  },

  // Recordings and live stream
  {
    method: 'get',
    path: '/api/recordings',
    summary: 'Recordings: public ones, and restricted ones the token may watch',
    tag: 'recordings',
    access: { kind: 'public' },
    queryToken: true,
    responses: { '200': { description: 'Recordings, newest first', body: recordingListSchema } },
  },
  {
    method: 'get',
    path: '/hls/:sid/:file',
    summary:
      'Live and archive HLS: playlists, segments, poster, chapters, MP4 (`?download` for an attachment); a restricted session needs a token for it',
    tag: 'recordings',
    access: { kind: 'public' },
    queryToken: true,
    responses: { '200': { description: 'The file', body: file('application/octet-stream', mediaFileSchema) } },
  },
];

// ---- Building the document -------------------------------------------------------------

/** Token roles whose tokens may call a route (from the permission table), within the route's scope. */
export function rolesFor(access: Access): Role[] | 'anyone' {
  if (access.kind === 'public') return 'anyone';
  if (access.kind === 'token') return [...roleSchema.options];
  if (access.kind === 'account') return [];
  return roleSchema.options.filter((r) => can(r, access.action));
}

/** Account roles whose sign-in may call a route: their token role's permissions and their grants. */
export function accountRolesFor(access: Access): AccountRole[] | 'anyone' {
  if (access.kind === 'public') return 'anyone';
  if (access.kind === 'token' || access.kind === 'account') return [...accountRoleSchema.options];
  return accountRoleSchema.options.filter((a) => accountMay(a, access.action));
}

/** /api/sessions/:sid → /api/sessions/{sid} */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * A schema as the client sends it (`input`: defaults may be left out,
 * ISO dates are text) or as the server answers (`output`).
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...out } = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as JsonSchema;
  return out;
}

/**
 * The named replies as components/schemas: one conversion of the whole
 * registry, so that a reply nesting another named one refers to it instead
 * of repeating it.
 */
function replyComponents(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of replyNames) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io: 'output', target: 'draft-2020-12', uri: (id) => ref(id).$ref as string });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // Schemas no component names would be gathered under __shared; every reply is named, so none may be.
    if (id === '__shared') throw new Error('a reply nests a schema that has an id but no component name');
    const { $schema: _schema, $id: _id, ...body } = schema as JsonSchema;
    out[id] = body;
  }
  return out;
}

const replyName = new Map<z.ZodType, string>(replyNames.map(([id, schema]) => [schema, id]));

function content(body: z.ZodType | RawBody, io: 'input' | 'output'): JsonSchema {
  if (!(body instanceof z.ZodType)) return { [body.contentType]: { schema: jsonSchema(body.schema, io) } };
  if (io === 'input') return { 'application/json': { schema: jsonSchema(body, 'input') } };
  const name = replyName.get(body);
  if (!name) throw new Error('a JSON reply of the OpenAPI document has no component name: add it to replyNames');
  return { 'application/json': { schema: ref(name) } };
}

function queryParameters(query: z.ZodObject): JsonSchema[] {
  const object = jsonSchema(query, 'input') as { properties: Record<string, JsonSchema>; required?: string[] };
  // A field's description is the parameter's, where readers of the document look for it.
  return Object.entries(object.properties).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: object.required?.includes(name) ?? false,
    schema,
    ...(typeof description === 'string' ? { description } : {}),
  }));
}

function operation(route: RouteDoc): JsonSchema {
  const params: JsonSchema[] = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.query) params.push(...queryParameters(route.query));
  const roles = rolesFor(route.access);
  const secured = route.access.kind !== 'public';
  const security: JsonSchema[] = [{ bearerToken: [] }, { operatorCookie: [] }];
  if (route.queryToken) security.push({ queryToken: [] });
  if (!secured) security.push({});

  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(route.responses)) {
    responses[status] = r.body ? { description: r.description, content: content(r.body, 'output') } : { description: r.description };
  }
  const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });
  if (route.body || route.query) responses['400'] = error('Bad request (the message names the fields)');
  if (secured) {
    responses['401'] = error('No token, or an invalid or expired one');
    responses['403'] = error('The role may not, or the token is for another session');
  }
  if (params.some((p) => p.in === 'path')) responses['404'] = error('No such resource');
  if (route.path.startsWith('/api/sessions/:sid') && route.method !== 'get')
    responses['409'] = error('The session has ended, was cancelled, or is not in a state for this');
  for (const [status, description] of Object.entries(route.errors ?? {})) responses[status] = error(description);

  return {
    operationId: `${route.method}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    ...(params.length ? { parameters: params } : {}),
    ...(route.body ? { requestBody: { required: true, content: content(route.body, 'input') } } : {}),
    responses,
    security,
    'x-diemcau-roles': roles,
    'x-diemcau-accounts': accountRolesFor(route.access),
    'x-diemcau-access': route.access.kind,
    ...(route.access.kind === 'all-sessions' || route.access.kind === 'account' ? { 'x-diemcau-all-sessions': true } : {}),
  };
}

/** The OpenAPI 3.1 document of the whole HTTP API. */
export function openApiDocument(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) (paths[openApiPath(route.path)] ??= {})[route.method] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Diemcau API',
      version: '1',
      description:
        "Provincial online TV and conference platform. Operators sign in (POST /api/auth/sign-in: HttpOnly cookie) or send `Authorization: Bearer <token>`; points, the studio and viewers use their invitation token. A POST, PUT, PATCH or DELETE made with the cookie must come from this site (`Origin`, else `Referer`), or it is refused with 403. Every error, on every route, is `{ error: { code, message } }` with the status of its code. `x-diemcau-roles` lists the token roles a route admits, `x-diemcau-accounts` the account roles (admin, operator, observer) whose sign-in it admits; `x-diemcau-access` says how: `action` (a token for the route's session or for every session), `all-sessions` (a token for every session), `account` (an account's own sign-in), `token` (any token the resource itself accepts).",
    },
    servers: [{ url: '/' }],
    tags: ['service', 'auth', 'accounts', 'points', 'sessions', 'control', 'documents', 'monitoring', 'webhooks', 'recordings'].map(
      (name) => ({
        name,
      }),
    ),
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An operator token, or an invitation token' },
        operatorCookie: { type: 'apiKey', in: 'cookie', name: 'diemcau_operator', description: 'Set by POST /api/auth/sign-in' },
        queryToken: {
          type: 'apiKey',
          in: 'query',
          name: 'token',
          description: 'For links opened outside the app (calendar, PDF viewer, HLS player)',
        },
      },
      schemas: replyComponents(),
    },
  };
}

/** GET /api/openapi.json (mount at '/openapi.json'). */
export function createOpenApiRouter(): express.Router {
  const router = express.Router();
  let cached: string | undefined;
  router.get('/', (_req, res) => {
    cached ??= JSON.stringify(openApiDocument());
    res.type('application/json').set('Cache-Control', 'no-cache').send(cached);
  });
  return router;
}

// ---- Listing what express serves ---------------------------------------------------------

interface ExpressLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: ExpressLayer[] };
  rawPath?: unknown;
}

/**
 * Every route an express app serves with a plain string path, as
 * `METHOD /full/path` (mount paths joined), for checking the document
 * against the server. Regular-expression routes (the web app) are skipped.
 */
export function expressRoutes(app: express.Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const walk = (stack: ExpressLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') continue;
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method, path: join(prefix, layer.route.path) });
        }
      } else if (layer.handle.stack) {
        const at = typeof layer.rawPath === 'string' ? layer.rawPath : '/';
        walk(layer.handle.stack, join(prefix, at));
      }
    }
  };
  walk((app as unknown as { router: { stack: ExpressLayer[] } }).router.stack, '');
  return out;
}

function join(a: string, b: string): string {
  const joined = `${a.replace(/\/$/, '')}/${b.replace(/^\//, '')}`;
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}
