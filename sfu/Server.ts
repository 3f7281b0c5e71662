import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { guessAnnouncedAddress, type Config } from '../config/schema.js';
import type { TokenClaims } from '../protocol/index.js';
import { RecordingService } from '../recorder/RecordingService.js';
import { AuditLog } from './audit/AuditLog.js';
import { RoomAudit } from './audit/roomAudit.js';
import { OperatorAccounts } from './auth/OperatorAccounts.js';
import { TokenService } from './auth/TokenService.js';
import { createAuthApi } from './http/authApi.js';
import { createAccountsApi } from './http/accountsApi.js';
import { endAccountSockets } from './auth/accountSockets.js';
import { createApi, invitationPath } from './http/api.js';
import { createDocumentsApi } from './http/documentsApi.js';
import { createPointsApi } from './http/pointsApi.js';
import { DocumentStore } from './documents/DocumentStore.js';
import { PointRegistry } from './registry/PointRegistry.js';
import { createMetrics } from './http/metrics.js';
import { createRecordingRoutes } from './http/recordings.js';
import { createOpenApiRouter } from './http/openapi.js';
import { createIngestApi } from './http/ingestApi.js';
import { createWhipApi } from './http/whipApi.js';
import { IngestService } from './ingest/IngestService.js';
import { createRollCallRouters } from './http/rollcallApi.js';
import { demoRoute } from './http/demoRoute.js';
import { errorHandler, notFound } from './http/errorHandler.js';
import { AttendanceService } from './rollcall/Attendance.js';
import { RollCallService } from './rollcall/RollCall.js';
import { ReadinessService } from './readiness/ReadinessService.js';
import { WebhookDispatcher } from './webhooks/WebhookDispatcher.js';
import { createLogger, type Logger } from './logger.js';
import { WorkerPool } from './media/WorkerPool.js';
import { SessionRegistry } from './room/SessionRegistry.js';
import { Scheduler } from './schedule/Scheduler.js';
import { RoomDirectory } from './cluster/RoomDirectory.js';
import { SessionControl } from './cluster/SessionControl.js';
import { createStore } from './store/createStore.js';
import type { Store } from './store/Store.js';
import { SignalingServer } from './signaling/SignalingServer.js';

const webDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web/dist');

export interface DemoLinks {
  sessionId: string;
  studio: string;
  operator: string;
  points: { name: string; url: string }[];
}

/** The whole platform in one process: media workers, signaling, HTTP API and the web app. */
export class Server {
  readonly logger: Logger;
  readonly pool: WorkerPool;
  tokens!: TokenService;
  store!: Store;
  sessions!: SessionRegistry;
  recordings!: RecordingService;
  scheduler!: Scheduler;
  accounts!: OperatorAccounts;
  audit!: AuditLog;
  points!: PointRegistry;
  documents!: DocumentStore;
  attendance!: AttendanceService;
  rollCall!: RollCallService;
  /** The points' readiness checks (camera, microphone, speakers, network) and their latest results. */
  readiness!: ReadinessService;
  roomAudit!: RoomAudit;
  webhooks!: WebhookDispatcher;
  /** The broadcast desk's encoders (RTMP, SRT) going on air as a session's studio. */
  ingest!: IngestService;
  /** The express app (tests list its routes against the OpenAPI document). */
  app!: express.Express;
  directory!: RoomDirectory;
  /** Runs operator actions where the session's Room runs (this node or another). */
  control!: SessionControl;
  /** Set when this start created the first admin with a generated password (printed once). */
  bootstrapAdmin?: { username: string; generatedPassword?: string };
  #http?: http.Server;
  #signaling?: SignalingServer;
  #publicUrl = '';
  #closing?: Promise<void>;
  demo?: DemoLinks;

  constructor(
    readonly config: Config,
    logger?: Logger,
  ) {
    this.logger = logger ?? createLogger(config.logLevel);
    const announcedAddress = config.announcedAddress ?? guessAnnouncedAddress();
    this.pool = new WorkerPool({
      count: config.workers,
      rtcListenIp: config.rtcListenIp,
      announcedAddress,
      rtcBasePort: config.rtcBasePort,
      rtcMinPort: config.rtcMinPort,
      rtcMaxPort: config.rtcMaxPort,
      maxStreamsPerWorker: config.maxStreamsPerWorker,
      logger: this.logger,
    });
  }

  get url(): string {
    return this.#publicUrl;
  }

