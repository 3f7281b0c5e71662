import express from 'express';
import { z } from 'zod';
import {
  ingestBackupSchema,
  ingestRotateSchema,
  studioChooseSchema,
  sessionIngestSchema,
  accountCreateSchema,
  accountCreatedSchema,
  accountListSchema,
  accountMay,
  accountPatchSchema,
  accountRoleSchema,
  accountSchema,
  agendaCurrentSchema,
  attendanceCsvQuerySchema,
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
  ['SessionIngest', sessionIngestSchema],
];

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const file = (contentType: string, schema: z.ZodType): RawBody => ({ contentType, schema });

// ---- The routes -------------------------------------------------------------------------

const noToken: Access = { kind: 'public' };
const op = (action: Action): Access => ({ kind: 'action', action });
const all = (action: Action): Access => ({ kind: 'all-sessions', action });
const noContent = { '204': { description: 'Done' } };
const ok = (description: string, body: z.ZodType | RawBody) => ({ '200': { description, body } });
const created = (description: string, body: z.ZodType | RawBody) => ({ '201': { description, body } });

/** A route as a section lists it: under `method /path`, without the tag (and the access) the section gives. */
type SectionRoutes<A> = Record<`${RouteDoc['method']} /${string}`, Omit<RouteDoc, 'method' | 'path' | 'tag' | 'access'> & A>;

/**
 * The routes of one tag, in the order listed. With an `access`, it is every
 * route's unless the route names its own; without, each route names its own.
 */
function section(tag: string, ...given: [Access, SectionRoutes<{ access?: Access }>] | [SectionRoutes<{ access: Access }>]): RouteDoc[] {
  const [access, list] = given.length === 2 ? given : [undefined, given[0]];
  return Object.entries(list).map(([key, route]) => {
    const [method, path] = key.split(' ') as [RouteDoc['method'], string];
    return { method, path, tag, ...route, access: (route.access ?? access)! };
  });
}

