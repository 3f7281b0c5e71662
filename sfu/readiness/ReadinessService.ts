import type { types } from 'mediasoup';
import {
  readinessMaxDurationMs,
  type ReadinessCheck as CheckResult,
  type ReadinessFigures,
  type ReadinessResponseData,
  type ReadinessState,
  type TokenClaims,
} from '../../protocol/index.js';
import { BusyError, ConflictError, RateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Room } from '../room/Room.js';
import type { Store } from '../store/Store.js';
import { ReadinessCheck } from './ReadinessCheck.js';
import { readinessVerdict } from './readinessVerdict.js';
import { readinessKey } from './readinessKey.js';
import { ReadinessSocket, type ReadinessChecks } from './ReadinessSocket.js';

/** What the store keeps per (session, point). */
interface ReadinessDoc extends ReadinessState {
  sessionId: string;
  pointId: string;
}

export interface ReadinessOptions {
  store: Store;
  logger: Logger;
  /** Longest a network check holds its transports. */
  maxDurationMs?: number;
  /** Shortest time between two checks of the same point: a page stuck in a loop cannot load the workers. */
  minIntervalMs?: number;
  /** How long after its start a check's figures are still taken (the clerk answers the tone in between). */
  resultWindowMs?: number;
  /**
   * Most network checks running at once on this node: each holds two transports and their ports, and the
   * per-point limits do not bound many points (or many points' tokens) checking together.
   */
  maxRunning?: number;
  /**
   * How long a read of a session's points answers later reads. Results are written on the node that runs
   * the session (its roll call sees them at once); other nodes' session lists see them this much later.
   */
  reuseReadsMs?: number;
}

type Options = Required<ReadinessOptions>;

/**
 * The points' readiness checks on this node: at most one network check per
 * point at a time, and not more often than `minIntervalMs`; the latest result
 * of each point in each session, kept in the store for the operator's roll
 * call; and the operator's requests to check again, delivered to the point's
 * open page (or shown the next time it opens, from the store). A session's
 * sockets all reach the node that runs its Room, so the pages to tell are
 * here.
 */
export class ReadinessService implements ReadinessChecks {
  readonly #o: Options;
  /** The check running for each point (session:point). */
  readonly #running = new Map<string, ReadinessCheck>();
  /** Points whose check is being set up (its transports are on their way). */
  readonly #starting = new Set<string>();
  readonly #lastStart = new Map<string, number>();
  /** When each point was last asked to check again (session:point → ms), pruned like #lastStart. */
  readonly #lastRequest = new Map<string, number>();
  /** Each point's open pages (session:point → how to notify them). */
  readonly #pages = new Map<string, Set<(message: unknown) => void>>();
  /**
   * The last read of each session's points (session → when, which points, their states). Every control
   * room polls the roll call and the session list reads every session: without it each poll is one store
   * read per point (a Redis round trip each with several nodes). This node's own writes drop the entry.
   */
  readonly #recent = new Map<string, { at: number; ids: ReadonlySet<string>; states: Promise<Map<string, ReadinessState>> }>();

