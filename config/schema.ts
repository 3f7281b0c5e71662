/**
 * Diemcau's configuration: every setting, its default and its environment
 * variable. `loadConfig()` reads the environment once at start-up; a bad value
 * stops the server with a message that names the variable.
 */
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

/** A listening port for encoders, or `off`; 0 lets the system choose (tests). */
const ingestPort = z.union([z.literal('off'), port]);

/** SRT listening ports, one per session taking a feed: `first-last`, `auto` (any free port: tests) or `off`. */
const portRange = z
  .object({ first: z.number().int().min(1).max(65535), last: z.number().int().min(1).max(65535) })
  .refine((r) => r.first <= r.last && r.last - r.first < 1000, 'a range of at most 1000 ports, first ≤ last');
const srtPortRange = z.union(
  [
    z.literal('off'),
    z.literal('auto'),
    portRange,
    z
      .string()
      .trim()
      .regex(/^\d{1,5}-\d{1,5}$/, 'first-last (e.g. 9000-9019), auto or off')
      .transform((text) => {
        const [first, last] = text.split('-').map(Number);
        return { first, last };
      })
      .pipe(portRange),
  ],
  { error: 'first-last (e.g. 9000-9019), auto or off' },
);
const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

/** Which reverse proxies to believe about the client's address: none, the nearest `n` hops, or these addresses. */
export type TrustProxy = false | number | string[];

/** Ranges express's `trust proxy` (proxy-addr) knows by name. */
const namedRanges = ['loopback', 'linklocal', 'uniquelocal'];

