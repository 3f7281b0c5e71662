import {
  attendanceCsvColumns,
  attendanceCsvHeadings,
  type AttendanceCsvLanguage,
  type AttendanceEntry,
  type AttendanceInterval,
  type AttendanceReport,
  type Role,
  type RollCallRow,
} from '../../protocol/index.js';
import type { Logger } from '../logger.js';
import type { PointRegistry } from '../registry/PointRegistry.js';
import type { Peer } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { Store } from '../store/Store.js';
import { invitedPoints } from './invited.js';
import { countsAsParticipant } from './participants.js';

/** Running averages of the roll call samples taken while a participant was present. */
export interface StoredQuality {
  samples: number;
  avgLoss: number | null;
  avgRttMs: number | null;
  avgBitrateIn: number | null;
  /** How many samples had a loss / RTT figure (the averages' weights). */
  lossSamples: number;
  rttSamples: number;
}

export interface AttendancePoint {
  name: string;
  role: Role;
  /** Oldest first; the last one is open (no `to`) while present. */
  intervals: AttendanceInterval[];
  quality: StoredQuality;
}

/** One document per session in the store collection 'attendance'. */
export interface AttendanceDoc {
  sessionId: string;
  /** When the session's room first opened. */
  openedAt: number;
  /** When the room closed for good (the session ended). */
  closedAt?: number;
  updatedAt: number;
  points: Record<string, AttendancePoint>;
}

export interface AttendanceOptions {
  sessions: SessionRegistry;
  store: Store;
  logger: Logger;
  /** Where invited groups are expanded; the store is read directly without it. */
  points?: PointRegistry;
  /** Delay before a presence change is written (changes come in bursts). */
  flushDelayMs?: number;
  /** Delay before quality figures alone are written. */
  qualityFlushMs?: number;
}

/** A leave followed by a join within this gap (a reload, a second device) keeps one interval. */
const rejoinGapMs = 2000;

interface Live {
  doc: AttendanceDoc;
  /** Resolves once an earlier document of the session (a restart) is merged in. */
  loaded: Promise<void>;
  timer: NodeJS.Timeout | null;
  timerDue: number;
}

/**
 * Who was in each session and when: intervals per identity from the Room's
 * presence events, kept in the store after the session (reports, CSV), with
 * a summary of each participant's link fed from the roll call samples.
 */
export class AttendanceService {
  readonly #o: Required<Omit<AttendanceOptions, 'points'>> & Pick<AttendanceOptions, 'points'>;
  readonly #live = new Map<string, Live>();
  readonly #writes = new Set<Promise<void>>();
  /** The last write of each session, so a new room waits for it before reading. */
  readonly #lastWrite = new Map<string, Promise<void>>();

