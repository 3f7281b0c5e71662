import express from 'express';
import { changePasswordBody } from './authApi.js';
import { z } from 'zod';
import {
  accountCreateSchema,
  accountCreatedSchema,
  accountMay,
  accountPatchSchema,
  accountRoleSchema,
  accountSchema,
  agendaItemInputSchema,
  attendanceReportSchema,
  auditEntrySchema,
  errorCodeSchema,
  can,
  identitySchema,
  instantSchema,
  muteBodySchema,
  roleSchema,
  rollCallSchema,
  sessionInputSchema,
  sessionSnapshotSchema,
  sessionTokenBodySchema,
  webhookInputSchema,
  webhookSchema,
  type AccountRole,
  type Action,
  type Role,
} from '../../protocol/index.js';
import { groupInputSchema, groupPatchSchema, pointInputSchema, pointPatchSchema } from '../registry/PointRegistry.js';

/**
 * The HTTP API as an OpenAPI 3.1 document, served at GET /api/openapi.json.
 *
 * Routes are listed here by hand (tests/integration/openapi.test.ts checks
 * that every route express has under /api and /hls is in it, and that every
 * route said to be for operators refuses everyone else). Request bodies come
 * from the zod schemas the routes validate with; where a route keeps its
 * schema private, a copy of it is here, marked as such.
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

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express-style path from the server root, e.g. /api/sessions/:sid/rollcall. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  /** A `?token=` query parameter is accepted as well as the header or cookie. */
  queryToken?: boolean;
  body?: z.ZodType | { contentType: string; schema: JsonSchema };
  query?: Record<string, { schema: JsonSchema; description?: string; required?: boolean }>;
  /** Success status → description and optional JSON schema or content type. */
  responses: Record<string, { description: string; schema?: z.ZodType | JsonSchema | string; contentType?: string }>;
  /** Refusals particular to the route (status → description), beside those every route of its kind has. */
  errors?: Record<string, string>;
}

// ---- Shapes that have no exported zod schema ---------------------------------------

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const sessionRecordJson: JsonSchema = {
  type: 'object',
  required: ['id', 'title', 'timeZone', 'agenda', 'invitedPoints', 'invitedGroups', 'public', 'status', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    startsAt: { type: 'number', description: 'ms since epoch' },
    endsAt: { type: 'number', description: 'ms since epoch' },
    timeZone: { type: 'string', examples: ['Asia/Ho_Chi_Minh'] },
    agenda: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'title', 'documentIds'],
        properties: {
          id: { type: 'string' },
          title: { type: 'string' },
          presenter: { type: 'string' },
          documentIds: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    invitedPoints: { type: 'array', items: { type: 'string' } },
    invitedGroups: { type: 'array', items: { type: 'string' } },
    public: { type: 'boolean' },
    status: { type: 'string', enum: ['scheduled', 'waiting', 'live', 'ended', 'cancelled'] },
    currentAgendaItem: { type: 'string' },
    createdAt: { type: 'number' },
    updatedAt: { type: 'number' },
    createdBy: { type: 'string' },
  },
};

const pointJson: JsonSchema = {
  type: 'object',
  required: ['id', 'name', 'groupIds', 'disabled', 'invitationVersion', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    district: { type: 'string' },
    organisation: { type: 'string' },
    groupIds: { type: 'array', items: { type: 'string' } },
    disabled: { type: 'boolean' },
    invitationVersion: { type: 'integer' },
    createdAt: { type: 'number' },
    updatedAt: { type: 'number' },
  },
};

const groupJson: JsonSchema = {
  type: 'object',
  required: ['id', 'name', 'kind', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string', enum: ['district', 'organisation', 'other'] },
    createdAt: { type: 'number' },
    updatedAt: { type: 'number' },
    pointIds: { type: 'array', items: { type: 'string' }, description: 'GET /groups/{id} only: its members' },
  },
};

const documentJson: JsonSchema = {
  type: 'object',
  required: ['id', 'sessionId', 'filename', 'size', 'sha256', 'uploadedBy', 'uploadedAt'],
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    agendaItemId: { type: 'string' },
    filename: { type: 'string' },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    uploadedBy: { type: 'string' },
    uploadedAt: { type: 'number' },
  },
};

