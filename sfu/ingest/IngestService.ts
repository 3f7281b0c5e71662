import { EventEmitter } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
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
import type { Room } from '../room/Room.js';
import type { SessionRegistry, SessionRecord } from '../room/SessionRegistry.js';
import type { Store } from '../store/Store.js';
import { backupIdentity, choosesOnJoin, encoderIdentity, studioOnTakeover } from './backupEncoder.js';
import { EncoderFeed } from './EncoderFeed.js';
import { freeUdpPort } from './freeUdpPort.js';
import { ingestSecret, parseRtmpStreamKey, rtmpStreamKey, sameSecret, srtStreamId } from './ingestSecrets.js';
import { RtmpServer } from './rtmp/RtmpServer.js';
import type { RtmpPublishRequest, RtmpTls } from './rtmp/types.js';
import { findSrtLiveTransmit, SrtListener, type SrtConnection } from './srt/SrtListener.js';
import { WhipSession } from './whip/WhipSession.js';

/**
 * What the store keeps per session: the secrets' generations (a new one
 * revokes the old), its SRT port, and whether the operator allows a backup
 * encoder (absent: not allowed).
 */
interface IngestRecord {
  sessionId: string;
  generations: Record<IngestProtocol, number>;
  srtPort?: number;
  allowBackup?: boolean;
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
  /** RTMPS beside RTMP, served with the certificate and key below (PEM files); without both it is off. */
  rtmpsPort?: number | 'off';
  tlsCertFile?: string;
  tlsKeyFile?: string;
  srtPorts: { first: number; last: number } | 'auto' | 'off';
  /** Without ffmpeg no feed can be turned into the studio: nothing listens. */
  ffmpegPath: string | undefined;
  /** srt-live-transmit (Debian's srt-tools), which receives SRT callers; looked up on the PATH when not given, SRT off when null. */
  srtLiveTransmitPath?: string | null;
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
  /** Its studio peer's identity in the session (backupEncoder.ts): kept for its whole connection, takeover included. */
  identity: string;
  /** The session's Room, once its studio is joining. */
  room: Room | null;
  /** It is being cut off: a backup that is leaving does not take over. */
  leaving: boolean;
  /** It took over from a main that dropped before its studio had joined: it is chosen as soon as it has. */
  chooseOnJoin: boolean;
  feed: EncoderFeed | null;
  /** A WHIP encoder's WebRTC session, once answered (WHIP needs no ffmpeg: its studio is its own WebRTC peer). */
  whip: WhipSession | null;
  /** Cuts the encoder off (its connection is closed). */
  disconnect(reason: string): void;
}

/** Audit actor for what the encoders do. */
const identity = encoderIdentity;
const displayName = 'Bàn phát sóng';
const backupDisplayName = 'Bàn phát sóng (dự phòng)';
const secondEncoderRefusal = 'another encoder is already sending this session';
const closedStatuses = new Set<SessionRecord['status']>(['ended', 'cancelled']);

/**
 * The broadcast desk's way on air: an encoder (OBS, vMix, a hardware H.264
 * encoder) sends the session's program over RTMP (one port for every session,
 * the stream key names the session and carries its secret), SRT (a port per
 * session, an AES passphrase) or WHIP (WebRTC, an HTTP POST with a bearer
 * token: whipApi.ts), and becomes the session's studio. Each
 * protocol has its own secret per session; a wrong or revoked one is refused
 * and written to the audit log, and a second encoder on a session that has
 * one is refused — unless the operator allows a backup: then the second is
 * a silent, off-air studio beside the first, and takes over the moment the
 * main drops (a returning encoder is then the backup). A third is refused.
 */
export class IngestService extends EventEmitter<IngestServiceEvents> {
  readonly #o: IngestServiceOptions;
  #rtmp: RtmpServer | null = null;
  #rtmps: RtmpServer | null = null;
  /** RTMPS: when its certificate files were read (their times and sizes), and the timer that looks for a renewal. */
  #certificateStamp = '';
  #certificateCheck: NodeJS.Timeout | null = null;
  readonly #srt = new Map<string, SrtListener>();
  /** The SRT caller behind a connected feed: its link statistics go into the feed's. */
  readonly #srtLinks = new WeakMap<ConnectedFeed, SrtConnection>();
  #srtTransmitter: string | null | undefined;
  /** Each session's main encoder. */
  readonly #feeds = new Map<string, ConnectedFeed>();
  /** Each session's backup encoder, while the operator allows one and it is connected. */
  readonly #backups = new Map<string, ConnectedFeed>();
  /**
   * Whether each session allows a backup, as last read from or written to the
   * store: RTMP's publish and SRT's connection are handled synchronously, and
   * each is preceded by a read of the record (the key's check, the listener's start).
   */
  readonly #allowBackup = new Map<string, boolean>();
  #closed = false;

