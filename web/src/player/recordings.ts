/** What the server says about recordings (GET /api/recordings, /hls/:sid/*). */
import { defaultTimeZone, type Chapter, type RecordingInfo, type RecordingStatus } from '@protocol';

export type { Chapter, RecordingInfo, RecordingStatus };

export class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

function headers(token: string): HeadersInit {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A file of a session's recording. */
export function hlsUrl(sessionId: string, file: string): string {
  return `/hls/${encodeURIComponent(sessionId)}/${file}`;
}

/** The same URL with the token in the query, for <img>, <a> and native players that cannot send headers. */
export function withToken(url: string, token: string, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra);
  if (token) params.set('token', token);
  const query = params.toString();
  return query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
}

export async function fetchRecordings(token: string, signal?: AbortSignal): Promise<RecordingInfo[]> {
  const res = await fetch('/api/recordings', { headers: headers(token), signal, cache: 'no-store' });
  if (!res.ok) throw new HttpError(res.status);
  const body = (await res.json()) as { recordings?: RecordingInfo[] };
  return body.recordings ?? [];
}

/** The session's chapters; none when the recording has none (yet) or may not be seen. */
export async function fetchChapters(sessionId: string, token: string, signal?: AbortSignal): Promise<Chapter[]> {
  const res = await fetch(hlsUrl(sessionId, 'chapters.json'), { headers: headers(token), signal, cache: 'no-store' });
  if (res.status === 404) return [];
  if (!res.ok) throw new HttpError(res.status);
  const list = (await res.json()) as Chapter[];
  return Array.isArray(list) ? list.filter((c) => typeof c.start === 'number').sort((a, b) => a.start - b.start) : [];
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Sessions happen in the province: dates are shown in its time zone, whatever the viewer's computer says. */
export const timeZone = defaultTimeZone;

export function formatDateTime(ms: number, locale: string): string {
  const tag = locale === 'vi' ? 'vi-VN' : 'en-GB';
  const date = new Intl.DateTimeFormat(tag, { timeZone, weekday: 'short', day: '2-digit', month: '2-digit', year: 'numeric' });
  const time = new Intl.DateTimeFormat(tag, { timeZone, hour: '2-digit', minute: '2-digit' });
  return `${date.format(ms)} · ${time.format(ms)}`;
}

/** Forms of a date a viewer may type in the search box: 05/03/2025, 5/3/2025, 2025-03-05. */
export function searchableDate(ms: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', month: '2-digit', year: 'numeric' })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  const { day = '', month = '', year = '' } = parts;
  return [`${day}/${month}/${year}`, `${Number(day)}/${Number(month)}/${year}`, `${year}-${month}-${day}`].join(' ');
}

/** Lower case without Vietnamese diacritics, so "tan phu" finds "Tân Phú". */
export function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase();
}
