import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { guessAnnouncedAddress, type Config } from '../config/schema.js';
import type { TokenClaims } from '../protocol/index.js';
import { RecordingService } from '../recorder/RecordingService.js';
import { AuditLog } from './audit/AuditLog.js';
import { OperatorAccounts } from './auth/OperatorAccounts.js';
import { TokenService } from './auth/TokenService.js';
import { createAuthApi } from './http/authApi.js';
import { createApi, pageFor } from './http/api.js';
import { createMetrics } from './http/metrics.js';
import { createRecordingRoutes } from './http/recordings.js';
import { createLogger, type Logger } from './logger.js';
import { WorkerPool } from './media/WorkerPool.js';
import { SessionRegistry } from './room/SessionRegistry.js';
import { Scheduler } from './schedule/Scheduler.js';
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
  readonly tokens: TokenService;
  store!: Store;
  sessions!: SessionRegistry;
  recordings!: RecordingService;
  scheduler!: Scheduler;
  accounts!: OperatorAccounts;
  audit!: AuditLog;
  /** Set when this start created the first admin with a generated password (printed once). */
  bootstrapAdmin?: { username: string; generatedPassword?: string };
  #http?: http.Server;
  #signaling?: SignalingServer;
  #publicUrl = '';
  demo?: DemoLinks;

  constructor(readonly config: Config, logger?: Logger) {
    this.logger = logger ?? createLogger(config.logLevel);
    const announcedAddress = config.announcedAddress ?? guessAnnouncedAddress();
    this.pool = new WorkerPool({
      count: config.workers,
      rtcListenIp: config.rtcListenIp,
      announcedAddress,
      rtcBasePort: config.rtcBasePort,
      rtcMinPort: config.rtcMinPort,
      rtcMaxPort: config.rtcMaxPort,
      logger: this.logger,
    });
    this.tokens = new TokenService(TokenService.secretFrom(config.dataDir, config.tokenSecret), config.tokenTtlHours);
  }

  get url(): string {
    return this.#publicUrl;
  }

  get signaling(): SignalingServer {
    if (!this.#signaling) throw new Error('server not started');
    return this.#signaling;
  }

  async start(): Promise<this> {
    this.store = await createStore({ dataDir: this.config.dataDir, redisUrl: this.config.redisUrl });
    this.logger.info({ store: this.store.kind }, 'store ready');
    this.sessions = new SessionRegistry(this.store, this.pool, this.logger, this.config.maxIncomingBitrate);
    this.recordings = new RecordingService(
      {
        dir: path.join(this.config.dataDir, 'recordings'),
        logger: this.logger,
        autoRecord: this.config.autoRecord,
        segmentSeconds: this.config.hlsSegmentSeconds,
        dvrWindowSeconds: this.config.dvrWindowMinutes * 60,
      },
      this.sessions,
    );
    await this.sessions.load();
    this.accounts = new OperatorAccounts(this.store, this.logger);
    this.audit = new AuditLog(this.store);
    this.bootstrapAdmin = await this.accounts.bootstrap(this.config.adminUser, this.config.adminPassword);
    await this.pool.start();
    const app = express();
    app.disable('x-powered-by');
    const server = http.createServer(app);
    this.#http = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    const host = this.config.announcedAddress ?? (this.config.host === '0.0.0.0' ? guessAnnouncedAddress() : this.config.host);
    this.#publicUrl = this.config.publicUrl?.replace(/\/$/, '') ?? `http://${host}:${port}`;

    app.use(createRecordingRoutes(this.recordings, this.tokens));
    app.use(
      '/api',
      createApi({
        tokens: this.tokens,
        sessions: this.sessions,
        publicUrl: this.#publicUrl,
        mounts: {
          '/auth': createAuthApi({
            accounts: this.accounts,
            tokens: this.tokens,
            secureCookies: this.#publicUrl.startsWith('https:'),
          }),
        },
      }),
    );
    app.get('/api-demo', (_req, res) => {
      if (!this.demo) res.status(404).json({ error: { code: 'not-found', message: 'demo is off' } });
      else res.json(this.demo);
    });
    app.use('/metrics', createMetrics(this));
    if (fs.existsSync(webDist)) {
      app.use(express.static(webDist, { index: false, maxAge: '1h' }));
      // The web app routes on the client: every other GET is the app itself.
      app.get(/^\/(?!api|ws|metrics|hls).*/, (_req, res) => res.sendFile(path.join(webDist, 'index.html')));
    } else {
      this.logger.warn({ webDist }, 'web app not built: run `npm run build:web`');
    }
    this.#signaling = new SignalingServer(server, this.tokens, this.sessions, this.logger);
    if (this.config.demo) this.demo = await this.#createDemo();
    await this.sessions.restoreLive();
    this.scheduler = new Scheduler({ sessions: this.sessions, logger: this.logger });
    this.scheduler.start();
    this.logger.info({ url: this.#publicUrl }, 'Diemcau is running');
    return this;
  }

  /** Mints an invitation link for a role in a session. */
  async invitation(claims: TokenClaims): Promise<string> {
    const token = await this.tokens.sign(claims);
    return `${this.#publicUrl}${pageFor[claims.role]}?token=${token}`;
  }

  async #createDemo(): Promise<DemoLinks> {
    const sid = 'demo';
    if (!this.sessions.has(sid)) await this.sessions.create({ id: sid, title: 'Phiên họp trực tuyến thử nghiệm', public: true });
    return {
      sessionId: sid,
      studio: await this.invitation({ sid, sub: 'studio', role: 'studio', name: 'Hội trường tỉnh' }),
      operator: await this.invitation({ sid, sub: 'operator', role: 'operator', name: 'Điều hành' }),
      points: [
        { name: 'Xã Tân Phú', url: await this.invitation({ sid, sub: 'tan-phu', role: 'point', name: 'Xã Tân Phú' }) },
        { name: 'Xã An Bình', url: await this.invitation({ sid, sub: 'an-binh', role: 'point', name: 'Xã An Bình' }) },
      ],
    };
  }

  async close(): Promise<void> {
    this.scheduler?.stop();
    this.#signaling?.close();
    // Encoders stop without finalizing: a session still on air resumes recording at the next start.
    await this.recordings.close();
    await this.sessions.close();
    await new Promise<void>((resolve) => (this.#http ? this.#http.close(() => resolve()) : resolve()));
    this.#http?.closeAllConnections();
    await this.pool.close();
    await this.store?.close();
  }
}