const recordingJson: JsonSchema = {
  type: 'object',
  required: ['sessionId', 'title', 'status', 'startedAt', 'duration', 'public', 'live'],
  properties: {
    sessionId: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'string', enum: ['recording', 'stopped', 'finalizing', 'complete'] },
    startedAt: { type: 'number' },
    endedAt: { type: 'number' },
    duration: { type: 'number', description: 'seconds' },
    public: { type: 'boolean' },
    hasMp4: { type: 'boolean' },
    hasPoster: { type: 'boolean' },
    live: { type: 'boolean' },
  },
};

// Copies of schemas sfu/http/api.ts and authApi.ts keep private (keep in step with them).
const invitationBody = z.object({ role: roleSchema, identity: identitySchema, name: z.string().trim().min(1).max(120) });
const floorBody = z.object({ identity: identitySchema });
const extendBody = z.object({
  minutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
});
const agendaCurrentBody = z.object({ itemId: identitySchema.nullable() });
const signInBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) });
const sessionPatchBody = z
  .object({
    title: z.string().trim().min(1).max(200),
    description: z.string().max(5000).nullable(),
    startsAt: instantSchema.nullable(),
    endsAt: instantSchema.nullable(),
    timeZone: z.string().max(64),
    agenda: z.array(agendaItemInputSchema.extend({ documentIds: z.array(identitySchema).max(50).optional() })).max(100),
    invitedPoints: z.array(identitySchema).max(2000),
    invitedGroups: z.array(identitySchema).max(200),
    public: z.boolean(),
  })
  .partial();

