import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import {
  feedStatsSchema,
  type EncoderFeedStatus,
  type IngestAddress,
  type IngestProtocol,
  type SessionIngest,
} from '../../protocol/index.js';
import type { AuditLog } from '../audit/AuditLog.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionRegistry, SessionRecord } from '../room/SessionRegistry.js';
import type { Store } from '../store/Store.js';
import { EncoderFeed } from './EncoderFeed.js';
import { freeUdpPort } from './freeUdpPort.js';
import { ingestSecret, parseRtmpStreamKey, rtmpStreamKey, sameSecret, srtStreamId } from './ingestSecrets.js';
import { RtmpServer } from './rtmp/RtmpServer.js';
import type { RtmpPublishRequest } from './rtmp/types.js';
import { SrtListener } from './srt/SrtListener.js';
import { WhipSession } from './whip/WhipSession.js';

/** What the store keeps per session: the secrets' generations (a new one revokes the old) and its SRT port. */
interface IngestRecord {
  sessionId: string;
  generations: Record<IngestProtocol, number>;
  srtPort?: number;
}

export interface IngestServiceOptions {
  store: Store;
  sessions: SessionRegistry;
  audit: AuditLog;
  logger: Logger;
  /** The server's secret: encoder secrets are derived from it (ingestSecrets.ts). */
  secret: string;
  /** The name encoders reach this server by (the host of the public URL). */
  publicHost: string;
  /** The server's public URL: WHIP encoders POST to `${publicUrl}/whip/<session>` (without it, WHIP is not offered). */
  publicUrl?: string;
  /** The address the listeners bind. */
  listenHost: string;
  rtmpPort: number | 'off';
  srtPorts: { first: number; last: number } | 'auto' | 'off';
  /** Without ffmpeg no feed can be turned into the studio: nothing listens. */
  ffmpegPath: string | undefined;
}

export interface IngestServiceEvents {
  /** An encoder connected to a session or left it (null). */
  feed: [sessionId: string, status: EncoderFeedStatus | null];
}

/** The feed of one session's encoder, while connected. */
interface ConnectedFeed {
  protocol: IngestProtocol;
  remoteAddress: string;
  connectedAt: number;
  feed: EncoderFeed | null;
  /** A WHIP encoder's WebRTC session, once answered (WHIP needs no ffmpeg: its studio is its own WebRTC peer). */
  whip: WhipSession | null;
  /** Cuts the encoder off (its connection is closed). */
  disconnect(reason: string): void;
}

const identity = 'encoder';
const displayName = 'Bàn phát sóng';
const closedStatuses = new Set<SessionRecord['status']>(['ended', 'cancelled']);

/**
 * The broadcast desk's way on air: an encoder (OBS, vMix, a hardware H.264
 * encoder) sends the session's program over RTMP (one port for every session,
 * the stream key names the session and carries its secret), SRT (a port per
 * session, an AES passphrase) or WHIP (WebRTC, an HTTP POST with a bearer
 * token: whipApi.ts), and becomes the session's studio. Each
 * protocol has its own secret per session; a wrong or revoked one is refused
 * and written to the audit log, and a second encoder on a session that has
 * one is refused.
 */
export class IngestService extends EventEmitter<IngestServiceEvents> {
  readonly #o: IngestServiceOptions;
  #rtmp: RtmpServer | null = null;
  readonly #srt = new Map<string, SrtListener>();
  readonly #feeds = new Map<string, ConnectedFeed>();
  #closed = false;

  constructor(options: IngestServiceOptions) {
    super();
    this.#o = options;
  }

  get rtmpPort(): number | null {
    return this.#rtmp?.port ?? null;
  }