export const routes: RouteDoc[] = [
  // Service
  ...section('service', noToken, {
    'get /api/health': { summary: 'Liveness', responses: ok('Up', healthSchema) },
    'get /api/openapi.json': { summary: 'This document', responses: ok('OpenAPI 3.1', openApiDocumentSchema) },
  }),

  // Operator sign-in
  ...section('auth', {
    'post /api/auth/sign-in': {
      summary:
        'Operator sign-in: sets the HttpOnly cookie and returns the token. Attempts per address are limited (DIEMCAU_MAX_SIGN_IN_PER_MINUTE); past the limit the wait grows with every attempt',
      access: noToken,
      body: signInSchema,
      responses: ok('Signed in', signedInSchema),
      errors: {
        '401': 'Wrong name or password',
        '403': 'Sent from another site, or the account is disabled',
        '429': 'Too many attempts from this address: `Retry-After` says when to try again',
        '503': 'Too many sign-ins at once: try again in a moment',
      },
    },
    'post /api/auth/password': {
      summary: "Changes the signed-in operator's password: every token signed in before stops working; a cookie caller gets a fresh cookie",
      access: { kind: 'account' },
      body: passwordChangeSchema,
      responses: noContent,
      errors: { '429': 'Too many password checks from this address (see sign-in)', '503': 'Too many password checks at once' },
    },
    'post /api/auth/sign-out': {
      summary: 'Signs the operator out everywhere: every token of the account signed in so far stops working; clears the cookie',
      access: noToken,
      responses: noContent,
    },
    'get /api/auth/me': {
      summary: 'Who the token or cookie belongs to',
      access: { kind: 'token' },
      responses: ok('The bearer', tokenHolderSchema),
    },
    'post /api/auth/session-token': {
      summary:
        "The signed-in account's token for one session (the control room's signaling socket): its name, its token role, its generation (signing out or disabling the account ends it)",
      access: { kind: 'account' },
      body: sessionTokenBodySchema,
      responses: created('The token', sessionTokenSchema),
    },
  }),

  // Operator accounts
  ...section('accounts', all('accounts.manage'), {
    'get /api/accounts': { summary: 'Operator accounts with their role and state', responses: ok('Accounts', accountListSchema) },
    'post /api/accounts': {
      summary: 'Creates an account; without a password the server generates one. The reply is the only time the password is sent',
      body: accountCreateSchema,
      responses: created('Created', accountCreatedSchema),
      errors: { '409': 'The username is taken (in any letter case)' },
    },
    'get /api/accounts/:username': { summary: 'One account', responses: ok('The account', accountSchema) },
    'patch /api/accounts/:username': {
      summary:
        "Changes an account's role, name or state; disabling it or changing its role ends its sessions at once (tokens refused, sockets closed)",
      body: accountPatchSchema,
      responses: ok('Changed', accountSchema),
      errors: { '409': 'The last enabled admin cannot be disabled or demoted' },
    },
    'delete /api/accounts/:username': {
      summary: 'Deletes an account; its sessions end at once',
      responses: noContent,
      errors: { '409': 'The last enabled admin cannot be deleted' },
    },
  }),

  // Points and groups
  ...section('points', all('session.create'), {
    'get /api/points': { summary: 'Connection points', responses: ok('Points', pointListSchema) },
    'post /api/points': {
      summary: 'Registers a connection point',
      body: pointInputSchema,
      responses: created('Created', pointSchema),
      errors: { '409': 'A point with this id exists' },
    },
    'get /api/points/:id': { summary: 'One point', responses: ok('The point', pointSchema) },
    'patch /api/points/:id': {
      summary: 'Changes a point (`disabled: true` disables it)',
      body: pointPatchSchema,
      responses: ok('Changed', pointSchema),
    },
    'delete /api/points/:id': { summary: 'Deletes a point', responses: noContent },
    'post /api/points/:id/revoke': { summary: 'Revokes every earlier invitation link of the point', responses: ok('Revoked', pointSchema) },
    'get /api/groups': { summary: 'Groups of points', responses: ok('Groups', groupListSchema) },
    'post /api/groups': {
      summary: 'Creates a group',
      body: groupInputSchema,
      responses: created('Created', groupSchema),
      errors: { '409': 'A group with this id exists' },
    },
    'get /api/groups/:id': { summary: 'One group and its members', responses: ok('The group', groupDetailSchema) },
    'patch /api/groups/:id': { summary: 'Changes a group', body: groupPatchSchema, responses: ok('Changed', groupSchema) },
    'delete /api/groups/:id': { summary: 'Deletes a group', responses: noContent },
  }),

  // Sessions and schedule
  ...section('sessions', {
    'get /api/sessions': {
      summary: 'The schedule, with conflicts',
      access: all('schedule.view'),
      query: sessionListQuerySchema,
      responses: ok('Sessions', sessionListSchema),
    },
    'post /api/sessions': {
      summary: 'Schedules a session',
      access: all('session.create'),
      body: sessionInputSchema,
      responses: created('Created', sessionRecordSchema),
      errors: {
        '409': 'A session with this id exists',
        '503': 'The server keeps as many sessions as it may (DIEMCAU_MAX_SESSIONS): `busy`',
      },
    },
    'get /api/sessions/:sid': {
      summary: 'A session and its live snapshot',
      access: op('session.join'),
      responses: ok('The session', sessionDetailSchema),
    },
    'patch /api/sessions/:sid': {
      summary: 'Changes a session (409 once ended or cancelled)',
      access: op('session.create'),
      body: sessionPatchSchema,
      responses: ok('Changed', sessionRecordSchema),
    },
    'post /api/sessions/:sid/cancel': {
      summary: 'Cancels a session',
      access: op('session.create'),
      responses: ok('Cancelled', sessionRecordSchema),
    },
    'post /api/sessions/:sid/extend': {
      summary: 'Moves the end later',
      access: op('session.create'),
      body: sessionExtendSchema,
      responses: ok('Extended', sessionRecordSchema),
    },
    'get /api/sessions/:sid/invitations': {
      summary: 'Invitation links of the studio and every invited point',
      access: op('session.create'),
      responses: ok('Links', invitationsSchema),
    },
    'post /api/sessions/:sid/invitations': {
      summary: "An ad hoc invitation link for any role (a signed-in operator's link for themselves ends with their sign-in)",
      access: op('session.create'),
      body: invitationRequestSchema,
      responses: created('Link', invitationSchema),
    },
    'put /api/sessions/:sid/agenda/current': {
      summary: 'Marks the agenda item under discussion',
      access: op('agenda.control'),
      body: agendaCurrentSchema,
      responses: ok('The session', sessionRecordSchema),
    },
    'get /api/calendar.ics': {
      summary: 'Every session as iCalendar',
      access: all('schedule.view'),
      queryToken: true,
      responses: ok('iCalendar', file('text/calendar', calendarFileSchema)),
    },
    'get /api/calendar/public': {
      summary: 'Public sessions not yet over (for the watch page)',
      access: noToken,
      responses: ok('Sessions', publicSessionListSchema),
    },
    'get /api/calendar/public.ics': {
      summary: 'Public sessions as iCalendar',
      access: noToken,
      responses: ok('iCalendar', file('text/calendar', calendarFileSchema)),
    },
  }),

  // Session control
  ...section('control', {
    'post /api/sessions/:sid/live': { summary: 'Puts the session on air', access: op('session.goLive'), responses: noContent },
    'post /api/sessions/:sid/end': { summary: 'Ends the session for everyone', access: op('session.end'), responses: noContent },
    'put /api/sessions/:sid/floor': {
      summary: 'Gives the floor to a present point',
      access: op('floor.give'),
      body: floorGiveSchema,
      responses: noContent,
    },
    'delete /api/sessions/:sid/floor': { summary: 'Takes the floor back', access: op('floor.take'), responses: noContent },
    'put /api/sessions/:sid/studio': {
      summary: "Chooses which of the hall's studios (its browser, its encoder) is the program; null returns to the first that joined",
      access: op('floor.give'),
      body: studioChooseSchema,
      responses: noContent,
    },
    'post /api/sessions/:sid/recording': { summary: 'Starts recording', access: op('recording.control'), responses: noContent },
    'delete /api/sessions/:sid/recording': { summary: 'Stops recording', access: op('recording.control'), responses: noContent },
    'delete /api/sessions/:sid/peers/:identity': { summary: 'Removes a participant', access: op('peer.remove'), responses: noContent },
    'post /api/sessions/:sid/peers/:identity/mute': {
      summary: 'Mutes or unmutes a participant (not heard even with the floor)',
      access: op('peer.mute'),
      body: muteBodySchema,
      responses: noContent,
    },
  }),

  // The broadcast desk's encoder
  ...section('ingest', op('ingest.manage'), {
    'get /api/sessions/:sid/ingest': {
      summary: "The session's encoder addresses and secrets (RTMP, SRT) and the encoder connected now",
      responses: ok('Addresses and feed', sessionIngestSchema),
    },
    'post /api/sessions/:sid/ingest/rotate': {
      summary: 'Replaces the secret of one protocol: the old one is refused from now on and an encoder using it is cut off',
      body: ingestRotateSchema,
      responses: ok('Addresses and feed', sessionIngestSchema),
    },
    'put /api/sessions/:sid/ingest/backup': {
      summary: 'Allows a backup encoder (silent and off air, it takes over when the main drops) or not: a backup connected now is cut off',
      body: ingestBackupSchema,
      responses: ok('Addresses and feed', sessionIngestSchema),
    },
  }),

  // Documents
  ...section('documents', op('session.create'), {
    'get /api/sessions/:sid/documents': {
      summary: "The session's documents",
      access: op('session.join'),
      responses: ok('Documents', documentListSchema),
    },
    'post /api/sessions/:sid/documents': {
      summary: 'Attaches a PDF',
      query: documentUploadQuerySchema,
      body: file('application/pdf', pdfFileSchema),
      responses: created('Stored', sessionDocumentSchema),
    },
    'get /api/documents/:id': {
      summary: 'The PDF (an operator, or any token for its session)',
      access: { kind: 'token' },
      queryToken: true,
      responses: ok('The PDF', file('application/pdf', pdfFileSchema)),
    },
    'delete /api/documents/:id': { summary: 'Deletes a document', queryToken: true, responses: noContent },
  }),

  // Monitoring
  ...section('monitoring', op('session.monitor'), {
    'get /api/sessions/:sid/rollcall': {
      summary: 'Roll call: who is here and how good their link is, struggling points first',
      responses: ok('Roll call (at most 1.5 s old)', rollCallSchema),
    },
    'get /api/sessions/:sid/attendance': { summary: 'Attendance report', responses: ok('Report', attendanceReportSchema) },
    'get /api/sessions/:sid/attendance.csv': {
      summary: 'Attendance as CSV (UTF-8 with BOM; times in the session time zone; `lang`: headings for people, else stable column names)',
      query: attendanceCsvQuerySchema,
      responses: ok('Attendance', file('text/csv', attendanceCsvSchema)),
    },
    'get /api/audit': {
      summary: 'Audit log, newest last',
      access: all('session.monitor'),
      query: auditQuerySchema,
      responses: ok('Entries', auditListSchema),
    },
  }),

  // Webhooks
  ...section('webhooks', all('webhooks.manage'), {
    'get /api/webhooks': { summary: 'Webhook subscriptions (secrets are not returned)', responses: ok('Subscriptions', webhookListSchema) },
    'post /api/webhooks': { summary: 'Subscribes a URL to events', body: webhookInputSchema, responses: created('Created', webhookSchema) },
    'delete /api/webhooks/:id': { summary: 'Removes a subscription', responses: noContent },
  }),

  // Recordings and live stream
  ...section('recordings', noToken, {
    'get /api/recordings': {
      summary: 'Recordings: public ones, and restricted ones the token may watch',
      queryToken: true,
      responses: ok('Recordings, newest first', recordingListSchema),
    },
    'get /hls/:sid/:file': {
      summary:
        'Live and archive HLS: playlists, segments, poster, chapters, MP4 (`?download` for an attachment); a restricted session needs a token for it',
      queryToken: true,
      responses: ok('The file', file('application/octet-stream', mediaFileSchema)),
    },
  }),
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
    tags: [
      'service',
      'auth',
      'accounts',
      'points',
      'sessions',
      'control',
      'ingest',
      'documents',
      'monitoring',
      'webhooks',
      'recordings',
    ].map((name) => ({
      name,
    })),
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
