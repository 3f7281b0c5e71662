import type { SessionRecord } from '../../protocol/index.js';

/**
 * What the schedule asks of one session at an instant:
 * - `go-on-air`: its start has come and the operator let the scheduler put it on air;
 * - `open-pre-show`: its start has come, but on air waits for the studio or an
 *   operator — the room opens so points can join and check, viewers read
 *   "Sắp bắt đầu", and nothing is broadcast or recorded;
 * - `end`: its end has come while it is on air or open in pre-show;
 * - `mark-ended`: its whole slot passed while nobody opened it (the server was down);
 * - null: nothing to do.
 */
export type ScheduleAction = 'go-on-air' | 'open-pre-show' | 'end' | 'mark-ended' | null;

export function scheduleAction(record: Pick<SessionRecord, 'status' | 'startsAt' | 'endsAt' | 'autoOnAir'>, now: number): ScheduleAction {
  const due = record.startsAt !== undefined && record.startsAt <= now;
  const over = record.endsAt !== undefined && record.endsAt <= now;
  switch (record.status) {
    case 'scheduled':
      if (over) return 'mark-ended';
      if (!due) return null;
      return record.autoOnAir ? 'go-on-air' : 'open-pre-show';
    case 'waiting':
      // An ad hoc session (no start) waits for someone to open it, whatever the clock says.
      if (record.startsAt === undefined) return null;
      if (over) return 'end';
      return due && record.autoOnAir ? 'go-on-air' : null;
    case 'live':
      return over ? 'end' : null;
    default:
      return null;
  }
}
