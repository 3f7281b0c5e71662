import type { Logger } from '../logger.js';
import type { Room } from '../room/Room.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { AuditEntry, AuditLog } from './AuditLog.js';

/**
 * Writes what happens in every running session to the audit log: joins and
 * departures, the floor, mutes, removals, recording, going on and off air —
 * each under the actor the Room's event names (an operator, the studio,
 * 'scheduler' or 'system').
 */
export class RoomAudit {
  constructor(
    private readonly audit: AuditLog,
    sessions: SessionRegistry,
    private readonly logger: Logger,
  ) {
    sessions.on('room', (room) => this.#attach(room));
  }

  /** Records an entry now, never throwing (a full disk must not stop a session). */
  record(entry: Omit<AuditEntry, 'at'>): void {
    void this.audit
      .record(entry)
      .catch((error) => this.logger.error({ err: error, action: entry.action }, 'could not write the audit log'));
  }

  #attach(room: Room): void {
    const sessionId = room.id;
    const act = (actor: string, action: string, target: string | undefined, details?: Record<string, unknown>) =>
      this.record({ actor, action, sessionId, target, details });

    const roles = new Map<string, { role: string; name: string }>();
    const present = new Set<string>();
    room.on('presence', (identity, isPresent) => {
      if (isPresent) {
        const peer = room.peer(identity);
        if (peer) roles.set(identity, { role: peer.role, name: peer.name });
        present.add(identity);
        this.record({ actor: identity, action: 'peer.join', sessionId, target: identity, details: roles.get(identity) });
      } else {
        present.delete(identity);
        this.record({ actor: identity, action: 'peer.leave', sessionId, target: identity, details: roles.get(identity) });
      }
    });
    // Closing the room sends everyone away without a presence event each.
    room.once('close', () => {
      const reason = room.status === 'ended' ? 'session ended' : 'session closed';
      for (const identity of present) {
        this.record({ actor: identity, action: 'peer.leave', sessionId, target: identity, details: { ...roles.get(identity), reason } });
      }
      present.clear();
    });

    room.on('floor', (identity, previous, actor) => {
      if (identity) act(actor, 'floor.give', identity, previous ? { previous } : undefined);
      else act(actor, 'floor.take', previous ?? undefined);
    });
    // Which of the hall's studios (browser, encoder) is the program: the operator's choice, or back to the first to join (null).
    room.on('studio', (identity, actor) => act(actor, 'studio.choose', identity ?? undefined));
    room.on('mute', (identity, muted, actor) => act(actor, muted ? 'peer.mute' : 'peer.unmute', identity));
    room.on('removed', (identity, actor) => act(actor, 'peer.remove', identity));
    room.on('status', (status, actor) => act(actor, status === 'live' ? 'session.start' : 'session.end', sessionId));
    room.on('recording', (recording, actor) => act(actor, recording ? 'recording.start' : 'recording.stop', sessionId));
  }
}