/** An IP address, an address/prefix range (CIDR), or a named range. */
function isAddressOrRange(entry: string): boolean {
  if (namedRanges.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * DIEMCAU_TRUST_PROXY: off (`false`, the default), a hop count, or a
 * comma-separated list of the proxies' addresses. Never "every address":
 * then any client could name its own address in X-Forwarded-For and escape
 * every per-address limit.
 */
const trustProxySetting = z.union([z.boolean(), z.number(), z.string(), z.array(z.string())]).transform((value, ctx): TrustProxy => {
  const refuse = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  const all = 'trusting every address lets any client choose its own: give the proxy’s address (e.g. 127.0.0.1 or loopback) or a hop count';
  if (typeof value === 'boolean') return value ? refuse(all) : false;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  if (text === '' || text === 'false' || text === 'off' || text === 'no') return false;
  if (text === 'true' || text === 'on' || text === 'yes') return refuse(all);
  const hops = typeof value === 'number' ? value : text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
  if (hops !== undefined) {
    if (!Number.isInteger(hops) || hops < 0 || hops > 10) return refuse('a hop count is a whole number from 0 to 10');
    return hops === 0 ? false : hops;
  }
  const entries = (typeof value === 'string' ? value.split(',') : (value as string[])).map((e) => e.trim().toLowerCase()).filter(Boolean);
  const wrong = entries.find((e) => !isAddressOrRange(e));
  if (wrong !== undefined) return refuse(`not an address, an address/prefix range or ${namedRanges.join('/')}: ${wrong.slice(0, 60)}`);
  return entries.length > 0 ? entries : false;
});

export const configSchema = z.object({
  /** HTTP and WebSocket listen address and port. */
  host: z.string().default('0.0.0.0'),
  port: port.default(3000),
  /** Base URL printed in invitation links (defaults to http://<announced address>:<port>). */
  publicUrl: z.url().optional(),
  /** Address browsers reach the media server at (ICE candidates). */
  announcedAddress: z.string().optional(),
  /** Media listen address. */
  rtcListenIp: z.string().default('0.0.0.0'),
  /** First UDP/TCP port of the media servers; worker i listens on rtcBasePort + i. */
  rtcBasePort: port.default(44444),
  /** Port range for plain RTP transports (hardware encoders, recorder). */
  rtcMinPort: port.default(40000),
  rtcMaxPort: port.default(40999),
  /** One mediasoup worker per core by default. */
  workers: z.coerce.number().int().min(1).max(64).default(Math.max(1, os.availableParallelism())),
  /** Where schedules, recordings and the token secret live. */
  dataDir: z.string().default('./data'),
  /** Secret that signs role tokens; generated and kept in dataDir when unset. */
  tokenSecret: z.string().min(32).optional(),
  /** Invitation lifetime for tokens minted by the server. */
  tokenTtlHours: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  /** Redis for several nodes (schedules, points, presence, control events); the embedded store when unset. */
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
    .optional(),
  /** The first operator account, created on the first start when there is none. */
  adminUser: z.string().default('admin'),
  /** Its password; when unset one is generated and printed once at that first start. */
  adminPassword: z.string().min(10).optional(),
  /** This node's name among several sharing Redis; stable across restarts (default host:port). */
  nodeId: z.string().min(1).max(100).optional(),
  /** Create the demo session at start and print its links. Turn off in production. */
  demo: bool.default(true),
  /**
   * Incoming bitrate cap per WebRTC send transport (bps). It must fit all
   * three camera layers (150 + 500 + 1,200 kbps, web/src/client) with the
   * voice and packet overhead: under 1.5 Mbps the browser stops sending its
   * top layer ("limited by bandwidth"), and the archive and every point get
   * the studio's smaller picture.
   */
  maxIncomingBitrate: z.coerce.number().int().positive().default(2_500_000),
  /** RTMP for the broadcast desk's encoder (OBS, vMix): one port for every session, the stream key names the session. */
  rtmpPort: ingestPort.default(1935),
  /** RTMPS (RTMP over TLS) beside RTMP, where a certificate is configured: its port. */
  rtmpsPort: ingestPort.default(1936),
  /** The server's TLS certificate (PEM file, its chain after it) and its private key (PEM file): without both, RTMPS is off. */
  tlsCert: z.string().trim().min(1).optional(),
  tlsKey: z.string().trim().min(1).optional(),
  /** SRT for the broadcast desk's encoder: a port per session taking a feed, from this range. */
  srtPorts: srtPortRange.default({ first: 9000, last: 9019 }),
  /** Record every session from the moment it goes on air. */
  autoRecord: bool.default(true),
  /** HLS segment length in seconds (keyframes are requested at this pace). */
  hlsSegmentSeconds: z.coerce.number().min(1).max(10).default(2),
  /** How far back a viewer can rewind a live session, in minutes. */
  dvrWindowMinutes: z.coerce
    .number()
    .min(1)
    .max(24 * 60)
    .default(10),
  /** Largest PDF an operator may attach to a session, in megabytes. */
  maxDocumentMb: z.coerce.number().positive().max(1024).default(20),
  // ---- limits: what one peer, one address or this node may use --------------
  /** WebRTC transports one peer may have open at once. */
  maxTransportsPerPeer: z.coerce.number().int().min(2).max(64).default(4),
  /** Streams one peer may send at once (camera, microphone, screen). */
  maxProducersPerPeer: z.coerce.number().int().min(1).max(32).default(4),
  /** Signaling requests per second one connection may send (a burst of twice that is allowed). */
  maxRequestsPerSecond: z.coerce.number().int().min(1).max(10_000).default(30),
  /**
   * Replies and notifications sent to a connection and not yet read, in KiB, before it is closed: counted from
   * its pongs to our pings, since the kernel's socket buffers take megabytes before anything waits in the server.
   */
  maxSendBufferKb: z.coerce
    .number()
    .int()
    .min(64)
    .max(1024 * 1024)
    .default(1024),
  /** Sign-in attempts per minute from one address; more are refused with 429 and a growing wait. */
  maxSignInPerMinute: z.coerce.number().int().min(1).max(10_000).default(10),
  /**
   * The reverse proxies (nginx) whose X-Forwarded-For names the client: its
   * address then keys the per-address limits instead of the proxy's. Off by
   * default: a header a client writes is believed from these proxies only.
   */
  trustProxy: trustProxySetting.default(false),
  /** Sessions this deployment keeps (scheduled, live and ended). */
  maxSessions: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  /** Peers connected to this node at once. */
  maxPeersPerNode: z.coerce.number().int().min(1).max(100_000).default(1000),
  /**
   * Producers and consumers one media worker may carry; beyond, a join or a
   * stream gets `busy`. A core of the bench machine forwards ~800 consumers of a 1 Mbit/s
   * program before it loses packets (bench/README.md): 600 keeps a margin
   * there, and a 100-point session on 2 workers (~260 per worker) uses under half.
   */
  maxStreamsPerWorker: z.coerce.number().int().min(1).max(100_000).default(600),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof configSchema>;

/** Environment variable → setting. */
export const envNames: Record<keyof Config, string> = {
  host: 'DIEMCAU_HOST',
  port: 'PORT',
  publicUrl: 'DIEMCAU_PUBLIC_URL',
  announcedAddress: 'DIEMCAU_ANNOUNCED_ADDRESS',
  rtcListenIp: 'DIEMCAU_RTC_LISTEN_IP',
  rtcBasePort: 'DIEMCAU_RTC_PORT',
  rtcMinPort: 'DIEMCAU_RTC_MIN_PORT',
  rtcMaxPort: 'DIEMCAU_RTC_MAX_PORT',
  workers: 'DIEMCAU_WORKERS',
  dataDir: 'DIEMCAU_DATA_DIR',
  tokenSecret: 'DIEMCAU_TOKEN_SECRET',
  tokenTtlHours: 'DIEMCAU_TOKEN_TTL_HOURS',
  demo: 'DIEMCAU_DEMO',
  nodeId: 'DIEMCAU_NODE_ID',
  adminUser: 'DIEMCAU_ADMIN_USER',
  adminPassword: 'DIEMCAU_ADMIN_PASSWORD',
  redisUrl: 'REDIS_URL',
  maxIncomingBitrate: 'DIEMCAU_MAX_INCOMING_BITRATE',
  autoRecord: 'DIEMCAU_AUTO_RECORD',
  rtmpPort: 'DIEMCAU_RTMP_PORT',
  rtmpsPort: 'DIEMCAU_RTMPS_PORT',
  tlsCert: 'DIEMCAU_TLS_CERT',
  tlsKey: 'DIEMCAU_TLS_KEY',
  srtPorts: 'DIEMCAU_SRT_PORTS',
  hlsSegmentSeconds: 'DIEMCAU_HLS_SEGMENT_SECONDS',
  dvrWindowMinutes: 'DIEMCAU_DVR_WINDOW_MINUTES',
  maxDocumentMb: 'DIEMCAU_MAX_DOCUMENT_MB',
  maxTransportsPerPeer: 'DIEMCAU_MAX_TRANSPORTS_PER_PEER',
  maxProducersPerPeer: 'DIEMCAU_MAX_PRODUCERS_PER_PEER',
  maxRequestsPerSecond: 'DIEMCAU_MAX_REQUESTS_PER_SECOND',
  maxSendBufferKb: 'DIEMCAU_MAX_SEND_BUFFER_KB',
  maxSignInPerMinute: 'DIEMCAU_MAX_SIGN_IN_PER_MINUTE',
  trustProxy: 'DIEMCAU_TRUST_PROXY',
  maxSessions: 'DIEMCAU_MAX_SESSIONS',
  maxPeersPerNode: 'DIEMCAU_MAX_PEERS_PER_NODE',
  maxStreamsPerWorker: 'DIEMCAU_MAX_STREAMS_PER_WORKER',
  logLevel: 'LOG_LEVEL',
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Builds the configuration from the environment, with explicit overrides on top. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(envNames)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = configSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof Config;
      return `${envNames[key] ?? String(key)}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** The first non-internal IPv4 address, else loopback. */
export function guessAnnouncedAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