  get signaling(): SignalingServer {
    if (!this.#signaling) throw new Error('server not started');
    return this.#signaling;
  }

  async start(): Promise<this> {
    this.store = await createStore({ dataDir: this.config.dataDir, redisUrl: this.config.redisUrl, logger: this.logger });
    this.logger.info({ store: this.store.kind }, 'store ready');
    // Named once the node listens (its port may be chosen by the system).
    this.directory = new RoomDirectory(this.store, { node: this.config.nodeId ?? 'starting', url: '' });
    // One node owns everything on the embedded store; on Redis, a session's Room runs on one node.
    const shared = this.store.kind === 'redis' ? this.directory : undefined;
    this.recordings = new RecordingService({
      dir: path.join(this.config.dataDir, 'recordings'),
      logger: this.logger,
      autoRecord: this.config.autoRecord,
      segmentSeconds: this.config.hlsSegmentSeconds,
      dvrWindowSeconds: this.config.dvrWindowMinutes * 60,
    });
    this.sessions = new SessionRegistry({
      store: this.store,
      pool: this.pool,
      logger: this.logger,
      maxIncomingBitrate: this.config.maxIncomingBitrate,
      directory: shared,
      recording: this.recordings,
    });
    this.recordings.follow(this.sessions);
    await this.sessions.load();
    this.accounts = new OperatorAccounts(this.store, this.logger);
    this.audit = new AuditLog(this.store);
    this.points = new PointRegistry(this.store, this.logger);
    await this.points.load();
    // A disabled point's link, or one older than its last revocation, no longer admits it.
    const points = this.points;
    const accounts = this.accounts;
    const secret = TokenService.secretFrom(this.config.dataDir, this.config.tokenSecret);
    this.tokens = new TokenService({
      secret,
      ttlHours: this.config.tokenTtlHours,
      check: async (claims) => {
        await points.checkClaims(claims);
        // An account's tokens from before its sign-out, password or role change, or of a disabled or deleted account, no longer admit.
        await accounts.checkClaims(claims);
      },
    });
    this.documents = new DocumentStore(this.store, this.config.dataDir);
    // Roll call, attendance, audit and webhooks follow every Room from its creation.
    this.attendance = new AttendanceService({ sessions: this.sessions, store: this.store, logger: this.logger, points: this.points });
    this.readiness = new ReadinessService({ store: this.store, logger: this.logger });
    this.rollCall = new RollCallService({
      readiness: this.readiness,
      sessions: this.sessions,
      store: this.store,
      attendance: this.attendance,
      logger: this.logger,
      points: this.points,
    });
    this.roomAudit = new RoomAudit(this.audit, this.sessions, this.logger);
    this.webhooks = new WebhookDispatcher({ store: this.store, logger: this.logger });
    this.webhooks.attach(this.sessions, this.recordings);
    this.bootstrapAdmin = await this.accounts.bootstrap(this.config.adminUser, this.config.adminPassword);
    await this.pool.start();
    const app = express();
    this.app = app;
    app.disable('x-powered-by');
    // req.ip is the client named by a trusted proxy's X-Forwarded-For, else the socket's address (sign-in limits).
    app.set('trust proxy', this.config.trustProxy);
    const server = http.createServer(app);
    this.#http = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    const host = this.config.announcedAddress ?? (this.config.host === '0.0.0.0' ? guessAnnouncedAddress() : this.config.host);
    this.#publicUrl = this.config.publicUrl?.replace(/\/$/, '') ?? `http://${host}:${port}`;
    this.directory.identify(this.config.nodeId ?? `${os.hostname()}:${port}`, this.#publicUrl);
    this.control = new SessionControl(this.store, this.sessions, this.directory, this.logger, {
      rollCall: (sid) => this.rollCall.rollCall(sid),
    });
    await this.control.start();
    this.ingest = new IngestService({
      store: this.store,
      sessions: this.sessions,
      audit: this.audit,
      logger: this.logger,
      secret,
      publicHost: new URL(this.#publicUrl).hostname.replace(/^\[|\]$/g, ''),
      publicUrl: this.#publicUrl,
      listenHost: this.config.host,
      rtmpPort: this.config.rtmpPort,
      rtmpsPort: this.config.rtmpsPort,
      tlsCertFile: this.config.tlsCert,
      tlsKeyFile: this.config.tlsKey,
      srtPorts: this.config.srtPorts,
      ffmpegPath: this.recordings.ffmpeg.path,
    });
    await this.ingest.start();

    app.use(createRecordingRoutes(this.recordings, this.tokens));
    app.use(createWhipApi({ ingest: this.ingest }));
    app.use(
      '/api',
      createApi({
        tokens: this.tokens,
        sessions: this.sessions,
        points: this.points,
        audit: this.audit,
        logger: this.logger,
        publicUrl: this.#publicUrl,
        control: this.control,
        readiness: this.readiness,
        maxSessions: this.config.maxSessions,
        mounts: {
          ...this.#scheduleMounts(),
          ...this.#monitoringMounts(),
          '/sessions/:sid/ingest': createIngestApi({ tokens: this.tokens, ingest: this.ingest }),
          '/accounts': createAccountsApi({
            accounts: this.accounts,
            tokens: this.tokens,
            audit: this.audit,
            logger: this.logger,
            endSockets: (username, reason) => endAccountSockets(this.#signaling?.connections ?? [], username, reason),
          }),
          '/auth': createAuthApi({
            accounts: this.accounts,
            tokens: this.tokens,
            secureCookies: this.#publicUrl.startsWith('https:'),
            maxSignInPerMinute: this.config.maxSignInPerMinute,
          }),
        },
      }),
    );
    app.get(
      '/api-demo',
      demoRoute(() => this.demo),
    );
    app.get('/metrics', createMetrics(this));
    if (fs.existsSync(webDist)) {
      app.use(express.static(webDist, { index: false, maxAge: '1h' }));
      // The web app routes on the client: every other GET is the app itself.
      app.get(/^\/(?!api|ws|metrics|hls).*/, (_req, res) => res.sendFile(path.join(webDist, 'index.html')));
    } else {
      this.logger.warn({ webDist }, 'web app not built: run `npm run build:web`');
    }
    app.use(notFound, errorHandler(this.logger));
    this.#signaling = new SignalingServer(server, this.tokens, this.sessions, this.logger, {
      limits: this.config,
      store: this.store,
      audit: (entry) => this.roomAudit.record(entry),
      readiness: this.readiness,
    });
    if (this.config.demo) this.demo = await this.#createDemo();
    await this.sessions.restoreLive();
    this.scheduler = new Scheduler({ sessions: this.sessions, logger: this.logger });
    this.scheduler.start();
    this.logger.info({ url: this.#publicUrl }, 'Diemcau is running');
    return this;
  }

  /** Points, groups and documents under /api. */
  #scheduleMounts(): Record<string, express.Router> {
    const deps = { tokens: this.tokens, sessions: this.sessions, audit: this.audit, logger: this.logger };
    const { points, groups } = createPointsApi({ ...deps, points: this.points });
    const { sessionDocuments, documents } = createDocumentsApi({
      ...deps,
      documents: this.documents,
      maxBytes: Math.round(this.config.maxDocumentMb * 1024 * 1024),
    });
    return { '/points': points, '/groups': groups, '/sessions/:sid/documents': sessionDocuments, '/documents': documents };
  }

  /** Roll call, mute, attendance, audit log, webhooks and the OpenAPI document under /api. */
  #monitoringMounts(): Record<string, express.Router> {
    const { session, audit, webhooks } = createRollCallRouters({
      tokens: this.tokens,
      sessions: this.sessions,
      rollCall: this.rollCall,
      attendance: this.attendance,
      audit: this.audit,
      roomAudit: this.roomAudit,
      webhooks: this.webhooks,
      control: this.control,
    });
    return { '/sessions/:sid': session, '/audit': audit, '/webhooks': webhooks, '/openapi.json': createOpenApiRouter() };
  }

  /** Mints an invitation link for a role in a session. */
  async invitation(claims: TokenClaims, base = this.#publicUrl): Promise<string> {
    const token = await this.tokens.sign(claims);
    return `${base}${invitationPath(claims)}?token=${token}`;
  }

  /**
   * Browsers allow the camera only on HTTPS or on localhost: without a public
   * (HTTPS) URL, the demo's links are for tabs on this machine.
   */
  get localUrl(): string {
    return this.config.publicUrl ? this.#publicUrl : `http://localhost:${new URL(this.#publicUrl).port}`;
  }

  async #createDemo(): Promise<DemoLinks> {
    const base = this.localUrl;
    const sid = 'demo';
    if (!this.sessions.has(sid)) await this.sessions.create({ id: sid, title: 'Phiên họp trực tuyến thử nghiệm', public: true });
    return {
      sessionId: sid,
      studio: await this.invitation({ sid, sub: 'studio', role: 'studio', name: 'Hội trường tỉnh' }, base),
      operator: await this.invitation({ sid, sub: 'operator', role: 'operator', name: 'Điều hành' }, base),
      // Named as demo points wherever they show (roll call, attendance, audit): no operator takes them for communes.
      points: await Promise.all(
        [
          { sub: 'tan-phu', name: 'Xã Tân Phú (thử nghiệm)' },
          { sub: 'an-binh', name: 'Xã An Bình (thử nghiệm)' },
        ].map(async ({ sub, name }) => ({ name, url: await this.invitation({ sid, sub, role: 'point', name }, base) })),
      ),
    };
  }

  /** Stops everything; calling it again waits for the first call. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.scheduler?.stop();
    this.#signaling?.close();
    this.readiness?.close();
    await this.ingest?.close();
    await this.webhooks?.close();
    // Encoders stop without finalizing: a session still on air resumes recording at the next start.
    await this.recordings.close();
    await this.sessions.close();
    await this.control?.close();
    await this.directory?.close();
    await this.attendance?.idle();
    await this.points?.close();
    await new Promise<void>((resolve) => (this.#http ? this.#http.close(() => resolve()) : resolve()));
    this.#http?.closeAllConnections();
    await this.pool.close();
    await this.store?.close();
  }
}
