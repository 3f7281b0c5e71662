/**
 * Where the schedule's sessions go on the calendar: which days a session
 * falls on, the hours a week must show, and side-by-side places for
 * sessions that overlap. Pure arithmetic on instants, civil days and a zone,
 * shared by the week and the month.
 */
import { isSessionOver } from '@protocol';
import type { ScheduledSession } from './api';
import { addDays, dayMs, dayStart, fmtTime, minuteOfDay, type Day } from './time';

const hour = 3600_000;

/** A clash still worth acting on (not for a session that is over). */
export const clash = (s: ScheduledSession) => s.conflicts.length > 0 && !isSessionOver(s.status);

/** A session without an end is drawn an hour long. */
const endOf = (s: ScheduledSession) => s.endsAt ?? (s.startsAt ?? 0) + hour;

/** The timed sessions that touch a day, earliest first (one running past midnight shows on both days). */
export function sessionsOn(sessions: ScheduledSession[], day: Day, zone: string): ScheduledSession[] {
  const from = dayStart(day, zone);
  const to = dayStart(addDays(day, 1), zone);
  return sessions.filter((s) => s.startsAt !== undefined && s.startsAt < to && endOf(s) > from).sort((a, b) => a.startsAt! - b.startsAt!);
}

/** Hours shown in a week: office hours, widened to fit every session of the week. */
export function weekHours(sessions: ScheduledSession[], days: Day[], zone: string): { first: number; last: number } {
  let first = 6;
  let last = 21;
  for (const day of days) {
    const from = dayStart(day, zone);
    for (const s of sessionsOn(sessions, day, zone)) {
      const a = Math.max(s.startsAt!, from);
      const b = Math.min(endOf(s), from + dayMs);
      first = Math.min(first, Math.floor(minuteOfDay(a, zone) / 60));
      last = Math.max(last, b >= from + dayMs ? 24 : Math.ceil(minuteOfDay(b, zone) / 60));
    }
  }
  return { first, last: Math.min(24, last) };
}

/** A session's place in a day column: pixels from the first hour shown, and a share of the width. */
export interface Block {
  session: ScheduledSession;
  top: number;
  height: number;
  /** Percent of the column. */
  left: number;
  width: number;
}

/** A day's blocks, side by side where they overlap. */
export function dayBlocks(sessions: ScheduledSession[], day: Day, zone: string, firstHour: number, pxPerHour: number): Block[] {
  const from = dayStart(day, zone);
  const to = from + dayMs;
  const list = sessionsOn(sessions, day, zone).map((s) => {
    const a = Math.max(s.startsAt!, from);
    const b = Math.min(endOf(s), to);
    const startMin = (a - from) / 60_000;
    // A short session stays tall enough to read and to click.
    const endMin = Math.max(startMin + 20, (b - from) / 60_000);
    return { session: s, startMin, endMin, lane: 0, lanes: 1 };
  });
  // Greedy lanes within clusters of overlapping sessions.
  let cluster: typeof list = [];
  let clusterEnd = -1;
  const flush = () => {
    const lanesEnd: number[] = [];
    for (const item of cluster) {
      let lane = lanesEnd.findIndex((end) => end <= item.startMin);
      if (lane < 0) lane = lanesEnd.length;
      lanesEnd[lane] = item.endMin;
      item.lane = lane;
    }
    for (const item of cluster) item.lanes = lanesEnd.length;
    cluster = [];
  };
  for (const item of list) {
    if (item.startMin >= clusterEnd) flush();
    cluster.push(item);
    clusterEnd = Math.max(clusterEnd, item.endMin);
  }
  flush();
  const base = firstHour * 60;
  return list.map((i) => ({
    session: i.session,
    top: ((i.startMin - base) / 60) * pxPerHour,
    height: ((i.endMin - i.startMin) / 60) * pxPerHour - 2,
    left: (i.lane / i.lanes) * 100,
    width: 100 / i.lanes,
  }));
}

/** "08:00–09:30", or the start alone when the session has no end. */
export function timeRange(s: ScheduledSession, locale: string, zone: string): string {
  const start = fmtTime(s.startsAt!, locale, zone);
  return s.endsAt !== undefined ? `${start}–${fmtTime(s.endsAt, locale, zone)}` : start;
}
