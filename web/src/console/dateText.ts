/**
 * Dates and times as the console writes them, whatever the browser's own
 * language: day/month/year and a 24-hour clock, as Vietnam (and the English
 * console, in British form) writes them. A browser's date picker follows the
 * browser's locale (mm/dd/yyyy, AM/PM on an English Windows) and confused
 * operators; these are read and written by the page itself.
 */

/** "2026-12-01" → "01/12/2026". */
export function dateText(isoDate: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : '';
}

/** "1/12/2026" or "01/12/2026" (also with - or .) → "2026-12-01"; null for anything that is not a real day. */
export function parseDateText(text: string): string | null {
  const m = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(text);
  if (!m) return null;
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || year < 1970 || year > 9999) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** "8:05", "08:05" or "8h05" → "08:05"; null for an hour past 23 or a minute past 59. */
export function parseTimeText(text: string): string | null {
  const m = /^\s*(\d{1,2})\s*[:hH.]\s*(\d{2})\s*$/.exec(text);
  if (!m) return null;
  const [hour, minute] = [Number(m[1]), Number(m[2])];
  if (hour > 23 || minute > 59) return null;
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}
