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
  ],
  // The provincial hall: the default program; always allowed to speak.
  studio: ['session.join', 'media.receive', 'media.send', 'session.goLive', 'session.end', 'stats.report', 'roster.view'],
  // A commune meeting room: sends camera and mic, heard only with the floor.
  point: ['session.join', 'media.receive', 'media.send', 'hand.raise', 'stats.report'],
  // A member watching over WebRTC: receives the program, nothing else.
  viewer: ['session.join', 'media.receive'],
};

export function can(role: Role, action: Action): boolean {
  return permissions[role].includes(action);
}

/** Roles whose audio reaches the program without being given the floor. */
export function alwaysOnAir(role: Role): boolean {
  return role === 'studio';
}