  async start(): Promise<void> {
    const { sessions, ffmpegPath, rtmpPort, logger } = this.#o;
    if (!ffmpegPath) {
      logger.warn('no ffmpeg: encoders (RTMP, SRT) cannot go on air on this server');
      return;
    }
    if (rtmpPort !== 'off') {
      try {
        this.#rtmp = await RtmpServer.listen({
          host: this.#o.listenHost,
          port: rtmpPort,
          logger,
          authorize: (request) => this.#authorizeRtmp(request),
        });
      } catch (error) {
        // A port taken by another program costs the encoders their RTMP door, not everyone their platform.
        logger.error({ err: error, port: rtmpPort }, 'RTMP ingest cannot listen: encoders can use SRT or WHIP (set DIEMCAU_RTMP_PORT)');
      }
    }
    if (this.#rtmp) {
      this.#rtmp.on('refused', (request) => {
        void this.#refused('rtmp', parseRtmpStreamKey(request.name)?.sessionId, request.remoteAddress, request.reason);
      });
      this.#rtmp.on('publish', (publisher) => {
        const connected = this.#connect(publisher.feedId, 'rtmp', publisher.request.remoteAddress, publisher.flv, (reason) =>
          publisher.close(reason),
        );
        if (publisher.closed) void this.#disconnected(publisher.feedId, connected, 'closed');
        else publisher.once('close', (reason) => void this.#disconnected(publisher.feedId, connected, reason));
      });
      logger.info({ port: this.#rtmp.port }, 'RTMP ingest listening');
    }
    // A session's SRT address listens while its room is open, and from when the operator first looks at it.
    sessions.on('room', (room) => void this.#listenSrt(room.id).catch((error) => this.#warn(room.id, error)));
    sessions.on('changed', (record) => {
      if (closedStatuses.has(record.status)) this.#stopSession(record.id, `the session is ${record.status}`);
    });
  }

  /** The addresses and secrets of a session's encoder, and its feed now. */
  async describe(sessionId: string): Promise<SessionIngest> {
    const record = this.#sessionOf(sessionId);
    if (!closedStatuses.has(record.status)) await this.#listenSrt(sessionId).catch((error) => this.#warn(sessionId, error));
    const ingest = await this.#record(sessionId);
    const secret = (protocol: IngestProtocol) => ingestSecret(this.#o.secret, sessionId, protocol, ingest.generations[protocol]);
    const host = this.#o.publicHost.includes(':') ? `[${this.#o.publicHost}]` : this.#o.publicHost;
    const addresses: IngestAddress[] = [];
    const rtmpPort = this.#rtmp?.port;
    addresses.push({
      protocol: 'rtmp',
      url: `rtmp://${host}:${rtmpPort ?? 1935}/live`,
      streamKey: rtmpStreamKey(sessionId, secret('rtmp')),
      available: rtmpPort !== undefined,
    });
    const srt = this.#srt.get(sessionId);
    const passphrase = secret('srt');
    const streamId = srtStreamId(sessionId);
    const srtQuery = `mode=caller&latency=200000&pbkeylen=16&passphrase=${passphrase}&streamid=${streamId}`;
    addresses.push({
      protocol: 'srt',
      url: `srt://${host}:${srt?.port ?? ingest.srtPort ?? 0}?${srtQuery}`,
      passphrase,
      streamId,
      available: srt !== undefined,
    });
    addresses.push({
      protocol: 'whip',
      url: `${this.#o.publicUrl ?? ''}/whip/${encodeURIComponent(sessionId)}`,
      bearerToken: secret('whip'),
      available: this.#o.publicUrl !== undefined,
    });
    return { sessionId, addresses, feed: this.status(sessionId) };
  }

  /** A new secret for one protocol: the old one stops working and an encoder using it is cut off. */
  async rotate(sessionId: string, protocol: IngestProtocol, actor: string): Promise<SessionIngest> {
    this.#sessionOf(sessionId);
    await this.#o.store.update<IngestRecord>('ingest', sessionId, (current) => {
      const record = current ?? newRecord(sessionId);
      return { ...record, generations: { ...record.generations, [protocol]: record.generations[protocol] + 1 } };
    });
    const connected = this.#feeds.get(sessionId);
    if (connected?.protocol === protocol) connected.disconnect('its secret was replaced');
    if (protocol === 'srt') await this.#restartSrt(sessionId);
    await this.#o.audit.record({ actor, action: 'ingest.rotate', sessionId, details: { protocol } });
    return this.describe(sessionId);
  }

  /** The encoder connected to a session now, if any. */
  status(sessionId: string): EncoderFeedStatus | null {
    const connected = this.#feeds.get(sessionId);
    if (!connected) return null;
    const stats = connected.feed?.stats ?? connected.whip?.stats ?? null;
    return {
      protocol: connected.protocol,
      connectedAt: connected.connectedAt,
      remoteAddress: connected.remoteAddress,
      // The protocol's shape, whatever a feed keeps beside it (the ladder's layers included);
      // a reading the protocol cannot carry (NaN) shows as none rather than failing the console's request.
      stats: stats && (feedStatsSchema.safeParse(stats).data ?? null),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const feeds = [...this.#feeds.values()];
    this.#feeds.clear();
    for (const connected of feeds) connected.disconnect('the server is stopping');
    await Promise.all(feeds.flatMap((c) => (c.feed ? [c.feed.close('the server is stopping')] : [])));
    await Promise.all([...this.#srt.values()].map((l) => l.close()));
    this.#srt.clear();
    await this.#rtmp?.close();
    this.#rtmp = null;
  }

  // ---- Encoders arriving ------------------------------------------------------------

  async #authorizeRtmp(request: RtmpPublishRequest): Promise<{ ok: true; feedId: string } | { ok: false; reason: string }> {
    if (request.app !== 'live') return { ok: false, reason: 'unknown application (expected rtmp://…/live)' };
    const key = parseRtmpStreamKey(request.name);
    if (!key) return { ok: false, reason: 'not a stream key of this server' };
    const record = this.#o.sessions.has(key.sessionId) ? this.#o.sessions.get(key.sessionId) : undefined;
    if (!record) return { ok: false, reason: 'no such session' };
    if (closedStatuses.has(record.status)) return { ok: false, reason: `the session is ${record.status}` };
    const ingest = await this.#record(key.sessionId);
    if (!sameSecret(key.secret, ingestSecret(this.#o.secret, key.sessionId, 'rtmp', ingest.generations.rtmp))) {
      return { ok: false, reason: 'wrong or revoked stream key' };
    }
    if (this.#feeds.has(key.sessionId)) return { ok: false, reason: 'another encoder is already sending this session' };
    return { ok: true, feedId: key.sessionId };
  }

  /**
   * An accepted encoder becomes the session's studio. Returns what the
   * connection's close must end (null when refused: a second encoder).
   */
  #connect(
    sessionId: string,
    protocol: IngestProtocol,
    remoteAddress: string,
    flv: Readable,
    disconnect: (reason: string) => void,
  ): ConnectedFeed | null {
    const refusal = this.#refusal(sessionId);
    if (refusal) {
      disconnect(refusal);
      void this.#refused(protocol, sessionId, remoteAddress, refusal);
      return null;
    }
    const connected: ConnectedFeed = { protocol, remoteAddress, connectedAt: Date.now(), feed: null, whip: null, disconnect };
    this.#feeds.set(sessionId, connected);
    void this.#goOnAir(sessionId, connected, flv);
    return connected;
  }

  /** Why an encoder may not connect to a session now (the single-encoder rule), or null. */
  #refusal(sessionId: string): string | null {
    if (this.#closed) return 'the server is stopping';
    if (this.#feeds.has(sessionId)) return 'another encoder is already sending this session';
    return null;
  }

  async #goOnAir(sessionId: string, connected: ConnectedFeed, flv: Readable): Promise<void> {
    const { logger, sessions, audit } = this.#o;
    const { protocol, remoteAddress } = connected;
    try {
      await audit.record({ actor: identity, action: 'ingest.connected', sessionId, details: { protocol, remoteAddress } });
      const room = await sessions.room(sessionId);
      const feed = await EncoderFeed.start({ room, identity, name: displayName, flv, ffmpegPath: this.#o.ffmpegPath!, logger });
      // The encoder may have left while its feed started.
      if (this.#feeds.get(sessionId) !== connected) return void (await feed.close('the encoder left'));
      connected.feed = feed;
      feed.once('close', (reason) => connected.disconnect(reason));
      logger.info({ session: sessionId, protocol, remoteAddress }, 'an encoder is the studio');
      this.emit('feed', sessionId, this.status(sessionId));
    } catch (error) {
      logger.warn({ err: error, session: sessionId, protocol }, 'the encoder could not go on air');
      connected.disconnect(error instanceof Error ? error.message : 'the encoder could not go on air');
    }
  }

  // ---- WHIP: an HTTP resource per encoder (whipApi.ts) ------------------------------------

  /**
   * Checks a WHIP encoder's bearer token against the session's current WHIP
   * secret. A missing, wrong or revoked one is written to the audit log and
   * refused (UnauthorizedError); so is a session that is gone or over.
   */
  async authorizeWhip(sessionId: string, token: string | undefined, remoteAddress: string): Promise<void> {
    const record = this.#o.sessions.has(sessionId) ? this.#o.sessions.get(sessionId) : undefined;
    if (!record) {
      await this.#refused('whip', sessionId, remoteAddress, 'no such session');
      throw new NotFoundError(`no session ${sessionId}`);
    }
    const ingest = await this.#record(sessionId);
    if (!token || !sameSecret(token, ingestSecret(this.#o.secret, sessionId, 'whip', ingest.generations.whip))) {
      await this.#refused('whip', sessionId, remoteAddress, token ? 'wrong or revoked bearer token' : 'no bearer token');
      throw new UnauthorizedError('wrong, revoked or missing WHIP bearer token');
    }
    if (closedStatuses.has(record.status)) {
      await this.#refused('whip', sessionId, remoteAddress, `the session is ${record.status}`);
      throw new ConflictError(`the session is ${record.status}`);
    }
  }

  /**
   * An authorized WHIP encoder's SDP offer: the encoder becomes the
   * session's studio, and its resource (the id its DELETE names) and SDP
   * answer are returned. A second encoder is refused (ConflictError), an
   * offer the server cannot take too (WhipOfferError); both are audited.
   */
  async attachWhip(sessionId: string, offer: string, remoteAddress: string): Promise<WhipSession> {
    const { audit, sessions, logger } = this.#o;
    const refusal = this.#refusal(sessionId);
    if (refusal) {
      await this.#refused('whip', sessionId, remoteAddress, refusal);
      throw new ConflictError(refusal);
    }
    // Held from now on: a second POST while this one starts is refused, as a second RTMP encoder is.
    const connected: ConnectedFeed = {
      protocol: 'whip',
      remoteAddress,
      connectedAt: Date.now(),
      feed: null,
      whip: null,
      disconnect: (reason) => (connected.whip ? connected.whip.close(reason) : void this.#disconnected(sessionId, connected, reason)),
    };
    this.#feeds.set(sessionId, connected);
    let whip: WhipSession | undefined;
    try {
      const room = await sessions.room(sessionId);
      whip = await WhipSession.start({ room, offer, identity, name: displayName, logger });
      // Cut off while it started (a new secret, the session ended, the server stopping).
      if (this.#feeds.get(sessionId) !== connected) throw new ConflictError('the encoder was cut off while it connected');
    } catch (error) {
      whip?.close('the encoder could not go on air');
      if (this.#feeds.get(sessionId) === connected) this.#feeds.delete(sessionId);
      await this.#refused('whip', sessionId, remoteAddress, error instanceof Error ? error.message : String(error));
      throw error;
    }
    connected.whip = whip;
    whip.once('close', (reason) => void this.#disconnected(sessionId, connected, reason));
    logger.info({ session: sessionId, protocol: 'whip', remoteAddress, resource: whip.id }, 'an encoder is the studio');
    this.emit('feed', sessionId, this.status(sessionId));
    await audit
      .record({ actor: identity, action: 'ingest.connected', sessionId, details: { protocol: 'whip', remoteAddress } })
      .catch((error) => this.#warn(sessionId, error));
    return whip;
  }

  /** A WHIP encoder ends its session (its DELETE): its studio leaves. NotFoundError for a resource that is not the session's encoder. */
  detachWhip(sessionId: string, resourceId: string): void {
    const whip = this.#feeds.get(sessionId)?.whip;
    if (!whip || whip.id !== resourceId) throw new NotFoundError('no such WHIP session');
    whip.close('the encoder ended its session');
  }

  /** The encoder's connection closed: its studio leaves the session. */
  async #disconnected(sessionId: string, connected: ConnectedFeed | null, reason: string): Promise<void> {
    if (!connected || this.#feeds.get(sessionId) !== connected) return;
    this.#feeds.delete(sessionId);
    await connected.feed?.close(reason);
    this.emit('feed', sessionId, null);
    await this.#o.audit
      .record({ actor: identity, action: 'ingest.disconnected', sessionId, details: { protocol: connected.protocol, reason } })
      .catch((error) => this.#warn(sessionId, error));
  }

  async #refused(protocol: IngestProtocol, sessionId: string | undefined, remoteAddress: string, reason: string): Promise<void> {
    this.#o.logger.warn({ protocol, session: sessionId, remoteAddress, reason }, 'encoder refused');
    await this.#o.audit
      .record({ actor: remoteAddress || 'encoder', action: 'ingest.refused', sessionId, details: { protocol, reason } })
      .catch((error) => this.#warn(sessionId ?? '', error));
  }

  // ---- SRT: a listener per session ------------------------------------------------------

  async #listenSrt(sessionId: string): Promise<void> {
    const { srtPorts, ffmpegPath, listenHost, logger } = this.#o;
    if (srtPorts === 'off' || !ffmpegPath || this.#closed || this.#srt.has(sessionId)) return;
    const port = await this.#srtPort(sessionId);
    if (this.#srt.has(sessionId) || this.#closed) return;
    const ingest = await this.#record(sessionId);
    const listener = SrtListener.start({
      host: listenHost,
      port,
      passphrase: ingestSecret(this.#o.secret, sessionId, 'srt', ingest.generations.srt),
      streamId: srtStreamId(sessionId),
      ffmpegPath,
      logger,
    });
    this.#srt.set(sessionId, listener);
    listener.on('connection', (connection) => {
      const connected = this.#connect(sessionId, 'srt', 'srt caller', connection.flv, (reason) => connection.close(reason));
      if (connection.closed) void this.#disconnected(sessionId, connected, 'closed');
      else connection.once('close', (reason) => void this.#disconnected(sessionId, connected, reason));
    });
    listener.on('refused', ({ reason }) => void this.#refused('srt', sessionId, 'srt caller', reason));
    listener.on('error', (error) => this.#warn(sessionId, error));
    logger.info({ session: sessionId, port }, 'SRT ingest listening');
  }

  async #restartSrt(sessionId: string): Promise<void> {
    const listener = this.#srt.get(sessionId);
    if (!listener) return;
    this.#srt.delete(sessionId);
    await listener.close();
    await this.#listenSrt(sessionId);
  }

  /** The session's SRT port: kept once given (the encoder is set up with it ahead), else the first free one of the range. */
  async #srtPort(sessionId: string): Promise<number> {
    const { srtPorts, listenHost, store } = this.#o;
    const ingest = await this.#record(sessionId);
    if (srtPorts === 'auto') return ingest.srtPort ?? (await freeUdpPort(listenHost));
    if (srtPorts === 'off') throw new ConflictError('SRT is off on this server');
    if (ingest.srtPort !== undefined && ingest.srtPort >= srtPorts.first && ingest.srtPort <= srtPorts.last) return ingest.srtPort;
    const records = await store.list<IngestRecord>('ingest');
    const taken = new Set(
      records.filter((r) => r.sessionId !== sessionId && this.#stillOpen(r.sessionId) && r.srtPort !== undefined).map((r) => r.srtPort),
    );
    for (let port = srtPorts.first; port <= srtPorts.last; port++) {
      if (taken.has(port)) continue;
      await store.update<IngestRecord>('ingest', sessionId, (current) => ({ ...(current ?? newRecord(sessionId)), srtPort: port }));
      return port;
    }
    throw new ConflictError(`every SRT port (${srtPorts.first}-${srtPorts.last}) is given to another session`);
  }

  #stillOpen(sessionId: string): boolean {
    return this.#o.sessions.has(sessionId) && !closedStatuses.has(this.#o.sessions.get(sessionId).status);
  }

  #stopSession(sessionId: string, reason: string): void {
    this.#feeds.get(sessionId)?.disconnect(reason);
    const listener = this.#srt.get(sessionId);
    if (listener) {
      this.#srt.delete(sessionId);
      void listener.close();
    }
  }

  // ---- Records ----------------------------------------------------------------------------

  #sessionOf(sessionId: string): SessionRecord {
    if (!this.#o.sessions.has(sessionId)) throw new NotFoundError(`no session ${sessionId}`);
    return this.#o.sessions.get(sessionId);
  }

  async #record(sessionId: string): Promise<IngestRecord> {
    return (await this.#o.store.get<IngestRecord>('ingest', sessionId)) ?? newRecord(sessionId);
  }

  #warn(sessionId: string, error: unknown): void {
    this.#o.logger.warn({ err: error, session: sessionId }, 'encoder ingest');
  }
}

function newRecord(sessionId: string): IngestRecord {
  return { sessionId, generations: { rtmp: 0, srt: 0, whip: 0 } };
}
