import { can, type Role, type SessionSnapshot } from '../../protocol/index.js';

/**
 * The snapshot one participant receives. The studio and the control room see
 * everyone; a point or a viewer sees the session's state, who is on air or
 * holds the floor, and itself — all its page shows. Sending everyone the whole
 * roster would cost every join N messages of N entries: N² bytes, a gigabyte
 * for a few hundred points.
 */
export function snapshotFor(full: SessionSnapshot, viewer: { identity: string; role: Role }): SessionSnapshot {
  if (can(viewer.role, 'roster.view')) return full;
  const relevant = new Set([viewer.identity, full.programSource, full.floor, full.studio]);
  return {
    ...full,
    handsRaised: full.handsRaised.filter((identity) => identity === viewer.identity),
    peers: full.peers.filter((peer) => relevant.has(peer.identity)),
  };
}
