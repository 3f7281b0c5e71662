/**
 * The schedule as an iCalendar feed (RFC 5545) that officials subscribe to
 * in their calendar apps: one event per session with a start, times in UTC
 * so every app shows them right in the province's zone (Asia/Ho_Chi_Minh),
 * Vietnamese text escaped and folded without breaking a character.
 */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../protocol/index.js';
import { escapeText, fold, sessionsToIcs, utc } from '../../sfu/schedule/ics.js';
import { sessionRecord } from '../helpers/sessionRecord.js';

const local = (iso: string) => Date.parse(`${iso}+07:00`);
const now = local('2031-03-01T17:00:00');

function session(id: string, over: Partial<SessionRecord>): SessionRecord {
  return sessionRecord(id, local('2031-02-20T09:15:00'), { updatedAt: local('2031-02-25T14:40:30'), ...over });
}

const ics = (sessions: SessionRecord[]) =>
  sessionsToIcs(sessions, { name: 'Lịch họp trực tuyến', publicUrl: 'https://hop.tinh.gov.vn', now });

/** The feed as a calendar app reads it: lines unfolded, then one property map per event. */
function read(text: string) {
  const lines = text
    .replace(/\r\n[ \t]/g, '')
    .split('\r\n')
    .slice(0, -1);
  const calendar: Record<string, string> = {};
  const events: Record<string, string>[] = [];
  let event: Record<string, string> | null = null;
  for (const line of lines) {
    const colon = line.indexOf(':');
    const [name, value] = [line.slice(0, colon), line.slice(colon + 1)];
    if (line === 'BEGIN:VEVENT') events.push((event = {}));
    else if (line === 'END:VEVENT') event = null;
    else if (name !== 'BEGIN' && name !== 'END') (event ?? calendar)[name] = value;
  }
  return { lines, calendar, events, byUid: new Map(events.map((e) => [e.UID, e])) };
}

describe('the calendar feed', () => {
  it('gives each session with a start an event, its times in UTC: 08:00 in the province is 01:00Z', () => {
    const { byUid } = read(ics([session('hop-sang', { startsAt: local('2031-03-02T08:00:00'), endsAt: local('2031-03-02T10:30:00') })]));
    expect(byUid.get('hop-sang@diemcau')).toMatchObject({ DTSTART: '20310302T010000Z', DTEND: '20310302T033000Z' });
  });

  it('puts an early-morning session on the previous day in UTC, as calendar apps expect', () => {
    const { byUid } = read(ics([session('som', { startsAt: local('2031-03-02T06:30:00'), endsAt: local('2031-03-02T07:00:00') })]));
    expect(byUid.get('som@diemcau')).toMatchObject({ DTSTART: '20310301T233000Z', DTEND: '20310302T000000Z' });
  });

  it('names the province’s time zone and the calendar, stamped with when it was made', () => {
    const { calendar, byUid } = read(ics([session('hop', { startsAt: local('2031-03-02T08:00:00') })]));
    expect(calendar).toMatchObject({
      VERSION: '2.0',
      METHOD: 'PUBLISH',
      'X-WR-TIMEZONE': 'Asia/Ho_Chi_Minh',
      'X-WR-CALNAME': 'Lịch họp trực tuyến',
    });
    expect(byUid.get('hop@diemcau')).toMatchObject({
      DTSTAMP: '20310301T100000Z',
      CREATED: '20310220T021500Z',
      'LAST-MODIFIED': '20310225T074030Z',
    });
  });

  it('leaves out sessions opened by hand without a start, and gives an open-ended session no end', () => {
    const { events, byUid } = read(
      ics([session('mo-tay', { status: 'live' }), session('khong-ket-thuc', { startsAt: local('2031-03-02T08:00:00') })]),
    );
    expect(events.map((e) => e.UID)).toEqual(['khong-ket-thuc@diemcau']);
    expect(byUid.get('khong-ket-thuc@diemcau')).not.toHaveProperty('DTEND');
  });

  it('keeps a cancelled session as CANCELLED, so subscribed calendars strike it out, and an ended one as CONFIRMED', () => {
    const { byUid } = read(
      ics([
        session('huy', { startsAt: local('2031-03-02T08:00:00'), status: 'cancelled' }),
        session('xong', { startsAt: local('2031-03-01T08:00:00'), status: 'ended' }),
        session('sap-toi', { startsAt: local('2031-03-03T08:00:00') }),
      ]),
    );
    expect(byUid.get('huy@diemcau')?.STATUS).toBe('CANCELLED');
    expect(byUid.get('xong@diemcau')?.STATUS).toBe('CONFIRMED');
    expect(byUid.get('sap-toi@diemcau')?.STATUS).toBe('CONFIRMED');
  });

  it('lists events by start, sessions at the same time by id, whatever order they come in', () => {
    const { events } = read(
      ics([
        session('c', { startsAt: local('2031-03-02T14:00:00') }),
        session('b', { startsAt: local('2031-03-02T08:00:00') }),
        session('a', { startsAt: local('2031-03-02T08:00:00') }),
      ]),
    );
    expect(events.map((e) => e.UID)).toEqual(['a@diemcau', 'b@diemcau', 'c@diemcau']);
  });

  it('describes the session with its text, the numbered agenda with presenters, and the link to watch it', () => {
    const { byUid } = read(
      ics([
        session('ky-hop/7', {
          startsAt: local('2031-03-02T08:00:00'),
          description: 'Kỳ họp thường lệ',
          agenda: [
            { id: 'a', title: 'Khai mạc', documentIds: [] },
            { id: 'b', title: 'Báo cáo kinh tế - xã hội', presenter: 'Sở KH-ĐT', documentIds: [] },
          ],
          public: false,
        }),
      ]),
    );
    const event = byUid.get('ky-hop/7@diemcau')!;
    expect(event.URL).toBe('https://hop.tinh.gov.vn/watch/ky-hop%2F7');
    expect(event.DESCRIPTION).toBe(
      'Kỳ họp thường lệ\\n\\n1. Khai mạc\\n2. Báo cáo kinh tế - xã hội — Sở KH-ĐT\\n\\nhttps://hop.tinh.gov.vn/watch/ky-hop%2F7',
    );
    expect(event.CLASS).toBe('PRIVATE');
  });
});

