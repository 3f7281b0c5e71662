import type { RollCallRow, SessionSnapshot } from '@protocol';

/** A participant as the control room shows it: the roll call's row, with what the live session says now. */
export interface ParticipantRow extends RollCallRow {
  /** What the participant sends now; null when the live session does not list it (absent, left, or not shown to this account). */
  sending: { audio: boolean; video: boolean } | null;
}

/**
 * The roll call (polled: link figures, who left, who never came) with the
 * control room's live snapshot laid over it: hands, the floor, mutes and who
 * sends change on screen the moment the server says so, not at the next
 * poll. Only participants the snapshot lists are overlaid — an observer's
 * lists little more than who is on air — and nobody is taken for gone for
 * being missing from it: the roll call says who left.
 */
export function withLiveState(rows: RollCallRow[], snapshot: SessionSnapshot | null): ParticipantRow[] {
  const live = new Map((snapshot?.peers ?? []).map((p) => [p.identity, p]));
  return rows.map((row) => {
    const peer = live.get(row.identity);
    if (!snapshot || !peer) return { ...row, sending: null };
    return {
      ...row,
      state: 'present',
      since: row.state === 'present' ? row.since : peer.joinedAt,
      handRaised: peer.handRaised,
      hasFloor: snapshot.floor === peer.identity,
      muted: peer.muted,
      receiveMode: peer.receiveMode,
      sending: peer.sending,
    };
  });
}
