/**
 * The schedule as iCalendar (RFC 5545), written by hand: CRLF line ends,
 * lines folded at 75 octets (never inside a UTF-8 character), text escaped,
 * times in UTC ('Z').
 */
import { defaultTimeZone, type SessionRecord } from '../../protocol/index.js';

export interface CalendarOptions {
  /** Calendar name shown by the subscribing application. */
  name: string;
  /** Base URL of the web app, for each event's link. */
  publicUrl: string;
  /** When the file was produced (DTSTAMP); Date.now() by default. */
  now?: number;
}

/** A calendar of the sessions that have a start time. */
export function sessionsToIcs(sessions: readonly SessionRecord[], options: CalendarOptions): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Diemcau//Schedule//VI',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${escapeText(options.name)}`,
    `X-WR-TIMEZONE:${defaultTimeZone}`,
  ];
  const stamp = utc(options.now ?? Date.now());
  const timed = sessions.filter((s) => s.startsAt !== undefined).sort((a, b) => a.startsAt! - b.startsAt! || a.id.localeCompare(b.id));
  for (const s of timed) {
    const url = `${options.publicUrl}/watch/${encodeURIComponent(s.id)}`;
    const description = [
      s.description?.trim(),
      s.agenda.length
        ? s.agenda.map((item, i) => `${i + 1}. ${item.title}${item.presenter ? ` — ${item.presenter}` : ''}`).join('\n')
        : undefined,
      url,
    ]
      .filter(Boolean)
      .join('\n\n');
    lines.push(
      'BEGIN:VEVENT',
      `UID:${s.id}@diemcau`,
      `DTSTAMP:${stamp}`,
      `DTSTART:${utc(s.startsAt!)}`,
      ...(s.endsAt !== undefined ? [`DTEND:${utc(s.endsAt)}`] : []),
      `SUMMARY:${escapeText(s.title)}`,
      `DESCRIPTION:${escapeText(description)}`,
      `URL:${url}`,
      `STATUS:${s.status === 'cancelled' ? 'CANCELLED' : 'CONFIRMED'}`,
      `CLASS:${s.public ? 'PUBLIC' : 'PRIVATE'}`,
      `CREATED:${utc(s.createdAt)}`,
      `LAST-MODIFIED:${utc(s.updatedAt)}`,
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(fold).join('\r\n') + '\r\n';
}

/** 20261201T010000Z */
export function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** TEXT value escaping: backslash, semicolon, comma, newline; other control characters dropped. */
export function escapeText(value: string): string {
  return (
    value
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
      .replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '')
      .replace(/\\/g, '\\\\')
      .replace(/;/g, '\\;')
      .replace(/,/g, '\\,')
      .replace(/\n/g, '\\n')
  );
}

/** Folds a content line: at most 75 octets per line, continuation lines start with a space. */
export function fold(line: string): string {
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  let limit = 75;
  for (const ch of line) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (octets + size > limit) {
      parts.push(current);
      current = '';
      octets = 0;
      limit = 74; // the leading space counts
    }
    current += ch;
    octets += size;
  }
  parts.push(current);
  return parts.join('\r\n ');
}
