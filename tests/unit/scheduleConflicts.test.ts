/**
 * Clashes in the schedule, as the operator console shows them: two sessions
 * clash when their times overlap and they invite a same connection point
 * (directly or through its district group) or a same group. What no longer
 * takes place — cancelled or ended — clashes with nothing.
 */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../protocol/index.js';
import { findConflicts } from '../../sfu/schedule/conflicts.js';
import { sessionRecord } from '../helpers/sessionRecord.js';

/** A time on 2 March 2031 in the province (Asia/Ho_Chi_Minh, UTC+7, no daylight saving). */
const at = (hhmm: string) => Date.parse(`2031-03-02T${hhmm}:00+07:00`);

function session(id: string, over: Partial<SessionRecord>): SessionRecord {
  return sessionRecord(id, at('06:00'), over);
}

const groups: Record<string, string[]> = { 'huyen-a': ['xa-1', 'xa-2'], 'huyen-b': ['xa-3'], 'huyen-moi': [] };
const conflicts = (sessions: SessionRecord[], members = groups) =>
  Object.fromEntries(findConflicts(sessions, { membersOf: (g) => members[g] ?? [] }));

describe('clashes between sessions', () => {
  it('reports two overlapping sessions that invite the same point, each on the other', () => {
    const result = conflicts([
      session('hop-sang', { startsAt: at('08:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'] }),
      session('tap-huan', { startsAt: at('09:30'), endsAt: at('11:00'), invitedPoints: ['xa-4', 'xa-1'] }),
    ]);
    expect(result).toEqual({ 'hop-sang': ['tap-huan'], 'tap-huan': ['hop-sang'] });
  });

  it('finds a point invited through its district group, as the group’s members are now', () => {
    const sessions = [
      session('huyen-a-hop', { startsAt: at('08:00'), endsAt: at('10:00'), invitedGroups: ['huyen-a'] }),
      session('xa-3-hop', { startsAt: at('09:00'), endsAt: at('10:00'), invitedPoints: ['xa-3'] }),
    ];
    expect(conflicts(sessions)['xa-3-hop']).toEqual([]);
    // xa-3 joins huyện A: the clash shows at once.
    expect(conflicts(sessions, { ...groups, 'huyen-a': ['xa-1', 'xa-2', 'xa-3'] })['xa-3-hop']).toEqual(['huyen-a-hop']);
  });

  it('reports two sessions inviting the same group, even one without members yet', () => {
    const result = conflicts([
      session('a', { startsAt: at('08:00'), endsAt: at('09:00'), invitedGroups: ['huyen-moi'] }),
      session('b', { startsAt: at('08:30'), endsAt: at('09:30'), invitedGroups: ['huyen-moi', 'huyen-b'] }),
    ]);
    expect(result.a).toEqual(['b']);
  });

  it('lets a session start the minute the one before it ends: back to back is no clash', () => {
    const result = conflicts([
      session('sang', { startsAt: at('08:00'), endsAt: at('11:00'), invitedPoints: ['xa-1'] }),
      session('trua', { startsAt: at('11:00'), endsAt: at('12:00'), invitedPoints: ['xa-1'] }),
    ]);
    expect(result).toEqual({ sang: [], trua: [] });
  });

  it('does not report sessions at the same time with different points', () => {
    const result = conflicts([
      session('huyen-a-hop', { startsAt: at('08:00'), endsAt: at('10:00'), invitedGroups: ['huyen-a'] }),
      session('huyen-b-hop', { startsAt: at('08:00'), endsAt: at('10:00'), invitedGroups: ['huyen-b'], invitedPoints: ['xa-4'] }),
    ]);
    expect(result).toEqual({ 'huyen-a-hop': [], 'huyen-b-hop': [] });
  });

  it('compares instants, whatever time zone each session was planned in', () => {
    const result = conflicts([
      session('tinh', { startsAt: at('08:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'] }),
      // 02:30 UTC is 09:30 in the province.
      session('utc', {
        startsAt: Date.parse('2031-03-02T02:30:00Z'),
        endsAt: Date.parse('2031-03-02T03:00:00Z'),
        timeZone: 'UTC',
        invitedPoints: ['xa-1'],
      }),
      // 12:00 in Tokyo is 10:00 in the province: right after, no clash.
      session('tokyo', {
        startsAt: Date.parse('2031-03-02T12:00:00+09:00'),
        endsAt: at('11:00'),
        timeZone: 'Asia/Tokyo',
        invitedPoints: ['xa-1'],
      }),
    ]);
    expect(result).toEqual({ tinh: ['utc'], utc: ['tinh'], tokyo: [] });
  });

  it('never reports a cancelled session', () => {
    const result = conflicts([
      session('hop', { startsAt: at('08:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'] }),
      session('huy', { startsAt: at('08:00'), endsAt: at('12:00'), invitedPoints: ['xa-1'], status: 'cancelled' }),
    ]);
    expect(result).toEqual({ hop: [], huy: [] });
  });

  it('never reports an ended session: a session closed early frees its points for the rest of its slot', () => {
    const result = conflicts([
      // Planned until 10:00, closed by the operator at 09:20.
      session('ket-thuc-som', {
        startsAt: at('08:00'),
        endsAt: at('10:00'),
        invitedPoints: ['xa-1'],
        status: 'ended',
        updatedAt: at('09:20'),
      }),
      session('tiep-theo', { startsAt: at('09:30'), endsAt: at('11:00'), invitedPoints: ['xa-1'] }),
    ]);
    expect(result).toEqual({ 'ket-thuc-som': [], 'tiep-theo': [] });
  });

  it('counts sessions on air or waiting to start like scheduled ones', () => {
    const result = conflicts([
      session('dang-phat', { startsAt: at('08:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'], status: 'live' }),
      session('cho', { startsAt: at('09:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'], status: 'waiting' }),
    ]);
    expect(result).toEqual({ 'dang-phat': ['cho'], cho: ['dang-phat'] });
  });

  it('takes a session without an end to last an hour', () => {
    const open = session('khong-gio-ket-thuc', { startsAt: at('08:00'), invitedPoints: ['xa-1'] });
    expect(conflicts([open, session('b', { startsAt: at('08:59'), endsAt: at('09:30'), invitedPoints: ['xa-1'] })]).b).toEqual([
      'khong-gio-ket-thuc',
    ]);
    expect(conflicts([open, session('b', { startsAt: at('09:00'), endsAt: at('09:30'), invitedPoints: ['xa-1'] })]).b).toEqual([]);
  });

  it('never reports a session opened by hand without a start time, and still lists it', () => {
    const result = conflicts([
      session('mo-tay', { invitedPoints: ['xa-1'], status: 'live' }),
      session('hop', { startsAt: at('08:00'), endsAt: at('10:00'), invitedPoints: ['xa-1'] }),
    ]);
    expect(result).toEqual({ 'mo-tay': [], hop: [] });
  });

  it('lists every clash of a long session in start order, past sessions in between that share nothing with it', () => {
    const result = conflicts([
      session('ca-ngay', { startsAt: at('08:00'), endsAt: at('17:00'), invitedPoints: ['xa-1', 'xa-3'] }),
      session('chieu', { startsAt: at('14:00'), endsAt: at('15:00'), invitedPoints: ['xa-3'] }),
      session('khac', { startsAt: at('09:00'), endsAt: at('10:00'), invitedPoints: ['xa-4'] }),
      session('sang', { startsAt: at('08:30'), endsAt: at('09:00'), invitedGroups: ['huyen-a'] }),
    ]);
    expect(result).toEqual({ 'ca-ngay': ['sang', 'chieu'], chieu: ['ca-ngay'], khac: [], sang: ['ca-ngay'] });
  });
});
