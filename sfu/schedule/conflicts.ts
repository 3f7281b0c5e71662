import type { SessionRecord } from '../../protocol/index.js';

/** A session without an end is taken to last this long when looking for clashes. */
export const nominalDurationMs = 60 * 60 * 1000;

export interface ConflictOptions {
  /** The registered points a group has now. */
  membersOf: (groupId: string) => readonly string[];
}

/** Sessions that no longer take place: their points are free, even for the rest of a slot ended early. */
const over = (s: SessionRecord) => s.status === 'cancelled' || s.status === 'ended';

/**
 * For each session, the other sessions on air or still to come (neither
 * cancelled nor ended) whose time overlaps and that invite a same point
 * (directly or through a group) or a same group. Sessions without a start
 * time (opened by hand) clash with nothing.
 */
export function findConflicts(sessions: readonly SessionRecord[], { membersOf }: ConflictOptions): Map<string, string[]> {
  const timed = sessions
    .filter((s) => !over(s) && s.startsAt !== undefined)
    .map((s) => {
      const points = new Set(s.invitedPoints);
      for (const g of s.invitedGroups) for (const p of membersOf(g)) points.add(p);
      return { s, start: s.startsAt!, end: s.endsAt ?? s.startsAt! + nominalDurationMs, points, groups: new Set(s.invitedGroups) };
    })
    .sort((a, b) => a.start - b.start);
  const out = new Map<string, string[]>(sessions.map((s) => [s.id, []]));
  for (let i = 0; i < timed.length; i++) {
    const a = timed[i];
    for (let j = i + 1; j < timed.length; j++) {
      const b = timed[j];
      if (b.start >= a.end) break; // sorted by start: the rest start later still
      const shared = [...a.points].some((p) => b.points.has(p)) || [...a.groups].some((g) => b.groups.has(g));
      if (!shared) continue;
      out.get(a.s.id)!.push(b.s.id);
      out.get(b.s.id)!.push(a.s.id);
    }
  }
  return out;
}
