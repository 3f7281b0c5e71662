import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import type { RollCall, RollCallGrade, RollCallQuality, RollCallRow, SessionRecord } from '../../protocol/index.js';
import type { Logger } from '../logger.js';
import type { ReadinessService } from '../readiness/ReadinessService.js';
import type { PointRegistry } from '../registry/PointRegistry.js';
import type { Peer } from '../room/Peer.js';
import type { Room } from '../room/Room.js';
import type { SessionRegistry } from '../room/SessionRegistry.js';
import type { Store } from '../store/Store.js';
import type { AttendanceService } from './Attendance.js';
import { invitedPoints } from './invited.js';
import { countsAsParticipant } from './participants.js';

export interface RollCallOptions {
  sessions: SessionRegistry;
  store: Store;
  attendance: AttendanceService;
  logger: Logger;
  /** Where invited groups are expanded; the store is read directly without it. */
  points?: PointRegistry;
  /** Sampling period while a session is on air, and the longest a cached roll call is served. */
  intervalMs?: number;
  /** How long the list of invited points is reused before the store is read again. */
  invitedTtlMs?: number;
  /** Where each point's latest readiness check is read; none: the rows show none. */
  readiness?: Pick<ReadinessService, 'forPoints'>;
}

type Options = Required<Omit<RollCallOptions, 'points' | 'readiness'>> & Pick<RollCallOptions, 'points' | 'readiness'>;

/** Browser reports older than this are ignored (they come every 2 s). */
const clientStatsMaxAgeMs = 10_000;

/** Grading thresholds (docs/operator-api.md). */
export const gradeThresholds = {
  poor: { loss: 0.05, rttMs: 400, score: 5 },
  fair: { loss: 0.01, rttMs: 200, score: 8 },
} as const;

/**
 * The operator's roll call: every invited point and every participant, with
 * whether they are here and how good their link is. Each running session is
 * sampled every `intervalMs` while on air (the figures also feed the
 * attendance summary), and on demand otherwise; a sample is never older than
 * `intervalMs` when served.
 */
export class RollCallService {
  readonly #o: Options;
  readonly #rooms = new Map<string, RoomRollCall>();

  constructor(options: RollCallOptions) {
    this.#o = { intervalMs: 1500, invitedTtlMs: 5000, ...options };
    options.sessions.on('room', (room) => {
      const tracker = new RoomRollCall(room, this.#o);
      this.#rooms.set(room.id, tracker);
      room.once('close', () => {
        tracker.stop();
        if (this.#rooms.get(room.id) === tracker) this.#rooms.delete(room.id);
      });
    });
  }

  /** The roll call of a session: sampled live when it runs here, else from its attendance. */
  async rollCall(sessionId: string): Promise<RollCall> {
    const record = this.#o.sessions.get(sessionId);
    const tracker = this.#rooms.get(sessionId);
    return this.#withReadiness(sessionId, await (tracker ? tracker.current() : offlineRollCall(record, this.#o)));
  }

  /** Each point's latest readiness check on its row (read with every roll call: a check shows at the next poll). */
  async #withReadiness(sessionId: string, rollCall: RollCall): Promise<RollCall> {
    const readiness = this.#o.readiness;
    if (!readiness) return rollCall;
    const points = rollCall.points.filter((row) => row.role === 'point').map((row) => row.identity);
    const states = await readiness.forPoints(sessionId, points);
    if (states.size === 0) return rollCall;
    // New rows: the cached roll call is shared by every caller until the next sample.
    return {
      ...rollCall,
      points: rollCall.points.map((row) => (states.has(row.identity) ? { ...row, readiness: states.get(row.identity) } : row)),
    };
  }

  /** How long the last sample of a session took, in ms (figures for the operator's dashboard). */
  lastSampleMs(sessionId: string): number | undefined {
    return this.#rooms.get(sessionId)?.lastSampleMs;
  }
}

class RoomRollCall {
  lastSampleMs: number | undefined;
  #cache: RollCall | undefined;
  #pending: Promise<RollCall> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #invited: { at: number; points: Map<string, string> } | undefined;
  #stopped = false;