  constructor(options: IngestServiceOptions) {
    super();
    this.#o = options;
  }

  get rtmpPort(): number | null {
    return this.#rtmp?.port ?? null;
  }

  get rtmpsPort(): number | null {
    return this.#rtmps?.port ?? null;
  }

  async start(): Promise<void> {
    const { sessions, ffmpegPath, rtmpPort, logger } = this.#o;
    if (!ffmpegPath) {
      logger.warn('no ffmpeg: encoders (RTMP, SRT) cannot go on air on this server');
      return;
    }
    if (rtmpPort !== 'off') this.#rtmp = await this.#listenRtmp(rtmpPort);
    this.#rtmps = await this.#listenRtmps();
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
    const streamKey = rtmpStreamKey(sessionId, secret('rtmp'));
    addresses.push({
      protocol: 'rtmp',
      tls: false,
      url: `rtmp://${host}:${rtmpPort ?? 1935}/live`,
      streamKey,
      available: rtmpPort !== undefined,
    });
    // RTMPS: the same stream key over TLS; listed (unavailable) without a certificate, so the console can say how to get it.
    const rtmpsPort = this.#rtmps?.port ?? (typeof this.#o.rtmpsPort === 'number' && this.#o.rtmpsPort > 0 ? this.#o.rtmpsPort : 1936);
    addresses.push({
      protocol: 'rtmp',
      tls: true,
      url: `rtmps://${host}:${rtmpsPort}/live`,
      streamKey,
      available: this.#rtmps !== null,
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
    return {
      sessionId,
      addresses,
      allowBackup: ingest.allowBackup === true,
      feed: this.status(sessionId),
      backup: this.backupStatus(sessionId),
    };
  }

  /**
   * The operator allows a backup encoder on a session, or no longer does:
   * then a backup connected now is cut off (the main stays on air).
   */
  async allowBackup(sessionId: string, allow: boolean, actor: string): Promise<SessionIngest> {
    this.#sessionOf(sessionId);
    await this.#o.store.update<IngestRecord>('ingest', sessionId, (current) => ({
      ...(current ?? newRecord(sessionId)),
      allowBackup: allow,
    }));
    this.#allowBackup.set(sessionId, allow);
    const backup = this.#backups.get(sessionId);
    if (!allow && backup) this.#cutOff(backup, 'the operator no longer allows a backup encoder');
    await this.#o.audit.record({ actor, action: 'ingest.backup', sessionId, details: { allow } });
    return this.describe(sessionId);
  }

  /** A new secret for one protocol: the old one stops working and an encoder using it is cut off. */
  async rotate(sessionId: string, protocol: IngestProtocol, actor: string): Promise<SessionIngest> {
    this.#sessionOf(sessionId);
    await this.#o.store.update<IngestRecord>('ingest', sessionId, (current) => {
      const record = current ?? newRecord(sessionId);
      return { ...record, generations: { ...record.generations, [protocol]: record.generations[protocol] + 1 } };
    });
    // The backup first: a main cut off must not hand the program to a backup cut off with it.
    for (const connected of [this.#backups.get(sessionId), this.#feeds.get(sessionId)]) {
      if (connected?.protocol === protocol) this.#cutOff(connected, 'its secret was replaced');
    }
    if (protocol === 'srt') await this.#restartSrt(sessionId);
    await this.#o.audit.record({ actor, action: 'ingest.rotate', sessionId, details: { protocol } });
    return this.describe(sessionId);
  }

  /** The encoder connected to a session now (the main, when there is a backup), if any. */
  status(sessionId: string): EncoderFeedStatus | null {
    return this.#statusOf(this.#feeds.get(sessionId));
  }

  /** The backup encoder connected to a session now, if any. */
  backupStatus(sessionId: string): EncoderFeedStatus | null {
    return this.#statusOf(this.#backups.get(sessionId));
  }

  #statusOf(connected: ConnectedFeed | undefined): EncoderFeedStatus | null {
    if (!connected || connected.leaving) return null;
    const feedStats = connected.feed?.stats ?? connected.whip?.stats ?? null;
    const srt = this.#srtLinks.get(connected)?.linkStats;
    const stats = feedStats && srt ? { ...feedStats, srt } : feedStats;
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
    const feeds = [...this.#backups.values(), ...this.#feeds.values()];
    this.#backups.clear();
    this.#feeds.clear();
    for (const connected of feeds) connected.disconnect('the server is stopping');
    await Promise.all(feeds.flatMap((c) => (c.feed ? [c.feed.close('the server is stopping')] : [])));
    await Promise.all([...this.#srt.values()].map((l) => l.close()));
    this.#srt.clear();
    if (this.#certificateCheck) clearInterval(this.#certificateCheck);
    this.#certificateCheck = null;
    await Promise.all([this.#rtmp?.close(), this.#rtmps?.close()]);
    this.#rtmp = this.#rtmps = null;
  }

  // ---- RTMP and RTMPS: one port each for every session ----------------------------------

  /**
   * An RTMP (or, with a certificate, RTMPS) server whose publishes become
   * studios; null when it cannot listen: a port taken by another program
   * costs the encoders that door, not everyone their platform.
   */
  async #listenRtmp(port: number, certificate?: RtmpTls): Promise<RtmpServer | null> {
    const { logger, listenHost } = this.#o;
    let server: RtmpServer;
    try {
      server = await RtmpServer.listen({ host: listenHost, port, logger, tls: certificate, authorize: (r) => this.#authorizeRtmp(r) });
    } catch (error) {
      if (certificate) {
        logger.error({ err: error, port }, 'RTMPS ingest cannot listen: encoders can use RTMP, SRT or WHIP (set DIEMCAU_RTMPS_PORT)');
      } else {
        logger.error({ err: error, port }, 'RTMP ingest cannot listen: encoders can use SRT or WHIP (set DIEMCAU_RTMP_PORT)');
      }
      return null;
    }
    server.on('refused', (request) => {
      void this.#refused('rtmp', parseRtmpStreamKey(request.name)?.sessionId, request.remoteAddress, request.reason);
    });
    server.on('publish', (publisher) => {
      const connected = this.#connect(publisher.feedId, 'rtmp', publisher.request.remoteAddress, publisher.flv, (reason) =>
        publisher.close(reason),
      );
      if (publisher.closed) void this.#disconnected(publisher.feedId, connected, 'closed');
      else publisher.once('close', (reason) => void this.#disconnected(publisher.feedId, connected, reason));
    });
    logger.info({ port: server.port }, certificate ? 'RTMPS ingest listening' : 'RTMP ingest listening');
    return server;
  }

  /**
   * RTMPS, where a certificate is configured. A certificate that cannot be
   * read or used costs RTMPS alone: the server starts, and says why.
   */
  async #listenRtmps(): Promise<RtmpServer | null> {
    const { rtmpsPort = 'off', tlsCertFile, tlsKeyFile, logger } = this.#o;
    if (rtmpsPort === 'off') return null;
    if (!tlsCertFile && !tlsKeyFile) {
      logger.info('RTMPS ingest off: no certificate (set DIEMCAU_TLS_CERT and DIEMCAU_TLS_KEY)');
      return null;
    }
    if (!tlsCertFile || !tlsKeyFile) {
      logger.error(`RTMPS ingest unavailable: ${tlsCertFile ? 'DIEMCAU_TLS_KEY' : 'DIEMCAU_TLS_CERT'} is not set (both are needed)`);
      return null;
    }
    let certificate: RtmpTls;
    try {
      this.#certificateStamp = await certificateStamp(tlsCertFile, tlsKeyFile);
      const [cert, key] = await Promise.all([readFile(tlsCertFile), readFile(tlsKeyFile)]);
      certificate = { cert, key };
    } catch (error) {
      logger.error(
        { err: error, cert: tlsCertFile, key: tlsKeyFile },
        'RTMPS ingest unavailable: the certificate or its key cannot be read (DIEMCAU_TLS_CERT, DIEMCAU_TLS_KEY)',
      );
      return null;
    }
    const server = await this.#listenRtmp(rtmpsPort, certificate);
    if (server) {
      this.#certificateCheck = setInterval(() => void this.reloadCertificate(), certificateCheckMs);
      this.#certificateCheck.unref();
    }
    return server;
  }

  /**
   * Reads the RTMPS certificate again if its files changed (a renewal: Let's
   * Encrypt's come every 60 days), so that new connections get the new one
   * without a restart; open ones keep theirs. Runs every ten minutes. A
   * renewal that cannot be read or used (its key not written yet) keeps the
   * current certificate, and is tried again. Returns whether it was replaced.
   */
  async reloadCertificate(): Promise<boolean> {
    const { tlsCertFile, tlsKeyFile, logger } = this.#o;
    if (!this.#rtmps || !tlsCertFile || !tlsKeyFile) return false;
    try {
      const stamp = await certificateStamp(tlsCertFile, tlsKeyFile);
      if (stamp === this.#certificateStamp) return false;
      const [cert, key] = await Promise.all([readFile(tlsCertFile), readFile(tlsKeyFile)]);
      this.#rtmps.setCertificate({ cert, key });
      this.#certificateStamp = stamp;
      logger.info({ cert: tlsCertFile }, 'RTMPS certificate renewed');
      return true;
    } catch (error) {
      logger.warn(
        { err: error, cert: tlsCertFile, key: tlsKeyFile },
        'RTMPS certificate changed but cannot be used yet: the current one stays',
      );
      return false;
    }
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
    const slot = this.#slotFor(key.sessionId);
    if (!slot.ok) return { ok: false, reason: slot.refused };
    return { ok: true, feedId: key.sessionId };
  }

  /**
   * An accepted encoder becomes the session's studio, or its backup. Returns
   * what the connection's close must end (null when refused: one too many).
   */
  #connect(
    sessionId: string,
    protocol: IngestProtocol,
    remoteAddress: string,
    flv: Readable,
    disconnect: (reason: string) => void,
  ): ConnectedFeed | null {
    const slot = this.#slotFor(sessionId);
    if (!slot.ok) {
      disconnect(slot.refused);
      void this.#refused(protocol, sessionId, remoteAddress, slot.refused);
      return null;
    }
    const connected = this.#hold(sessionId, slot.backup, protocol, remoteAddress, disconnect);
    void this.#goOnAir(sessionId, connected, flv);
    return connected;
  }

  /**
   * Where an encoder connecting to a session now goes: the main when there
   * is none, the backup when the operator allows one and there is none, else
   * refused (why).
   */
  #slotFor(sessionId: string): { ok: false; refused: string } | { ok: true; backup: boolean } {
    if (this.#closed) return { ok: false, refused: 'the server is stopping' };
    if (!this.#feeds.has(sessionId)) return { ok: true, backup: false };
    if (this.#allowBackup.get(sessionId) !== true) return { ok: false, refused: secondEncoderRefusal };
    if (this.#backups.has(sessionId)) return { ok: false, refused: `${secondEncoderRefusal}, and a backup encoder too` };
    return { ok: true, backup: true };
  }

  /** Holds the slot for an encoder from its acceptance on: one arriving meanwhile is refused or becomes the backup. */
  #hold(
    sessionId: string,
    backup: boolean,
    protocol: IngestProtocol,
    remoteAddress: string,
    disconnect: (reason: string) => void,
  ): ConnectedFeed {
    const main = this.#feeds.get(sessionId);
    const connected: ConnectedFeed = {
      protocol,
      remoteAddress,
      connectedAt: Date.now(),
      identity: backup && main ? backupIdentity(main.identity) : encoderIdentity,
      room: null,
      leaving: false,
      chooseOnJoin: false,
      feed: null,
      whip: null,
      disconnect,
    };
    (backup ? this.#backups : this.#feeds).set(sessionId, connected);
    return connected;
  }

  /** Whether an encoder still holds a slot of the session (main or backup). */
  #holds(sessionId: string, connected: ConnectedFeed): boolean {
    return this.#feeds.get(sessionId) === connected || this.#backups.get(sessionId) === connected;
  }

  /** Cuts an encoder off; its connection's close removes it (#disconnected). */
  #cutOff(connected: ConnectedFeed, reason: string): void {
    connected.leaving = true;
    connected.disconnect(reason);
  }

  async #goOnAir(sessionId: string, connected: ConnectedFeed, flv: Readable): Promise<void> {
    const { logger, sessions, audit } = this.#o;
    const { protocol, remoteAddress } = connected;
    const backup = this.#backups.get(sessionId) === connected;
    try {
      await audit.record({
        actor: identity,
        action: 'ingest.connected',
        sessionId,
        details: { protocol, remoteAddress, ...(backup ? { backup } : {}) },
      });
      const room = await sessions.room(sessionId);
      connected.room = room;
      const feed = await EncoderFeed.start({
        room,
        identity: connected.identity,
        name: backup ? backupDisplayName : displayName,
        flv,
        ffmpegPath: this.#o.ffmpegPath!,
        logger,
      });
      // The encoder may have left while its feed started.
      if (!this.#holds(sessionId, connected) || connected.leaving) return void (await feed.close('the encoder left'));
      connected.feed = feed;
      feed.once('close', (reason) => connected.disconnect(reason));
      this.#joined(sessionId, connected);
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
    const slot = this.#slotFor(sessionId);
    if (!slot.ok) {
      await this.#refused('whip', sessionId, remoteAddress, slot.refused);
      throw new ConflictError(slot.refused);
    }
    // Held from now on: a POST while this one starts is refused (or is the backup), as an RTMP encoder is.
    const backup = slot.backup;
    const connected = this.#hold(sessionId, backup, 'whip', remoteAddress, (reason) =>
      connected.whip ? connected.whip.close(reason) : void this.#disconnected(sessionId, connected, reason),
    );
    let whip: WhipSession | undefined;
    try {
      const room = await sessions.room(sessionId);
      connected.room = room;
      whip = await WhipSession.start({
        room,
        offer,
        identity: connected.identity,
        name: backup ? backupDisplayName : displayName,
        logger,
      });
      // Cut off while it started (a new secret, the session ended, the server stopping).
      if (!this.#holds(sessionId, connected) || connected.leaving) throw new ConflictError('the encoder was cut off while it connected');
    } catch (error) {
      whip?.close('the encoder could not go on air');
      await this.#disconnected(sessionId, connected, 'it could not go on air', false);
      await this.#refused('whip', sessionId, remoteAddress, error instanceof Error ? error.message : String(error));
      throw error;
    }
    connected.whip = whip;
    whip.once('close', (reason) => void this.#disconnected(sessionId, connected, reason));
    this.#joined(sessionId, connected);
    await audit
      .record({
        actor: identity,
        action: 'ingest.connected',
        sessionId,
        details: { protocol: 'whip', remoteAddress, ...(backup ? { backup } : {}) },
      })
      .catch((error) => this.#warn(sessionId, error));
    return whip;
  }

  /** An encoder's studio has joined the session: on air as the main (chosen if it took over meanwhile), silent as the backup. */
  #joined(sessionId: string, connected: ConnectedFeed): void {
    const main = this.#feeds.get(sessionId) === connected;
    const room = connected.room;
    if (main && room?.peer(connected.identity)) {
      const chosen = room.snapshot().chosenStudio;
      if (connected.chooseOnJoin || choosesOnJoin(chosen, connected.identity, (id) => room.peer(id) !== undefined)) {
        room.chooseStudio(connected.identity, identity);
      }
      connected.chooseOnJoin = false;
    }
    this.#o.logger.info(
      { session: sessionId, protocol: connected.protocol, remoteAddress: connected.remoteAddress, identity: connected.identity },
      main ? 'an encoder is the studio' : 'a backup encoder is ready, off air',
    );
    if (main) this.emit('feed', sessionId, this.status(sessionId));
  }

  /** A WHIP encoder ends its session (its DELETE): its studio leaves. NotFoundError for a resource that is not the session's encoder. */
  detachWhip(sessionId: string, resourceId: string): void {
    const whip = [this.#feeds.get(sessionId)?.whip, this.#backups.get(sessionId)?.whip].find((w) => w?.id === resourceId);
    if (!whip) throw new NotFoundError('no such WHIP session');
    whip.close('the encoder ended its session');
  }

  /**
   * An encoder's connection closed: its studio leaves the session. A main
   * that drops hands the program to the backup at once, before its own
   * studio leaves, so nothing else is on air in between.
   */
  async #disconnected(sessionId: string, connected: ConnectedFeed | null, reason: string, audited = true): Promise<void> {
    if (!connected) return;
    const backup = this.#backups.get(sessionId) === connected;
    if (backup) this.#backups.delete(sessionId);
    else if (this.#feeds.get(sessionId) === connected) {
      this.#feeds.delete(sessionId);
      const next = this.#backups.get(sessionId);
      if (next && !next.leaving) this.#takeOver(sessionId, connected, next);
    } else return;
    await connected.feed?.close(reason);
    if (!backup) this.emit('feed', sessionId, this.status(sessionId));
    if (!audited) return;
    await this.#o.audit
      .record({
        actor: identity,
        action: 'ingest.disconnected',
        sessionId,
        details: { protocol: connected.protocol, reason, ...(backup ? { backup } : {}) },
      })
      .catch((error) => this.#warn(sessionId, error));
  }

  /**
   * The backup becomes the main: "the encoder" of the session from now on
   * (a returning encoder is its backup). If the main was the program studio,
   * the backup is chosen in its place (backupEncoder.ts), so a browser
   * studio that joined earlier does not win by join order.
   */
  #takeOver(sessionId: string, departed: ConnectedFeed, promoted: ConnectedFeed): void {
    this.#backups.delete(sessionId);
    this.#feeds.set(sessionId, promoted);
    const room = departed.room;
    if (room && !room.closed) {
      const snapshot = room.snapshot();
      const choice = studioOnTakeover({
        chosen: snapshot.chosenStudio,
        onAir: snapshot.studio,
        departed: departed.identity,
        promoted: promoted.identity,
      });
      if (choice && room.peer(choice)) room.chooseStudio(choice, identity);
      // Its studio is still joining: chosen once it has (#joined).
      else if (choice) promoted.chooseOnJoin = true;
    }
    this.#o.logger.info({ session: sessionId, from: departed.identity, to: promoted.identity }, 'the backup encoder takes over');
    void this.#o.audit
      .record({
        actor: identity,
        action: 'ingest.takeover',
        sessionId,
        details: { protocol: promoted.protocol, remoteAddress: promoted.remoteAddress, from: departed.identity, to: promoted.identity },
      })
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
    const transmitterPath = this.#findSrtTransmitter();
    if (!transmitterPath) return;
    const port = await this.#srtPort(sessionId);
    if (this.#srt.has(sessionId) || this.#closed) return;
    const ingest = await this.#record(sessionId);
    const listener = SrtListener.start({
      host: listenHost,
      port,
      passphrase: ingestSecret(this.#o.secret, sessionId, 'srt', ingest.generations.srt),
      ffmpegPath,
      transmitterPath,
      logger,
    });
    this.#srt.set(sessionId, listener);
    listener.on('connection', (connection) => {
      const connected = this.#connect(sessionId, 'srt', 'srt caller', connection.flv, (reason) => connection.close(reason));
      if (connected) this.#srtLinks.set(connected, connection);
      if (connection.closed) void this.#disconnected(sessionId, connected, 'closed');
      else connection.once('close', (reason) => void this.#disconnected(sessionId, connected, reason));
    });
    listener.on('refused', ({ reason }) => void this.#refused('srt', sessionId, 'srt caller', reason));
    listener.on('error', (error) => this.#warn(sessionId, error));
    logger.info({ session: sessionId, port }, 'SRT ingest listening');
  }

  /** srt-live-transmit, looked up once; without it SRT is not offered (the address shows as unavailable). */
  #findSrtTransmitter(): string | null {
    if (this.#srtTransmitter === undefined) {
      this.#srtTransmitter = this.#o.srtLiveTransmitPath === undefined ? findSrtLiveTransmit() : this.#o.srtLiveTransmitPath;
      if (!this.#srtTransmitter) {
        this.#o.logger.error('no srt-live-transmit (Debian package srt-tools): SRT ingest is unavailable on this server');
      }
    }
    return this.#srtTransmitter;
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
    for (const connected of [this.#backups.get(sessionId), this.#feeds.get(sessionId)]) if (connected) this.#cutOff(connected, reason);
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
    const record = (await this.#o.store.get<IngestRecord>('ingest', sessionId)) ?? newRecord(sessionId);
    this.#allowBackup.set(sessionId, record.allowBackup === true);
    return record;
  }

  #warn(sessionId: string, error: unknown): void {
    this.#o.logger.warn({ err: error, session: sessionId }, 'encoder ingest');
  }
}

/** How often the RTMPS certificate's files are looked at for a renewal. */
const certificateCheckMs = 10 * 60_000;

/** What changes when a certificate is renewed: its files' times and sizes (through symbolic links, as certbot keeps them). */
async function certificateStamp(certFile: string, keyFile: string): Promise<string> {
  const [cert, key] = await Promise.all([stat(certFile), stat(keyFile)]);
  return `${cert.mtimeMs}:${cert.size}:${key.mtimeMs}:${key.size}`;
}

function newRecord(sessionId: string): IngestRecord {
  return { sessionId, generations: { rtmp: 0, srt: 0, whip: 0 } };
}
