import type { Role, TokenClaims } from '../../protocol/index.js';

/** Someone present in a session, as far as counting them goes (a Peer is one). */
export interface Presence {
  role: Role;
  /** Joined under a console account: the control room of an admin, an operator or an observer. */
  staff: boolean;
}

/**
 * Whether someone present is a participant of the session — a row of the
 * roll call, intervals in the attendance and its CSV: the studio, the points
 * and the members invited to watch are; the control room is not. Operators
 * run the session, and an observer's account joins as a viewer only so that
 * it can watch the program: staff watching is not a member attending.
 */
export function countsAsParticipant(presence: Presence): boolean {
  return presence.role !== 'operator' && !presence.staff;
}

/**
 * Whether a token is a console account's own (the sign-in's generation is on
 * it: the control room's session token), rather than an invitation minted
 * for a studio, a point or a member.
 */
export function isStaffToken(claims: Pick<TokenClaims, 'gen'>): boolean {
  return claims.gen !== undefined;
}
