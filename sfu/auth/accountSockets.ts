import type { TokenClaims } from '../../protocol/index.js';

/** What ending an account's sessions needs of a signaling connection (sfu/signaling/Connection). */
export interface AccountConnection {
  readonly claims: TokenClaims;
  /** Removes its peer from the session (4403), or closes a socket that has not joined (4401). */
  revoke(reason: string): void;
}

/**
 * Closes this node's signaling sockets opened with one of the account's
 * tokens (its control room). Tokens minted by others for the same name carry
 * no generation and are not the account's. Other nodes close theirs at their
 * next heartbeat, when the token check refuses the raised generation.
 */
export function endAccountSockets(connections: Iterable<AccountConnection>, username: string, reason: string): number {
  const own = [...connections].filter((c) => c.claims.gen !== undefined && c.claims.sub === username);
  for (const connection of own) connection.revoke(reason);
  return own.length;
}
