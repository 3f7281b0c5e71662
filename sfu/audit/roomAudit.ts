import type { Logger } from '../logger.js';
import type { Room } from '../room/Room.js';
import type { SessionRecord, SessionRegistry } from '../room/SessionRegistry.js';
import type { AuditEntry, AuditLog } from './AuditLog.js';

/** Who acted, when a Room event does not say: operators act over signaling without naming themselves there. */
export const unknownOperator = 'operator';

/**
 * Writes what happens in every running session to the audit log: joins and
 * departures, the floor, mutes, recording, going on and off air.
 *
 * A Room's events do not carry who caused them. An HTTP route that knows its
 * operator calls `attribute()` just before acting, and the matching event
 * is recorded under that name; otherwise the actor is 'operator' (or
 * 'system' for an automatic recording start).
 */
export class RoomAudit {
  readonly #hints = new Map<string, { actor: string; expires: number }>();

  constructor(
    private readonly audit: AuditLog,
    sessions: SessionRegistry,
    private readonly logger: Logger,
    private readonly options: { autoRecord: boolean },
  ) {
    sessions.on('room', (room, record) => this.#attach(room, record));
  }

  /** The next `action` on `target` in the session is `actor`'s doing (for 5 s). */
  attribute(sessionId: string, action: string, target: string | undefined, actor: string): void {
    // Hints whose action failed (no event came) are dropped once stale.
    if (this.#hints.size > 64) {
      const now = Date.now();
      for (const [k, hint] of this.#hints) if (hint.expires < now) this.#hints.delete(k);
    }
    this.#hints.set(key(sessionId, action, target), { actor, expires: Date.now() + 5000 });
  }

  /** Records an entry now, never throwing (a full disk must not stop a session). */
  record(entry: Omit<AuditEntry, 'at'>): void {
    void this.audit.record(entry).catch((error) => this.logger.error({ err: error, action: entry.action }, 'could not write the audit log'));
  }

  #actorFor(sessionId: string, action: string, target: string | undefined, fallback: string): string {
    const k = key(sessionId, action, target);
    const hint = this.#hints.get(k);
    if (!hint) return fallback;
    this.#hints.delete(k);
    return hint.expires >= Date.now() ? hint.actor : fallback;
  }

  #attach(room: Room, record: SessionRecord): void {
    const sessionId = room.id;
    const operatorAction = (action: string, target: string | undefined, details?: Record<string, unknown>) =>
      this.record({ actor: this.#actorFor(sessionId, action, target, unknownOperator), action, sessionId, target, details });

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

    room.on('floor', (identity, previous) => {
      if (identity) operatorAction('floor.give', identity, previous ? { previous } : undefined);
      else operatorAction('floor.take', previous ?? undefined);
    });

    room.on('mute', (identity, muted) => operatorAction(muted ? 'peer.mute' : 'peer.unmute', identity));

    // A restored session was already on air: no second "started".
    let status: string = record.status === 'live' ? 'live' : 'waiting';
    let recording = room.recording;
    let recordedBefore = false;
    room.on('snapshot', (snapshot) => {
      if (snapshot.status !== status) {
        status = snapshot.status;
        if (status === 'live') operatorAction('session.start', sessionId);
        if (status === 'ended') {
          operatorAction('session.end', sessionId);
          // The recorder finalizes the archive when the session ends.
          if (recording) {
            recording = false;
            this.record({ actor: 'system', action: 'recording.stop', sessionId, target: sessionId, details: { reason: 'session ended' } });
          }
          return;
        }
      }
      if (snapshot.recording !== recording) {
        recording = snapshot.recording;
        if (recording) {
          // With automatic recording, the first start is the system's.
          const fallback = this.options.autoRecord && !recordedBefore ? 'system' : unknownOperator;
          recordedBefore = true;
          this.record({ actor: this.#actorFor(sessionId, 'recording.start', sessionId, fallback), action: 'recording.start', sessionId, target: sessionId });
        } else {
          operatorAction('recording.stop', sessionId);
        }
      }
    });
  }
}

function key(sessionId: string, action: string, target: string | undefined): string {
  return `${sessionId}\u0000${action}\u0000${target ?? ''}`;
}