  constructor(
    readonly room: Room,
    readonly o: Options,
  ) {
    this.#follow(room.status);
    room.on('snapshot', (snapshot) => this.#follow(snapshot.status));
  }

  /** A roll call no older than the sampling period. */
  current(): Promise<RollCall> {
    if (this.#cache && Date.now() - this.#cache.updatedAt <= this.o.intervalMs) return Promise.resolve(this.#cache);
    return this.sample();
  }

  /** Measures now (one sample at a time; callers during a sample share it). */
  sample(): Promise<RollCall> {
    this.#pending ??= this.#sample().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Samples in the background while the session is on air. */
  #follow(status: string): void {
    if (status === 'live' && !this.#timer && !this.#stopped) {
      this.#timer = setInterval(() => {
        if (!this.#pending)
          void this.sample().catch((error) => this.o.logger.warn({ err: error, session: this.room.id }, 'roll call sample failed'));
      }, this.o.intervalMs);
      this.#timer.unref();
    } else if (status !== 'live' && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #invitedPoints(): Promise<Map<string, string>> {
    const now = Date.now();
    if (!this.#invited || now - this.#invited.at > this.o.invitedTtlMs) {
      const record = this.o.sessions.get(this.room.id);
      this.#invited = { at: now, points: await invitedPoints(this.o.store, record, this.o.points) };
    }
    return this.#invited.points;
  }

  async #sample(): Promise<RollCall> {
    const started = performance.now();
    const invited = await this.#invitedPoints();
    const present = [...this.room.peers.values()].filter(countsAsParticipant);
    const qualities = await Promise.all(present.map((peer) => measurePeer(peer).catch(() => null)));
    const updatedAt = Date.now();
    const snapshot = this.room.snapshot();
    const summaries = new Map(snapshot.peers.map((p) => [p.identity, p]));
    const history = this.o.attendance.live(this.room.id);
    const rows: RollCallRow[] = [];
    const seen = new Set<string>();

    present.forEach((peer, i) => {
      const summary = summaries.get(peer.identity);
      const quality = peer.closed ? null : qualities[i]!;
      const intervals = history?.points[peer.identity]?.intervals;
      const open = intervals?.at(-1);
      seen.add(peer.identity);
      rows.push({
        identity: peer.identity,
        name: peer.name,
        role: peer.role,
        invited: invited.has(peer.identity),
        state: 'present',
        since: open && open.to === undefined ? open.from : peer.joinedAt,
        handRaised: summary?.handRaised ?? false,
        hasFloor: snapshot.floor === peer.identity,
        muted: summary?.muted ?? false,
        receiveMode: peer.receiveMode,
        quality,
        grade: gradeOf(quality),
      });
    });
    for (const [identity, name] of invited) {
      if (seen.has(identity)) continue;
      seen.add(identity);
      const past = history?.points[identity];
      rows.push(absentRow(identity, past?.name ?? name, 'point', true, past?.intervals.at(-1)?.to, history?.openedAt ?? updatedAt));
    }
    // Points and the studio that came uninvited (an ad hoc link) and left.
    for (const [identity, past] of Object.entries(history?.points ?? {})) {
      if (seen.has(identity) || (past.role !== 'point' && past.role !== 'studio')) continue;
      rows.push(absentRow(identity, past.name, past.role, false, past.intervals.at(-1)?.to, history!.openedAt));
    }

    rows.sort(compareRows);
    const rollCall = { updatedAt, points: rows };
    this.#cache = rollCall;
    this.lastSampleMs = performance.now() - started;
    this.o.attendance.recordQuality(this.room.id, rows);
    return rollCall;
  }
}

function absentRow(
  identity: string,
  name: string,
  role: RollCallRow['role'],
  invited: boolean,
  leftAt: number | undefined,
  openedAt: number,
): RollCallRow {
  return {
    identity,
    name,
    role,
    invited,
    state: leftAt === undefined ? 'absent' : 'left',
    since: leftAt ?? openedAt,
    handRaised: false,
    hasFloor: false,
    muted: false,
    receiveMode: null,
    quality: null,
    grade: 'unknown',
  };
}

/**
 * A session not running on this node: from its attendance record. An ended
 * session shows who came and left; one running on another node (Redis) shows
 * who is there, without link figures (that node measures them).
 */
async function offlineRollCall(record: SessionRecord, o: Options): Promise<RollCall> {
  const updatedAt = Date.now();
  const invited = await invitedPoints(o.store, record, o.points);
  const doc = await o.attendance.doc(record.id);
  const openedAt = doc?.openedAt ?? record.startsAt ?? record.createdAt;
  const rows: RollCallRow[] = [];
  const rowOf = (identity: string, name: string, role: RollCallRow['role'], isInvited: boolean) => {
    const last = doc?.points[identity]?.intervals.at(-1);
    if (last && last.to === undefined && doc?.closedAt === undefined) {
      return { ...absentRow(identity, name, role, isInvited, undefined, last.from), state: 'present' as const };
    }
    return absentRow(identity, name, role, isInvited, last?.to, openedAt);
  };
  for (const [identity, name] of invited) {
    const past = doc?.points[identity];
    rows.push(rowOf(identity, past?.name ?? name, past?.role ?? 'point', true));
  }
  for (const [identity, past] of Object.entries(doc?.points ?? {})) {
    if (invited.has(identity)) continue;
    const row = rowOf(identity, past.name, past.role, false);
    if (row.state === 'present' || past.role === 'point' || past.role === 'studio') rows.push(row);
  }
  rows.sort(compareRows);
  return { updatedAt, points: rows };
}

// ---- Measuring one peer ------------------------------------------------------------

/**
 * A peer's link from mediasoup's statistics: bitrates from its transports,
 * loss from the RTCP of what it sends (producers, seen by the server) and
 * receives (consumers, reported by the peer), round-trip time from RTCP,
 * else from the browser's own report.
 */
export async function measurePeer(peer: Peer, now = Date.now()): Promise<RollCallQuality | null> {
  const transports = [...peer.transports.values()].filter((t) => !t.closed);
  const producers = [...peer.producers.values()].filter((p) => !p.closed);
  const consumers = [...peer.consumers.values()].filter((c) => !c.closed);
  const client = peer.clientStats;
  const clientFresh = typeof client.at === 'number' && now - client.at <= clientStatsMaxAgeMs;
  if (transports.length === 0 && !clientFresh) return null;

  const quiet = <T>(promise: Promise<T[]>) => promise.catch(() => [] as T[]);
  const [transportStats, producerStats, consumerStats] = await Promise.all([
    Promise.all(transports.map((t) => quiet(t.getStats() as Promise<types.BaseTransportStats[]>))),
    Promise.all(producers.map((p) => quiet(p.getStats()))),
    Promise.all(consumers.map((c) => quiet(c.getStats()))),
  ]);

  let bitrateIn = 0;
  let bitrateOut = 0;
  const losses: number[] = [];
  const rtts: number[] = [];
  for (const stat of transportStats.flat()) {
    bitrateIn += stat.recvBitrate ?? 0;
    bitrateOut += stat.sendBitrate ?? 0;
    // Transport-wide loss (transport-cc, WebRTC peers), both directions.
    if (typeof stat.rtpPacketLossReceived === 'number') losses.push(stat.rtpPacketLossReceived);
    if (typeof stat.rtpPacketLossSent === 'number') losses.push(stat.rtpPacketLossSent);
  }
  for (const stat of producerStats.flat()) {
    if (stat.type !== 'inbound-rtp') continue;
    losses.push(stat.fractionLost / 256);
    if (stat.roundTripTime && stat.roundTripTime > 0) rtts.push(stat.roundTripTime);
  }
  for (const stat of consumerStats.flat()) {
    // A consumer's stats hold its own stream (outbound) and the producer's (inbound).
    if (stat.type !== 'outbound-rtp') continue;
    losses.push(stat.fractionLost / 256);
    if (stat.roundTripTime && stat.roundTripTime > 0) rtts.push(stat.roundTripTime);
  }
  if (rtts.length === 0 && clientFresh && typeof client.roundTripTime === 'number' && client.roundTripTime > 0) {
    rtts.push(client.roundTripTime * 1000);
  }

  const scores: number[] = [];
  for (const producer of producers) {
    // The best encoding: a simulcast sender on a weak link stops its upper layers on purpose.
    const best = Math.max(...producer.score.map((s) => s.score));
    if (Number.isFinite(best)) scores.push(best);
  }
  for (const consumer of consumers) scores.push(consumer.score.score);

  const program = consumers.find((c) => c.kind === 'video' && c.appData.program);
  const layer = program?.currentLayers?.spatialLayer ?? null;

  return {
    bitrateIn: Math.round(bitrateIn),
    bitrateOut: Math.round(bitrateOut),
    packetLoss: losses.length ? round(Math.max(...losses), 4) : null,
    rttMs: rtts.length ? Math.round(Math.max(...rtts)) : null,
    layer,
    score: scores.length ? Math.min(...scores) : null,
  };
}

/** poor: loss > 5 %, RTT > 400 ms or score < 5; fair: > 1 %, > 200 ms, < 8; good otherwise; unknown without data. */
export function gradeOf(quality: RollCallQuality | null): RollCallGrade {
  if (!quality) return 'unknown';
  const { packetLoss: loss, rttMs: rtt, score } = quality;
  if (loss === null && rtt === null && score === null) return 'unknown';
  const { poor, fair } = gradeThresholds;
  if ((loss ?? 0) > poor.loss || (rtt ?? 0) > poor.rttMs || (score ?? 10) < poor.score) return 'poor';
  if ((loss ?? 0) > fair.loss || (rtt ?? 0) > fair.rttMs || (score ?? 10) < fair.score) return 'fair';
  return 'good';
}

const collator = new Intl.Collator('vi', { sensitivity: 'base', numeric: true });

function rank(row: RollCallRow): number {
  if (row.grade === 'poor') return 0;
  if (row.grade === 'fair') return 1;
  if (row.state !== 'present') return 2;
  return 3;
}

/** Struggling points first (poor, then fair), then those absent or gone, then by name. */
export function compareRows(a: RollCallRow, b: RollCallRow): number {
  return rank(a) - rank(b) || collator.compare(a.name, b.name) || a.identity.localeCompare(b.identity);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