  constructor(options: ReadinessOptions) {
    this.#o = {
      maxDurationMs: readinessMaxDurationMs,
      minIntervalMs: 5000,
      resultWindowMs: 120_000,
      maxRunning: 200,
      reuseReadsMs: 1000,
      ...options,
    };
  }

  /** The readiness of one point in one session. */
  async state(sessionId: string, pointId: string): Promise<ReadinessState> {
    const doc = await this.#o.store.get<ReadinessDoc>('readiness', readinessKey(sessionId, pointId));
    return { latest: doc?.latest ?? null, requestedAt: doc?.requestedAt ?? null };
  }

  /** The readiness of the given points in a session (the roll call's rows); points never checked nor asked are left out. */
  async forPoints(sessionId: string, pointIds: readonly string[]): Promise<Map<string, ReadinessState>> {
    const now = Date.now();
    const recent = this.#recent.get(sessionId);
    if (recent && now - recent.at < this.#o.reuseReadsMs && pointIds.every((id) => recent.ids.has(id))) return await recent.states;
    const states = this.#read(sessionId, pointIds);
    if (this.#recent.size >= 1000) {
      for (const [id, read] of this.#recent) if (now - read.at >= this.#o.reuseReadsMs) this.#recent.delete(id);
    }
    this.#recent.set(sessionId, { at: now, ids: new Set(pointIds), states });
    // A failed read is not kept: the next caller tries the store again.
    states.catch(() => {
      if (this.#recent.get(sessionId)?.states === states) this.#recent.delete(sessionId);
    });
    return await states;
  }

  async #read(sessionId: string, pointIds: readonly string[]): Promise<Map<string, ReadinessState>> {
    const docs = await Promise.all(pointIds.map((id) => this.#o.store.get<ReadinessDoc>('readiness', readinessKey(sessionId, id))));
    const states = new Map<string, ReadinessState>();
    docs.forEach((doc, i) => {
      if (doc) states.set(pointIds[i], { latest: doc.latest, requestedAt: doc.requestedAt });
    });
    return states;
  }

  /**
   * The operator asks a point to check again: kept (a page opened later
   * shows it) and sent to the point's open pages now.
   */
  async request(sessionId: string, pointId: string): Promise<number> {
    const key = readinessKey(sessionId, pointId);
    const now = Date.now();
    // Operators' sockets repeating the request (a double click, a script, several control rooms) must not
    // flood the point's page nor the store: within the interval the request already made stands. Decided
    // before any await, so requests arriving together cannot all pass.
    const last = this.#lastRequest.get(key);
    if (last !== undefined && now - last < this.#o.minIntervalMs) return last;
    this.#lastRequest.set(key, now);
    if (this.#lastRequest.size >= 1000) {
      for (const [k, at] of this.#lastRequest) if (now - at >= this.#o.minIntervalMs) this.#lastRequest.delete(k);
    }
    const requestedAt = now;
    await this.#o.store.update<ReadinessDoc>('readiness', key, (doc) => ({
      sessionId,
      pointId,
      latest: doc?.latest ?? null,
      requestedAt,
    }));
    this.#recent.delete(sessionId);
    for (const send of this.#pages.get(key) ?? []) {
      send({ notification: 'readiness.requested', data: { requestedAt } });
    }
    return requestedAt;
  }

  /** A point page's socket: its handle on the checks. Closed with the socket. */
  open(claims: TokenClaims, room: Room, send: (message: unknown) => void): ReadinessSocket {
    return new ReadinessSocket(this, claims, room, send);
  }

  /** @internal ReadinessSocket's way in. */
  follow(key: string, send: (message: unknown) => void): () => void {
    let pages = this.#pages.get(key);
    if (!pages) this.#pages.set(key, (pages = new Set()));
    pages.add(send);
    return () => {
      pages.delete(send);
      if (pages.size === 0 && this.#pages.get(key) === pages) this.#pages.delete(key);
    };
  }

  /** @internal Opens a point's network check, one at a time and not too often. */
  async startCheck(
    room: Room,
    pointId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<{ check: ReadinessCheck; response: ReadinessResponseData['readiness.start']; startedAt: number }> {
    const key = readinessKey(room.id, pointId);
    if (this.#running.has(key) || this.#starting.has(key))
      throw new ConflictError('a check of this point is already running: wait for it to finish');
    if (this.#running.size + this.#starting.size >= this.#o.maxRunning)
      throw new BusyError('too many points are checking right now: try again in a minute');
    const last = this.#lastStart.get(key);
    const now = Date.now();
    if (last !== undefined && now - last < this.#o.minIntervalMs) {
      throw new RateLimitedError(
        'the check was run a moment ago: try again in a few seconds',
        Math.ceil((this.#o.minIntervalMs - (now - last)) / 1000),
      );
    }
    this.#lastStart.set(key, now);
    // Held from before the first await: two sockets of the same point cannot both pass.
    this.#starting.add(key);
    let check: ReadinessCheck | undefined;
    try {
      const opened = await ReadinessCheck.open(room, {
        rtpCapabilities,
        maxDurationMs: this.#o.maxDurationMs,
        onClose: () => {
          if (check && this.#running.get(key) === check) this.#running.delete(key);
        },
      });
      check = opened.check;
      this.#running.set(key, check);
      return { check, response: opened.response, startedAt: now };
    } finally {
      this.#starting.delete(key);
      this.#pruneStarts(now);
    }
  }

  /** @internal Judges and keeps a finished check; the request to check again is answered by it. */
  async finish(sessionId: string, pointId: string, figures: ReadinessFigures): Promise<CheckResult> {
    const { verdict, problems } = readinessVerdict(figures);
    // The check answers the request: the operator may ask again at once.
    this.#lastRequest.delete(readinessKey(sessionId, pointId));
    const result: CheckResult = { at: Date.now(), figures, verdict, problems };
    await this.#o.store.put<ReadinessDoc>('readiness', readinessKey(sessionId, pointId), {
      sessionId,
      pointId,
      latest: result,
      requestedAt: null,
    });
    // Dropped after the write: a read started in between must not be reused with the old state.
    this.#recent.delete(sessionId);
    this.#o.logger.info({ session: sessionId, point: pointId, verdict, problems }, 'readiness check finished');
    return result;
  }

  get resultWindowMs(): number {
    return this.#o.resultWindowMs;
  }

  /** Checks running now (figures for tests and the dashboard). */
  get running(): number {
    return this.#running.size;
  }

  /** Start times older than the interval tell nothing more: the map stays as small as the points checking now. */
  #pruneStarts(now: number): void {
    if (this.#lastStart.size < 1000) return;
    for (const [key, at] of this.#lastStart) if (now - at >= this.#o.minIntervalMs) this.#lastStart.delete(key);
  }

  /** Ends every running check (the server stops). */
  close(): void {
    for (const check of [...this.#running.values()]) check.close();
  }
}