const instantQuery: JsonSchema = { type: 'string', description: 'ISO 8601 with an offset, or ms since epoch' };

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
    responses: { '200': { description: 'Up', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    tag: 'service',
    access: { kind: 'public' },
    responses: { '200': { description: 'OpenAPI 3.1', schema: { type: 'object' } } },
  },

  // Operator sign-in
  {
    method: 'post',
    path: '/api/auth/sign-in',
    summary:
      'Operator sign-in: sets the HttpOnly cookie and returns the token. Attempts per address are limited (DIEMCAU_MAX_SIGN_IN_PER_MINUTE); past the limit the wait grows with every attempt',
    tag: 'auth',
    access: { kind: 'public' },
    body: signInBody,
    errors: {
      '401': 'Wrong name or password',
      '403': 'Sent from another site, or the account is disabled',
      '429': 'Too many attempts from this address: `Retry-After` says when to try again',
      '503': 'Too many sign-ins at once: try again in a moment',
    },
    responses: {
      '200': {
        description: 'Signed in',
        schema: {
          type: 'object',
          properties: { username: { type: 'string' }, displayName: { type: 'string' }, token: { type: 'string' } },
        },
      },
    },
  },
  {
    method: 'post',
    path: '/api/auth/password',
    summary: "Changes the signed-in operator's password: every token signed in before stops working; a cookie caller gets a fresh cookie",
    tag: 'auth',
    access: { kind: 'account' },
    body: changePasswordBody,
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
    responses: {
      '200': {
        description: 'The bearer',
        schema: {
          type: 'object',
          required: ['username', 'displayName', 'role'],
          properties: {
            username: { type: 'string' },
            displayName: { type: 'string' },
            role: { type: 'string', description: 'The token role' },
            accountRole: { type: 'string', enum: accountRoleSchema.options, description: "An account's sign-in only" },
          },
        },
      },
    },
  },
  {
    method: 'post',
    path: '/api/auth/session-token',
    summary:
      "The signed-in account's token for one session (the control room's signaling socket): its name, its token role, its generation (signing out or disabling the account ends it)",
    tag: 'auth',
    access: { kind: 'account' },
    body: sessionTokenBodySchema,
    responses: {
      '201': { description: 'The token', schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } },
    },
  },

  // Operator accounts
  {
    method: 'get',
    path: '/api/accounts',
    summary: 'Operator accounts with their role and state',
    tag: 'accounts',
    access: all('accounts.manage'),
    responses: {
      '200': { description: 'Accounts', schema: { type: 'object', properties: { accounts: { type: 'array', items: ref('Account') } } } },
    },
  },
  {
    method: 'post',
    path: '/api/accounts',
    summary: 'Creates an account; without a password the server generates one. The reply is the only time the password is sent',
    tag: 'accounts',
    access: all('accounts.manage'),
    body: accountCreateSchema,
    responses: { '201': { description: 'Created', schema: accountCreatedSchema } },
    errors: { '409': 'The username is taken (in any letter case)' },
  },
  {
    method: 'get',
    path: '/api/accounts/:username',
    summary: 'One account',
    tag: 'accounts',
    access: all('accounts.manage'),
    responses: { '200': { description: 'The account', schema: ref('Account') } },
  },
  {
    method: 'patch',
    path: '/api/accounts/:username',
    summary:
      "Changes an account's role, name or state; disabling it or changing its role ends its sessions at once (tokens refused, sockets closed)",
    tag: 'accounts',
    access: all('accounts.manage'),
    body: accountPatchSchema,
    responses: { '200': { description: 'Changed', schema: ref('Account') } },
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
    responses: {
      '200': { description: 'Points', schema: { type: 'object', properties: { points: { type: 'array', items: ref('Point') } } } },
    },
  },
  {
    method: 'post',
    path: '/api/points',
    summary: 'Registers a connection point',
    tag: 'points',
    access: all('session.create'),
    body: pointInputSchema,
    responses: { '201': { description: 'Created', schema: ref('Point') } },
  },
  {
    method: 'get',
    path: '/api/points/:id',
    summary: 'One point',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'The point', schema: ref('Point') } },
  },
  {
    method: 'patch',
    path: '/api/points/:id',
    summary: 'Changes a point (`disabled: true` disables it)',
    tag: 'points',
    access: all('session.create'),
    body: pointPatchSchema,
    responses: { '200': { description: 'Changed', schema: ref('Point') } },
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
    responses: { '200': { description: 'Revoked', schema: ref('Point') } },
  },
  {
    method: 'get',
    path: '/api/groups',
    summary: 'Groups of points',
    tag: 'points',
    access: all('session.create'),
    responses: {
      '200': { description: 'Groups', schema: { type: 'object', properties: { groups: { type: 'array', items: ref('Group') } } } },
    },
  },
  {
    method: 'post',
    path: '/api/groups',
    summary: 'Creates a group',
    tag: 'points',
    access: all('session.create'),
    body: groupInputSchema,
    responses: { '201': { description: 'Created', schema: ref('Group') } },
  },
  {
    method: 'get',
    path: '/api/groups/:id',
    summary: 'One group and its members',
    tag: 'points',
    access: all('session.create'),
    responses: { '200': { description: 'The group', schema: ref('Group') } },
  },
  {
    method: 'patch',
    path: '/api/groups/:id',
    summary: 'Changes a group',
    tag: 'points',
    access: all('session.create'),
    body: groupPatchSchema,
    responses: { '200': { description: 'Changed', schema: ref('Group') } },
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
    query: { from: { schema: instantQuery }, to: { schema: instantQuery } },
    responses: {
      '200': {
        description: 'Sessions',
        schema: {
          type: 'object',
          properties: {
            sessions: {
              type: 'array',
              items: {
                allOf: [ref('SessionRecord'), { type: 'object', properties: { conflicts: { type: 'array', items: { type: 'string' } } } }],
              },
            },
          },
        },
      },
    },
  },
  {
    method: 'post',
    path: '/api/sessions',
    summary: 'Schedules a session',
    tag: 'sessions',
    access: all('session.create'),
    body: sessionInputSchema,
    responses: { '201': { description: 'Created', schema: ref('SessionRecord') } },
    errors: { '503': 'The server keeps as many sessions as it may (DIEMCAU_MAX_SESSIONS): `busy`' },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid',
    summary: 'A session and its live snapshot',
    tag: 'sessions',
    access: op('session.join'),
    responses: {
      '200': {
        description: 'The session',
        schema: {
          type: 'object',
          properties: { session: ref('SessionRecord'), snapshot: { anyOf: [ref('SessionSnapshot'), { type: 'null' }] } },
        },
      },
    },
  },
  {
    method: 'patch',
    path: '/api/sessions/:sid',
    summary: 'Changes a session (409 once ended or cancelled)',
    tag: 'sessions',
    access: op('session.create'),
    body: sessionPatchBody,
    responses: { '200': { description: 'Changed', schema: ref('SessionRecord') } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/cancel',
    summary: 'Cancels a session',
    tag: 'sessions',
    access: op('session.create'),
    responses: { '200': { description: 'Cancelled', schema: ref('SessionRecord') } },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/extend',
    summary: 'Moves the end later',
    tag: 'sessions',
    access: op('session.create'),
    body: extendBody,
    responses: { '200': { description: 'Extended', schema: ref('SessionRecord') } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/invitations',
    summary: 'Invitation links of the studio and every invited point',
    tag: 'sessions',
    access: op('session.create'),
    responses: {
      '200': {
        description: 'Links',
        schema: {
          type: 'object',
          properties: {
            studio: { type: 'object', properties: { url: { type: 'string' }, expiresAt: { type: 'number' } } },
            points: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  pointId: { type: 'string' },
                  name: { type: 'string' },
                  url: { type: 'string' },
                  expiresAt: { type: 'number' },
                },
              },
            },
          },
        },
      },
    },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/invitations',
    summary: "An ad hoc invitation link for any role (a signed-in operator's link for themselves ends with their sign-in)",
    tag: 'sessions',
    access: op('session.create'),
    body: invitationBody,
    responses: {
      '201': { description: 'Link', schema: { type: 'object', properties: { token: { type: 'string' }, url: { type: 'string' } } } },
    },
  },
  {
    method: 'put',
    path: '/api/sessions/:sid/agenda/current',
    summary: 'Marks the agenda item under discussion',
    tag: 'sessions',
    access: op('agenda.control'),
    body: agendaCurrentBody,
    responses: { '200': { description: 'The session', schema: ref('SessionRecord') } },
  },
  {
    method: 'get',
    path: '/api/calendar.ics',
    summary: 'Every session as iCalendar',
    tag: 'sessions',
    access: all('schedule.view'),
    queryToken: true,
    responses: { '200': { description: 'iCalendar', contentType: 'text/calendar' } },
  },
  {
    method: 'get',
    path: '/api/calendar/public',
    summary: 'Public sessions not yet over (for the watch page)',
    tag: 'sessions',
    access: { kind: 'public' },
    responses: {
      '200': {
        description: 'Sessions',
        schema: { type: 'object', properties: { sessions: { type: 'array', items: { type: 'object' } } } },
      },
    },
  },
  {
    method: 'get',
    path: '/api/calendar/public.ics',
    summary: 'Public sessions as iCalendar',
    tag: 'sessions',
    access: { kind: 'public' },
    responses: { '200': { description: 'iCalendar', contentType: 'text/calendar' } },
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
    body: floorBody,
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
    responses: {
      '200': { description: 'Documents', schema: { type: 'object', properties: { documents: { type: 'array', items: ref('Document') } } } },
    },
  },
  {
    method: 'post',
    path: '/api/sessions/:sid/documents',
    summary: 'Attaches a PDF',
    tag: 'documents',
    access: op('session.create'),
    query: { filename: { schema: { type: 'string' }, required: true }, agendaItem: { schema: { type: 'string' } } },
    body: { contentType: 'application/pdf', schema: { type: 'string', contentMediaType: 'application/pdf' } },
    responses: { '201': { description: 'Stored', schema: ref('Document') } },
  },
  {
    method: 'get',
    path: '/api/documents/:id',
    summary: 'The PDF (an operator, or any token for its session)',
    tag: 'documents',
    access: { kind: 'token' },
    queryToken: true,
    responses: { '200': { description: 'The PDF', contentType: 'application/pdf' } },
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
    responses: { '200': { description: 'Roll call (at most 1.5 s old)', schema: rollCallSchema } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/attendance',
    summary: 'Attendance report',
    tag: 'monitoring',
    access: op('session.monitor'),
    responses: { '200': { description: 'Report', schema: attendanceReportSchema } },
  },
  {
    method: 'get',
    path: '/api/sessions/:sid/attendance.csv',
    summary: 'Attendance as CSV (UTF-8 with BOM; times in the session time zone)',
    tag: 'monitoring',
    access: op('session.monitor'),
    responses: {
      '200': {
        description: 'identity,name,first_joined,last_left,minutes_present,intervals,avg_packet_loss,avg_rtt_ms',
        contentType: 'text/csv',
      },
    },
  },
  {
    method: 'get',
    path: '/api/audit',
    summary: 'Audit log, newest last',
    tag: 'monitoring',
    access: all('session.monitor'),
    query: { sessionId: { schema: { type: 'string' } }, limit: { schema: { type: 'integer', minimum: 1, maximum: 10000, default: 200 } } },
    responses: {
      '200': { description: 'Entries', schema: { type: 'object', properties: { entries: { type: 'array', items: ref('AuditEntry') } } } },
    },
  },
  {
    method: 'get',
    path: '/api/webhooks',
    summary: 'Webhook subscriptions (secrets are not returned)',
    tag: 'webhooks',
    access: all('webhooks.manage'),
    responses: {
      '200': {
        description: 'Subscriptions',
        schema: { type: 'object', properties: { webhooks: { type: 'array', items: ref('Webhook') } } },
      },
    },
  },
  {
    method: 'post',
    path: '/api/webhooks',
    summary: 'Subscribes a URL to events',
    tag: 'webhooks',
    access: all('webhooks.manage'),
    body: webhookInputSchema,
    responses: { '201': { description: 'Created', schema: ref('Webhook') } },
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
    responses: {
      '200': {
        description: 'Recordings, newest first',
        schema: { type: 'object', properties: { recordings: { type: 'array', items: ref('Recording') } } },
      },
    },
  },
  {
    method: 'get',
    path: '/hls/:sid/:file',
    summary:
      'Live and archive HLS: playlists, segments, poster, chapters, MP4 (`?download` for an attachment); a restricted session needs a token for it',
    tag: 'recordings',
    access: { kind: 'public' },
    queryToken: true,
    responses: { '200': { description: 'The file', contentType: 'application/octet-stream' } },
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

function jsonSchema(schema: z.ZodType | JsonSchema): JsonSchema {
  if (!(schema instanceof z.ZodType)) return schema;
  const { $schema: _drop, ...out } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return out;
}

function operation(route: RouteDoc): JsonSchema {
  const params: JsonSchema[] = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  for (const [name, q] of Object.entries(route.query ?? {})) {
    params.push({
      name,
      in: 'query',
      required: q.required ?? false,
      schema: q.schema,
      ...(q.description ? { description: q.description } : {}),
    });
  }
  const roles = rolesFor(route.access);
  const secured = route.access.kind !== 'public';
  const security: JsonSchema[] = [{ bearerToken: [] }, { operatorCookie: [] }];
  if (route.queryToken) security.push({ queryToken: [] });
  if (!secured) security.push({});

  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(route.responses)) {
    responses[status] = r.schema
      ? { description: r.description, content: { 'application/json': { schema: jsonSchema(r.schema as z.ZodType | JsonSchema) } } }
      : r.contentType
        ? { description: r.description, content: { [r.contentType]: { schema: { type: 'string' } } } }
        : { description: r.description };
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

  let requestBody: JsonSchema | undefined;
  if (route.body) {
    requestBody =
      route.body instanceof z.ZodType
        ? { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } }
        : { required: true, content: { [route.body.contentType]: { schema: route.body.schema } } };
  }
  return {
    operationId: `${route.method}${openApiPath(route.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
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
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: jsonSchema(errorCodeSchema),
                message: { type: 'string' },
              },
            },
          },
        },
        SessionRecord: sessionRecordJson,
        SessionSnapshot: jsonSchema(sessionSnapshotSchema),
        Point: pointJson,
        Group: groupJson,
        Document: documentJson,
        Recording: recordingJson,
        AuditEntry: jsonSchema(auditEntrySchema),
        Webhook: jsonSchema(webhookSchema),
        Account: jsonSchema(accountSchema),
      },
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
