/**
 * Times in the session's time zone (the province's by default), whatever
 * the operator's computer says. Civil dates are handled as UTC-midnight
 * numbers so that day arithmetic never meets a DST jump.
 */
import { defaultTimeZone } from '@protocol';

/** The province's zone, the same default the server gives a session. */
export const defaultZone = defaultTimeZone;

export const dayMs = 24 * 3600 * 1000;

const partsCache = new Map<string, Intl.DateTimeFormat>();

function partsFormat(zone: string): Intl.DateTimeFormat {
  let f = partsCache.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsCache.set(zone, f);
  }
  return f;
}

export interface WallTime {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock time in a zone at an instant. */
export function wallTime(ms: number, zone = defaultZone): WallTime {
  const p: Record<string, number> = {};
  for (const part of partsFormat(zone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { year: p.year, month: p.month, day: p.day, hour: p.hour % 24, minute: p.minute, second: p.second };
}

/** How far the zone is ahead of UTC at an instant, in ms. */
export function zoneOffset(ms: number, zone = defaultZone): number {
  const w = wallTime(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant of a wall-clock time in a zone. */
export function zonedInstant(w: Omit<WallTime, 'second'> & { second?: number }, zone = defaultZone): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second ?? 0);
  const first = asUtc - zoneOffset(asUtc, zone);
  return asUtc - zoneOffset(first, zone);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** "2026-12-01T08:00" (a datetime-local input's value) for an instant, in a zone. */
export function toLocalInput(ms: number, zone = defaultZone): string {
  const w = wallTime(ms, zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

function parseLocalInput(value: string): Omit<WallTime, 'second'> | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  return { year: +m[1], month: +m[2], day: +m[3], hour: +m[4], minute: +m[5] };
}

/** A datetime-local value read in a zone, as an instant (null when empty or malformed). */
export function fromLocalInput(value: string, zone = defaultZone): number | null {
  const w = parseLocalInput(value);
  return w ? zonedInstant(w, zone) : null;
}

/** A datetime-local value read in a zone, as ISO 8601 with that zone's offset: 2026-12-01T08:00:00+07:00. */
export function localInputToIso(value: string, zone = defaultZone): string | null {
  const ms = fromLocalInput(value, zone);
  if (ms === null) return null;
  const offsetMin = Math.round(zoneOffset(ms, zone) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${value.slice(0, 16)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// ---- civil dates (days), as the UTC midnight of that date

export type Day = number;

export function dayOf(ms: number, zone = defaultZone): Day {
  const w = wallTime(ms, zone);
  return Date.UTC(w.year, w.month - 1, w.day);
}

/** The instant a civil day starts in a zone. */
export function dayStart(day: Day, zone = defaultZone): number {
  const d = new Date(day);
  return zonedInstant({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0 }, zone);
}

export const addDays = (day: Day, n: number): Day => day + n * dayMs;

/** Monday of the day's week. */
export function weekStart(day: Day): Day {
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday = 0
  return addDays(day, -weekday);
}

export function monthStart(day: Day): Day {
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function addMonths(day: Day, n: number): Day {
  const d = new Date(day);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
}

/** Minutes since the zone's midnight. */
export function minuteOfDay(ms: number, zone = defaultZone): number {
  const w = wallTime(ms, zone);
  return w.hour * 60 + w.minute;
}

export function localeTag(locale: string): string {
  return locale === 'vi' ? 'vi-VN' : 'en-GB';
}

/** Formats an instant in a zone, with Intl options. */
export function fmt(ms: number, locale: string, options: Intl.DateTimeFormatOptions, zone = defaultZone): string {
  return new Intl.DateTimeFormat(localeTag(locale), { ...options, timeZone: zone }).format(new Date(ms));
}

/** Formats a civil day (its UTC midnight) without any zone shift. */
export function fmtDay(day: Day, locale: string, options: Intl.DateTimeFormatOptions): string {
  return new Intl.DateTimeFormat(localeTag(locale), { ...options, timeZone: 'UTC' }).format(new Date(day));
}

export function fmtTime(ms: number, locale: string, zone = defaultZone): string {
  return fmt(ms, locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }, zone);
}

export function fmtDateTime(ms: number, locale: string, zone = defaultZone): string {
  return fmt(
    ms,
    locale,
    { weekday: 'short', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
    zone,
  );
}

/** Short name of the zone, e.g. "GMT+7". */
export function zoneLabel(zone = defaultZone, at = Date.now()): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' })
    .formatToParts(new Date(at))
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? zone;
}