describe('iCalendar text', () => {
  it('escapes backslashes, semicolons, commas and line breaks, and drops other control characters', () => {
    expect(escapeText('Họp HĐND; kỳ 7, phiên bế mạc')).toBe('Họp HĐND\\; kỳ 7\\, phiên bế mạc');
    expect(escapeText('C:\\tai-lieu')).toBe('C:\\\\tai-lieu');
    expect(escapeText('Dòng một\r\nDòng hai\rDòng ba\nDòng bốn')).toBe('Dòng một\\nDòng hai\\nDòng ba\\nDòng bốn');
    expect(escapeText('Chuông\u0007 báo\u0000\u001b')).toBe('Chuông báo');
  });

  it('folds a line over 75 octets, never inside a character, and unfolds to the same text', () => {
    const line = `SUMMARY:${'Hội nghị tổng kết '.repeat(8)}`;
    const folded = fold(line);
    const parts = folded.split('\r\n');
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(Buffer.byteLength(part, 'utf8')).toBeLessThanOrEqual(75);
    for (const part of parts.slice(1)) expect(part.startsWith(' ')).toBe(true);
    // No character is cut: each part is valid UTF-8 on its own.
    for (const part of parts) expect(Buffer.from(part, 'utf8').toString('utf8')).toBe(part);
    expect(folded.replace(/\r\n /g, '')).toBe(line);
  });

  it('leaves a line of exactly 75 octets whole and folds one of 76', () => {
    expect(fold('x'.repeat(75))).toBe('x'.repeat(75));
    expect(fold('x'.repeat(76))).toBe(`${'x'.repeat(75)}\r\n x`);
    // A 3-octet letter that would end at octet 76 moves to the next line whole.
    expect(fold(`${'x'.repeat(73)}ệ`)).toBe(`${'x'.repeat(73)}\r\n ệ`);
  });

  it('writes an instant as UTC date and time without milliseconds', () => {
    expect(utc(local('2031-12-01T08:00:00.999'))).toBe('20311201T010000Z');
    expect(utc(Date.parse('2031-12-31T23:59:59Z'))).toBe('20311231T235959Z');
  });
});
