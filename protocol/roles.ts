/**
 * Who may do what. Roles and their permissions are plain data so that the
 * server's guards, the UI's buttons and the tests all read the same table.
 */
import { z } from 'zod';

export const roleSchema = z.enum(['operator', 'studio', 'point', 'viewer']);
export type Role = z.infer<typeof roleSchema>;

export const actions = [
  'session.join',
  'media.receive',
  'media.send',
  'session.goLive',
  'session.end',
  'hand.raise',
  'floor.give',
  'floor.take',
  'peer.remove',
  'peer.mute',
  'agenda.control',
  'session.create',
  'recording.control',
  'stats.report',
  /** Roll call, attendance and the audit log. */
  'session.monitor',
  /** Subscribe other systems to events. */
  'webhooks.manage',
  /** See every participant in the session's snapshots (others see who is on air and themselves). */
  'roster.view',
  /** Read the schedule: the list of sessions and the calendar feed. */
  'schedule.view',
  /** Create, change, disable and delete operator accounts (deployment-wide: a signed-in admin only). */
  'accounts.manage',
  /** See a session's encoder addresses and secrets (RTMP, SRT), and replace a secret. */
  'ingest.manage',
  /** Run the readiness check (camera, microphone, speakers, network) from a point's own link. */
  'readiness.check',
  /** Ask a point to run its readiness check again. */
  'readiness.request',
] as const;
export type Action = (typeof actions)[number];

export const permissions: Readonly<Record<Role, readonly Action[]>> = {
  // The control room: runs the session but sends no media of its own.
  operator: [
    'session.join',
    'media.receive',
    'session.goLive',
    'session.end',
    'floor.give',
    'floor.take',
    'peer.remove',
    'peer.mute',
    'agenda.control',
    'session.create',
    'recording.control',
    'session.monitor',
    'webhooks.manage',
    'roster.view',
    'schedule.view',
    'ingest.manage',
    'readiness.request',
  ],
  // The provincial hall: the default program; always allowed to speak.
  studio: ['session.join', 'media.receive', 'media.send', 'session.goLive', 'session.end', 'stats.report', 'roster.view'],
  // A commune meeting room: sends camera and mic, heard only with the floor.
  point: ['session.join', 'media.receive', 'media.send', 'hand.raise', 'stats.report', 'readiness.check'],
  // A member watching over WebRTC: receives the program, nothing else.
  viewer: ['session.join', 'media.receive'],
};

export function can(role: Role, action: Action): boolean {
  return permissions[role].includes(action);
}

// ---- Operator accounts ---------------------------------------------------------------

/**
 * What a console account is. The per-session roles above stay what they
 * are; an account signs in with one of them as its token role (what it may
 * do inside a session) and may hold a few deployment-wide grants on top.
 */
export const accountRoleSchema = z.enum(['admin', 'operator', 'observer']);
export type AccountRole = z.infer<typeof accountRoleSchema>;

export interface AccountRoleRights {
  /** The role its sign-in token carries: what it may do in every session. */
  tokenRole: Role;
  /** Actions beyond the token role's, for the account's own sign-in (`sid: '*'`) only. */
  grants: readonly Action[];
}

export const accountRoles: Readonly<Record<AccountRole, AccountRoleRights>> = {
  // Runs sessions like an operator, and manages the accounts.
  admin: { tokenRole: 'operator', grants: ['accounts.manage'] },
  // Runs sessions: everything an operator token may, no accounts.
  operator: { tokenRole: 'operator', grants: [] },
  // Watches: in a session it is a viewer (receives the program, sends and changes nothing);
  // across sessions it reads the schedule, the roll call, attendance and the audit log.
  observer: { tokenRole: 'viewer', grants: ['session.monitor', 'schedule.view'] },
};

/** Who holds a token: its role, and for an account's sign-in the account's role. */
export interface Bearer {
  role: Role;
  accountRole?: AccountRole;
}

/** The guard every HTTP route uses: the token role's permissions, plus the account's grants. */
export function allows(bearer: Bearer, action: Action): boolean {
  return can(bearer.role, action) || (bearer.accountRole !== undefined && accountRoles[bearer.accountRole].grants.includes(action));
}

/** What a signed-in account of this role may do (the console's buttons read this). */
export function accountMay(accountRole: AccountRole, action: Action): boolean {
  return allows({ role: accountRoles[accountRole].tokenRole, accountRole }, action);
}

/** Roles whose audio reaches the program without being given the floor. */
export function alwaysOnAir(role: Role): boolean {
  return role === 'studio';
}
