import { describe, expect, it } from 'vitest';
import type { AttendanceReport, RollCallQuality, RollCallRow } from '../../protocol/index.js';
import { attendanceCsv, csvField, formatInTimeZone } from '../../sfu/rollcall/Attendance.js';
import { compareRows, gradeOf } from '../../sfu/rollcall/RollCall.js';

const q = (over: Partial<RollCallQuality>): RollCallQuality => ({
  bitrateIn: 500_000,
  bitrateOut: 800_000,
  packetLoss: 0,
  rttMs: 40,
  layer: null,
  score: 10,
  ...over,
});

describe('link grades', () => {
  it('follows the thresholds: poor > 5 % / 400 ms / score < 5, fair > 1 % / 200 ms / < 8', () => {
    expect(gradeOf(q({}))).toBe('good');
    expect(gradeOf(q({ packetLoss: 0.01 }))).toBe('good');
    expect(gradeOf(q({ packetLoss: 0.011 }))).toBe('fair');
    expect(gradeOf(q({ packetLoss: 0.051 }))).toBe('poor');
    expect(gradeOf(q({ rttMs: 201 }))).toBe('fair');
    expect(gradeOf(q({ rttMs: 401 }))).toBe('poor');
    expect(gradeOf(q({ score: 7 }))).toBe('fair');
    expect(gradeOf(q({ score: 4 }))).toBe('poor');
    expect(gradeOf(q({ packetLoss: null, rttMs: null, score: 9 }))).toBe('good');
  });

  it('is unknown without figures', () => {
    expect(gradeOf(null)).toBe('unknown');
    expect(gradeOf(q({ packetLoss: null, rttMs: null, score: null }))).toBe('unknown');
  });
});

describe('roll call order', () => {
  const r = (identity: string, name: string, state: RollCallRow['state'], grade: RollCallRow['grade']): RollCallRow => ({
    identity,
    name,
    role: 'point',
    invited: true,
    state,
    since: 0,
    handRaised: false,
    hasFloor: false,
    muted: false,
    receiveMode: state === 'present' ? 'auto' : null,
    quality: null,
    grade,
  });

  it('puts poor links first, then fair, then absent or gone, then the rest, each by Vietnamese name', () => {
    const rows = [
      r('a', 'Xã Ân Phú', 'present', 'good'),
      r('b', 'Xã Bình An', 'absent', 'unknown'),
      r('c', 'Xã Cát Tiên', 'present', 'fair'),
      r('d', 'Xã Đa Kia', 'present', 'poor'),
      r('e', 'Xã An Lạc', 'left', 'unknown'),
      r('f', 'Xã Ấp Bắc', 'present', 'unknown'),
      r('g', 'Phường 10', 'present', 'good'),
      r('h', 'Phường 9', 'present', 'good'),
    ];
    expect(rows.sort(compareRows).map((x) => x.identity)).toEqual(['d', 'c', 'e', 'b', 'h', 'g', 'a', 'f']);
  });
});

describe('attendance times and CSV', () => {
  it('writes ISO 8601 with the offset of the session time zone', () => {
    const t = Date.parse('2026-12-01T01:05:03.400Z');
    expect(formatInTimeZone(t, 'Asia/Ho_Chi_Minh')).toBe('2026-12-01T08:05:03+07:00');
    expect(formatInTimeZone(t, 'UTC')).toBe('2026-12-01T01:05:03+00:00');
    expect(formatInTimeZone(Date.parse('2026-07-01T00:30:00Z'), 'Europe/Paris')).toBe('2026-07-01T02:30:00+02:00');
    expect(formatInTimeZone(Date.parse('2026-12-31T23:30:00Z'), 'America/St_Johns')).toBe('2026-12-31T20:00:00-03:30');
    expect(formatInTimeZone(Date.parse('2026-12-31T17:00:00Z'), 'Asia/Ho_Chi_Minh')).toBe('2027-01-01T00:00:00+07:00');
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180)', () => {
    expect(csvField('Xã Tân Phú')).toBe('Xã Tân Phú');
    expect(csvField('Xã Tân Phú, huyện A')).toBe('"Xã Tân Phú, huyện A"');
    expect(csvField('Phường "An Bình"')).toBe('"Phường ""An Bình"""');
    expect(csvField('hai\ndòng')).toBe('"hai\ndòng"');
  });

  it('lists intervals and averages, and keeps formulas out of spreadsheets', () => {
    const from = Date.parse('2026-12-01T01:00:00Z');
    const report: AttendanceReport = {
      sessionId: 's',
      title: 'Họp',
      timeZone: 'Asia/Ho_Chi_Minh',
      openedAt: from,
      closedAt: from + 3600_000,
      generatedAt: from + 3600_000,
      points: [
        {
          identity: 'tan-phu',
          name: '=HYPERLINK("x")',
          role: 'point',
          invited: true,
          present: false,
          firstJoined: from,
          lastLeft: from + 40 * 60_000,
          minutesPresent: 35,
          intervals: [
            { from, to: from + 10 * 60_000 },
            { from: from + 15 * 60_000, to: from + 40 * 60_000 },
          ],
          quality: { samples: 10, avgLoss: 0.01234, avgRttMs: 87.6, avgBitrateIn: 700_000 },
        },
      ],
    };
    const lines = attendanceCsv(report).slice(1).split('\r\n');
    expect(lines[0]).toBe('identity,name,first_joined,last_left,minutes_present,intervals,avg_packet_loss,avg_rtt_ms');
    expect(lines[1]).toBe(
      'tan-phu,"\'=HYPERLINK(""x"")",2026-12-01T08:00:00+07:00,2026-12-01T08:40:00+07:00,35.0,' +
        '2026-12-01T08:00:00+07:00/2026-12-01T08:10:00+07:00 2026-12-01T08:15:00+07:00/2026-12-01T08:40:00+07:00,0.0123,88',
    );
    expect(lines[2]).toBe('');
  });
});