  constructor(options: AttendanceOptions) {
    this.#o = { flushDelayMs: 500, qualityFlushMs: 15_000, ...options };
    options.sessions.on('room', (room) => this.#track(room));
  }

  /** The attendance of a running session on this node (no copy: do not change it). */
  live(sessionId: string): AttendanceDoc | undefined {
    return this.#live.get(sessionId)?.doc;
  }

  /** The attendance document: the running one, else the stored one. */
  async doc(sessionId: string): Promise<AttendanceDoc | undefined> {
    const live = this.#live.get(sessionId);
    if (live) {
      await live.loaded;
      return live.doc;
    }
    await this.#lastWrite.get(sessionId);
    return this.#o.store.get<AttendanceDoc>('attendance', sessionId);
  }

  /** Adds one roll call sample to the quality summary of every participant present. */
  recordQuality(sessionId: string, rows: RollCallRow[]): void {
    const live = this.#live.get(sessionId);
    if (!live) return;
    let changed = false;
    for (const row of rows) {
      const point = live.doc.points[row.identity];
      if (!point || row.state !== 'present' || !row.quality) continue;
      const q = point.quality;
      q.samples++;
      q.avgBitrateIn = runningAverage(q.avgBitrateIn, row.quality.bitrateIn, q.samples);
      if (row.quality.packetLoss !== null) q.avgLoss = runningAverage(q.avgLoss, row.quality.packetLoss, ++q.lossSamples);
      if (row.quality.rttMs !== null) q.avgRttMs = runningAverage(q.avgRttMs, row.quality.rttMs, ++q.rttSamples);
      changed = true;
    }
    if (changed) this.#schedule(live, this.#o.qualityFlushMs);
  }

  /** The report of a session: everyone who came, and every invited point that did not. */
  async report(sessionId: string, now = Date.now()): Promise<AttendanceReport> {
    const record = this.#o.sessions.get(sessionId);
    const doc = await this.doc(sessionId);
    const invited = await invitedPoints(this.#o.store, record, this.#o.points);
    const entries: AttendanceEntry[] = [];
    for (const [identity, point] of Object.entries(doc?.points ?? {})) {
      entries.push(entryOf(identity, point, invited.has(identity), now));
    }
    for (const [identity, name] of invited) {
      if (doc?.points[identity]) continue;
      entries.push({
        identity,
        name,
        role: 'point',
        invited: true,
        present: false,
        firstJoined: null,
        lastLeft: null,
        minutesPresent: 0,
        intervals: [],
        quality: { samples: 0, avgLoss: null, avgRttMs: null, avgBitrateIn: null },
      });
    }
    entries.sort(byName);
    return {
      sessionId,
      title: record.title,
      timeZone: record.timeZone,
      openedAt: doc?.openedAt ?? null,
      closedAt: doc?.closedAt ?? null,
      generatedAt: now,
      points: entries,
    };
  }

  /** The report as CSV (RFC 4180, UTF-8 with a byte order mark so spreadsheets read Vietnamese names). */
  async csv(sessionId: string, now = Date.now(), language?: AttendanceCsvLanguage): Promise<string> {
    const report = await this.report(sessionId, now);
    return attendanceCsv(report, language);
  }

  /** Resolves once every pending write is done (tests, shutdown). */
  async idle(): Promise<void> {
    for (const live of this.#live.values()) {
      if (live.timer) {
        clearTimeout(live.timer);
        live.timer = null;
        this.#write(live);
      }
    }
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  // ---- Tracking a room -----------------------------------------------------------

  #track(room: Room): void {
    const now = Date.now();
    const doc: AttendanceDoc = { sessionId: room.id, openedAt: now, updatedAt: now, points: {} };
    const live: Live = { doc, loaded: Promise.resolve(), timer: null, timerDue: 0 };
    live.loaded = (async () => {
      await this.#lastWrite.get(room.id);
      const earlier = await this.#o.store.get<AttendanceDoc>('attendance', room.id);
      if (earlier) merge(doc, earlier);
    })().catch((error) => this.#o.logger.error({ err: error, session: room.id }, 'could not read the attendance'));
    this.#live.set(room.id, live);
    for (const peer of room.peers.values()) this.#joined(live, peer, now);

    room.on('presence', (identity, present) => {
      const at = Date.now();
      if (present) {
        const peer = room.peer(identity);
        if (peer) this.#joined(live, peer, at);
      } else {
        const open = lastOpen(doc.points[identity]);
        if (open) open.to = at;
      }
      doc.updatedAt = at;
      this.#schedule(live, this.#o.flushDelayMs);
    });

    room.once('close', () => {
      const at = Date.now();
      for (const point of Object.values(doc.points)) {
        const open = lastOpen(point);
        if (open) open.to = at;
      }
      if (room.status === 'ended') doc.closedAt = at;
      doc.updatedAt = at;
      if (live.timer) clearTimeout(live.timer);
      live.timer = null;
      if (this.#live.get(room.id) === live) this.#live.delete(room.id);
      this.#write(live);
    });
  }

  #joined(live: Live, peer: Peer, at: number): void {
    // The control room is present, not attending.
    if (!countsAsParticipant(peer)) return;
    const { identity, name, role } = peer;
    const point = (live.doc.points[identity] ??= { name, role, intervals: [], quality: emptyQuality() });
    point.name = name;
    point.role = role;
    const last = point.intervals.at(-1);
    if (last && last.to === undefined) return;
    if (last && last.to !== undefined && at - last.to <= rejoinGapMs) delete last.to;
    else point.intervals.push({ from: at });
    live.doc.updatedAt = at;
  }

  #schedule(live: Live, delayMs: number): void {
    const due = Date.now() + delayMs;
    if (live.timer && live.timerDue <= due) return;
    if (live.timer) clearTimeout(live.timer);
    live.timerDue = due;
    live.timer = setTimeout(() => {
      live.timer = null;
      this.#write(live);
    }, delayMs);
    live.timer.unref();
  }

  #write(live: Live): void {
    const sessionId = live.doc.sessionId;
    const previous = this.#lastWrite.get(sessionId) ?? Promise.resolve();
    const write = previous
      .then(() => live.loaded)
      .then(() => this.#o.store.put('attendance', sessionId, live.doc))
      .catch((error) => this.#o.logger.error({ err: error, session: sessionId }, 'could not save the attendance'));
    this.#lastWrite.set(sessionId, write);
    this.#writes.add(write);
    void write.finally(() => {
      this.#writes.delete(write);
      if (this.#lastWrite.get(sessionId) === write) this.#lastWrite.delete(sessionId);
    });
  }
}

// ---- Helpers -------------------------------------------------------------------

function emptyQuality(): StoredQuality {
  return { samples: 0, avgLoss: null, avgRttMs: null, avgBitrateIn: null, lossSamples: 0, rttSamples: 0 };
}

function runningAverage(average: number | null, value: number, count: number): number {
  return average === null ? value : average + (value - average) / count;
}

function lastOpen(point: AttendancePoint | undefined): AttendanceInterval | undefined {
  const last = point?.intervals.at(-1);
  return last && last.to === undefined ? last : undefined;
}

/** Puts an earlier document (before a restart) under the running one. */
function merge(doc: AttendanceDoc, earlier: AttendanceDoc): void {
  doc.openedAt = Math.min(doc.openedAt, earlier.openedAt);
  for (const [identity, before] of Object.entries(earlier.points)) {
    // An interval the crash left open ends when the document was last written.
    const intervals = before.intervals.map((i) => ({ from: i.from, to: i.to ?? Math.max(i.from, earlier.updatedAt) }));
    const now = doc.points[identity];
    if (!now) {
      doc.points[identity] = { ...before, intervals };
      continue;
    }
    now.intervals = [...intervals, ...now.intervals];
    now.quality = combine(before.quality, now.quality);
  }
}

function combine(a: StoredQuality, b: StoredQuality): StoredQuality {
  const weighted = (x: number | null, wx: number, y: number | null, wy: number) =>
    x === null ? y : y === null ? x : (x * wx + y * wy) / (wx + wy);
  return {
    samples: a.samples + b.samples,
    avgBitrateIn: weighted(a.avgBitrateIn, a.samples, b.avgBitrateIn, b.samples),
    avgLoss: weighted(a.avgLoss, a.lossSamples, b.avgLoss, b.lossSamples),
    avgRttMs: weighted(a.avgRttMs, a.rttSamples, b.avgRttMs, b.rttSamples),
    lossSamples: a.lossSamples + b.lossSamples,
    rttSamples: a.rttSamples + b.rttSamples,
  };
}

function entryOf(identity: string, point: AttendancePoint, invited: boolean, now: number): AttendanceEntry {
  const intervals = point.intervals.map((i) => ({ ...i }));
  const last = intervals.at(-1);
  const present = !!last && last.to === undefined;
  const ms = intervals.reduce((sum, i) => sum + Math.max(0, (i.to ?? now) - i.from), 0);
  return {
    identity,
    name: point.name,
    role: point.role,
    invited,
    present,
    firstJoined: intervals[0]?.from ?? null,
    lastLeft: present ? null : (last?.to ?? null),
    minutesPresent: Math.round(ms / 6000) / 10,
    intervals,
    quality: {
      samples: point.quality.samples,
      avgLoss: point.quality.avgLoss,
      avgRttMs: point.quality.avgRttMs,
      avgBitrateIn: point.quality.avgBitrateIn,
    },
  };
}

const collator = new Intl.Collator('vi', { sensitivity: 'base', numeric: true });
function byName(a: { name: string; identity: string }, b: { name: string; identity: string }): number {
  return collator.compare(a.name, b.name) || a.identity.localeCompare(b.identity);
}

// ---- CSV and times ---------------------------------------------------------------

/** The report as CSV: one row per participant, times in the session's time zone. */
export function attendanceCsv(report: AttendanceReport, language?: AttendanceCsvLanguage): string {
  const time = (ms: number | null | undefined) => (ms == null ? '' : formatInTimeZone(ms, report.timeZone));
  const headings = language ? attendanceCsvColumns.map((c) => attendanceCsvHeadings[language][c]) : attendanceCsvColumns;
  const lines = [headings.map(csvField).join(',')];
  for (const entry of report.points) {
    lines.push(
      [
        entry.identity,
        spreadsheetSafe(entry.name),
        time(entry.firstJoined),
        time(entry.lastLeft),
        entry.minutesPresent.toFixed(1),
        entry.intervals.map((i) => `${time(i.from)}/${time(i.to)}`).join(' '),
        entry.quality.avgLoss === null ? '' : entry.quality.avgLoss.toFixed(4),
        entry.quality.avgRttMs === null ? '' : String(Math.round(entry.quality.avgRttMs)),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}

/** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A name a spreadsheet would run as a formula (=, +, -, @) is prefixed with an apostrophe. */
function spreadsheetSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** ISO 8601 with the zone's offset at that instant, e.g. 2026-12-01T08:05:03+07:00. */
export function formatInTimeZone(ms: number, timeZone: string): string {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}
