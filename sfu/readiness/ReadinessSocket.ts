import type { types } from 'mediasoup';
import type {
  ReadinessCheck as CheckResult,
  ReadinessFigures,
  ReadinessResponseData,
  ReadinessState,
  TokenClaims,
} from '../../protocol/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { Room } from '../room/Room.js';
import type { ReadinessCheck } from './ReadinessCheck.js';
import { readinessKey } from './readinessKey.js';

/** What a socket's checks need from the node's readiness service. */
export interface ReadinessChecks {
  readonly resultWindowMs: number;
  state(sessionId: string, pointId: string): Promise<ReadinessState>;
  follow(key: string, send: (message: unknown) => void): () => void;
  startCheck(
    room: Room,
    pointId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<{ check: ReadinessCheck; response: ReadinessResponseData['readiness.start']; startedAt: number }>;
  finish(sessionId: string, pointId: string, figures: ReadinessFigures): Promise<CheckResult>;
}

/**
 * One socket's side of the readiness checks: a point page's current check
 * (closed when the socket closes), and its subscription to the operator's
 * requests to check again.
 */
export class ReadinessSocket {
  readonly #key: string;
  readonly #unfollow: (() => void) | undefined;
  #check: ReadinessCheck | undefined;
  /** When this socket's last check started, until its figures are taken. */
  #startedAt: number | undefined;
  #closed = false;

  constructor(
    private readonly service: ReadinessChecks,
    private readonly claims: TokenClaims,
    private readonly room: Room,
    send: (message: unknown) => void,
  ) {
    this.#key = readinessKey(room.id, claims.sub);
    // Only a point's own pages hear of requests addressed to it.
    this.#unfollow = claims.role === 'point' ? service.follow(this.#key, send) : undefined;
  }

  status(): Promise<ReadinessState> {
    return this.service.state(this.room.id, this.claims.sub);
  }

  async start(rtpCapabilities: types.RtpCapabilities): Promise<ReadinessResponseData['readiness.start']> {
    if (this.#closed) throw new ConflictError('the connection is closing');
    this.#check?.close();
    const { check, response, startedAt } = await this.service.startCheck(this.room, this.claims.sub, rtpCapabilities);
    // The socket closed while the worker made the transports: nobody would close them.
    if (this.#closed) {
      check.close();
      throw new ConflictError('the connection closed while the check was being set up');
    }
    this.#check = check;
    this.#startedAt = startedAt;
    return response;
  }

  connect(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    return this.#current().connect(transportId, dtlsParameters);
  }

  produce(rtpParameters: types.RtpParameters): Promise<ReadinessResponseData['readiness.produce']> {
    return this.#current().produce(rtpParameters);
  }

  resume(): Promise<void> {
    return this.#current().resume();
  }

  /** Takes the figures of the check this socket started (its media may have ended already), once. */
  async finish(figures: ReadinessFigures): Promise<CheckResult> {
    const startedAt = this.#startedAt;
    if (startedAt === undefined) throw new ConflictError('start a check before sending its result');
    if (Date.now() - startedAt > this.service.resultWindowMs) {
      this.#startedAt = undefined;
      throw new ConflictError('the check took too long: run it again');
    }
    this.#startedAt = undefined;
    this.#check?.close();
    this.#check = undefined;
    return this.service.finish(this.room.id, this.claims.sub, figures);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#check?.close();
    this.#unfollow?.();
  }

  #current(): ReadinessCheck {
    if (!this.#check || this.#check.closed) throw new NotFoundError('no readiness check is running on this connection: start one');
    return this.#check;
  }
}
