/**
 * Fan-out benchmark: one studio producer (ffmpeg, H.264 ~1 Mbit/s 640x360 25 fps
 * + Opus) forwarded to N receivers over SRTP PlainTransports, each receiving
 * the video and the audio (2 consumer streams per receiver).
 *
 * For each N, two setups run one after the other, each with its own ffmpeg:
 *   diemcau  the platform: Server + Room, 2 media workers, viewers spread
 *            over the workers by Room.join, producer piped with pipeToRouter,
 *            consumers made by the Room's reconcile once the session is live;
 *   bare     a minimal mediasoup script: 1 worker, 1 router, N consumers.
 *
 * The receiving UDP sockets live in a child process (this file run with
 * --receiver) so that they do not share an event loop with mediasoup's
 * control channel; it counts RTP packets and sequence-number gaps per SSRC
 * (the RTP header is not encrypted under SRTP; RTCP is ignored).
 *
 * ffmpeg starts once every consumer exists. With --feed-first it starts
 * before (the platform's real order: the studio sends, then the session goes
 * live); a saturated worker then answers its control channel so slowly that
 * making the consumers can take minutes (see bench/README.md).
 *
 *   node --import tsx bench/fanout.ts [--n 50,100,200,400,800] [--seconds 10]
 *        [--only diemcau|bare] [--feed-first] [--json out.json] [--budget 540]
 *
 * Other programs on the machine disturb the figures: before each step the
 * bench waits for a quiet machine, and runs a disturbed step once more, within
 * --budget seconds for the whole fan-out bench.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

// ================================================================================
// Receiver process
// ================================================================================

interface StreamState {
  ssrc: number;
  pt: number;
  count: number;
  bytes: number;
  /** Highest extended sequence number seen. */
  maxExt: number;
  markCount: number;
  markExt: number;
  markBytes: number;
}

interface SocketState {
  socket: dgram.Socket;
  port: number;
  streams: Map<number, StreamState>;
  last?: StreamState;
  rtcp: number;
}

/** Per receiver socket: [payloadType, packets, expected (seq span), bytes] per SSRC since the mark. */
export type SocketReport = [pt: number, packets: number, expected: number, bytes: number][];

type ReceiverRequest =
  | { id: number; type: 'bind'; count: number; recvBufferSize: number }
  | { id: number; type: 'mark' }
  | { id: number; type: 'report' }
  | { id: number; type: 'close' };

function receiverMain(): void {
  const sockets: SocketState[] = [];
  const reply = (id: number, data: unknown) => process.send!({ id, data });

  const onPacket = (s: SocketState, msg: Buffer) => {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const b1 = msg[1];
    if (b1 >= 192 && b1 <= 223) {
      s.rtcp++; // RTCP multiplexed on the same port (SR, SDES, BYE…)
      return;
    }
    const ssrc = msg.readUInt32BE(8);
    let st = s.last;
    if (!st || st.ssrc !== ssrc) {
      st = s.streams.get(ssrc);
      if (!st) {
        const seq0 = msg.readUInt16BE(2);
        // Created after the mark: the window counts it from its first packet.
        st = { ssrc, pt: b1 & 0x7f, count: 0, bytes: 0, maxExt: seq0 - 1, markCount: 0, markExt: seq0 - 1, markBytes: 0 };
        s.streams.set(ssrc, st);
      }
      s.last = st;
    }
    const seq = msg.readUInt16BE(2);
    const delta = (seq - (st.maxExt & 0xffff)) & 0xffff;
    if (delta !== 0 && delta < 0x8000) st.maxExt += delta; // forward; late or duplicate packets do not move it
    st.count++;
    st.bytes += msg.length;
  };

  const onRequest = async (req: ReceiverRequest) => {
    switch (req.type) {
      case 'bind': {
        for (let i = 0; i < req.count; i++) {
          const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: req.recvBufferSize });
          const state: SocketState = { socket, port: 0, streams: new Map(), rtcp: 0 };
          socket.on('message', (msg) => onPacket(state, msg));
          socket.on('error', () => {});
          await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
          socket.setRecvBufferSize(req.recvBufferSize);
          state.port = socket.address().port;
          sockets.push(state);
        }
        reply(
          req.id,
          sockets.map((s) => s.port),
        );
        break;
      }
      case 'mark':
        for (const s of sockets) {
          for (const st of s.streams.values()) {
            st.markCount = st.count;
            st.markExt = st.maxExt;
            st.markBytes = st.bytes;
          }
        }
        reply(req.id, performance.now());
        break;
      case 'report': {
        const report: SocketReport[] = sockets.map((s) =>
          [...s.streams.values()].map((st) => [st.pt, st.count - st.markCount, st.maxExt - st.markExt, st.bytes - st.markBytes]),
        );
        reply(req.id, { at: performance.now(), sockets: report });
        break;
      }
      case 'close':
        for (const s of sockets) s.socket.close();
        reply(req.id, null);
        setTimeout(() => process.exit(0), 50);
        break;
    }
  };
  process.on('message', (req: ReceiverRequest) => void onRequest(req));
  process.on('disconnect', () => process.exit(0));
}

class Receiver {
  readonly child: ChildProcess;
  ports: number[] = [];
  #nextId = 1;
  readonly #pending = new Map<number, (data: unknown) => void>();

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), ['--receiver'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('error', () => {}); // a send after close: the request below fails by itself
    this.child.on('message', (m: { id: number; data: unknown }) => {
      this.#pending.get(m.id)?.(m.data);
      this.#pending.delete(m.id);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<T>(req: Omit<ReceiverRequest, 'id'> & Partial<ReceiverRequest>, timeoutMs = 30_000): Promise<T> {
    const id = this.#nextId++;
    if (!this.child.connected) return Promise.reject(new Error('the receiver process is gone'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`receiver did not answer ${req.type}`));
      }, timeoutMs);
      this.#pending.set(id, (data) => {
        clearTimeout(timer);
        resolve(data as T);
      });
      this.child.send({ ...req, id });
    });
  }

  async bind(count: number): Promise<number[]> {
    this.ports = await this.request<number[]>({ type: 'bind', count, recvBufferSize: 1 << 20 } as never);
    return this.ports;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode) return;
    await this.request({ type: 'close' }, 3000).catch(() => {});
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 2000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

// ================================================================================
// /proc helpers
// ================================================================================

const clockTicks = 100; // getconf CLK_TCK on Linux

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ... utime is field 14 of the whole line, i.e. index 11 here.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

/** The socket inodes a process holds. */
function socketInodes(pid: number | undefined): Set<string> {
  const inodes = new Set<string>();
  if (!pid) return inodes;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return inodes;
}

/** Datagrams the kernel dropped on these sockets (receive buffer full), from /proc/net/udp. */
function udpDrops(inodes: Set<string>): number {
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13) continue;
      if (inodes.has(cols[9])) drops += Number(cols[cols.length - 1]);
    }
  }
  return drops;
}

/** Busy CPU time of the whole machine (all cores), in seconds. */
export function systemBusySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return busy / clockTicks;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const debug = (msg: string) => {
  if (process.env.BENCH_DEBUG) console.error(`[fanout ${new Date().toISOString().slice(11, 23)}] ${msg}`);
};

/** 30 bytes of key + salt for AES_CM_128_HMAC_SHA1_80, as the receiver's side would offer. */
function receiverSrtpParameters() {
  return { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' as const, keyBase64: crypto.randomBytes(30).toString('base64') };
}

// ================================================================================
// Setups
// ================================================================================

interface ProducerLike {
  kind: string;
  getStats(): Promise<{ packetCount: number; packetsLost?: number }[]>;
}

interface BuiltSetup {
  /** Media worker pids, by worker index. */
  workerPids: number[];
  /** Worker index of each receiver (same order as the receiver's sockets). */
  receiverWorker: number[];
  /** Consumers that exist, per worker index. */
  consumersPerWorker: number[];
  videoPt: number;
  audioPt: number;
  producers: ProducerLike[];
  /** A cheap request to each worker (getResourceUsage), to time its control channel. */
  probes: (() => Promise<unknown>)[];
  /** Starts ffmpeg (once); returns its pid. */
  startFeed(): number | undefined;
  /** Seconds to create the N transports (and, for bare, the consumers). */
  transportsSeconds: number;
  /** Seconds from goLive to every consumer created (diemcau), or to create them (bare). */
  consumersSeconds: number;
  /** Warnings and errors the platform logged, and worker deaths. */
  problems: string[];
}

type Closer = () => unknown;

/** Logs of level ≥ warn, kept to report them. */
class LogSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      try {
        const o = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        this.lines.push(`${o.msg ?? ''}${o.err?.message ? `: ${o.err.message}` : ''}`);
      } catch {
        this.lines.push(line);
      }
    }
    done();
  }
}

async function buildDiemcau(n: number, ports: number[], closers: Closer[], feedFirst: boolean): Promise<BuiltSetup> {
  const [{ default: pino }, { loadConfig }, { Server }, ffmpeg] = await Promise.all([
    import('pino'),
    import('../config/schema.js'),
    import('../sfu/Server.js'),
    import('../tests/helpers/ffmpeg.js'),
  ]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-bench-'));
  closers.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      announcedAddress: '127.0.0.1',
      rtcListenIp: '127.0.0.1',
      rtcBasePort: 0,
      workers: 2,
      // The bench goes past what a worker can carry on purpose (N = 800 is 800 consumers per worker).
      maxStreamsPerWorker: 100_000,
      dataDir,
      demo: false,
      logLevel: 'warn',
    },
  );
  const logs = new LogSink();
  const server = new Server(config, pino({ level: 'warn', base: { app: 'diemcau' } }, logs));
  closers.push(() => server.close());
  await server.start();
  const problems: string[] = [];
  for (const slot of server.pool.slots) slot.worker.on('died', (e) => problems.push(`worker ${slot.index} died: ${e.message}`));

  await server.sessions.create({ id: 'bench', title: 'Fan-out bench' });
  const room = await server.sessions.room('bench');
  // The studio as a hardware encoder would send it (as tests/helpers/plainPeer.ts joinPlain does).
  const studio = room.join({ identity: 'studio', name: 'Studio', role: 'studio', plain: true, rtpCapabilities: room.rtpCapabilities });
  const videoIn = await room.createPlainTransport(studio, 'send');
  const audioIn = await room.createPlainTransport(studio, 'send');
  await room.produce(studio, videoIn.id, 'video', ffmpeg.feedVideoRtpParameters, 'camera');
  await room.produce(studio, audioIn.id, 'audio', ffmpeg.feedAudioRtpParameters, 'mic');
  let feed: ReturnType<typeof ffmpeg.feedRtp> | undefined;
  const startFeed = () => {
    feed ??= ffmpeg.feedRtp({ videoPort: videoIn.tuple.localPort, audioPort: audioIn.tuple.localPort, pattern: 'testsrc' });
    return feed.process.pid;
  };
  closers.push(() => feed?.stop());
  if (feedFirst) startFeed();

  const t0 = performance.now();
  const peers = [];
  for (let i = 0; i < n; i++) {
    const peer = room.join({
      identity: `v${i}`,
      name: `viewer ${i}`,
      role: 'viewer',
      plain: true,
      rtpCapabilities: room.rtpCapabilities,
    });
    const transport = await room.createPlainTransport(peer, 'recv', { enableSrtp: true });
    await transport.connect({ ip: '127.0.0.1', port: ports[i], srtpParameters: receiverSrtpParameters() });
    peers.push(peer);
    if (i % 200 === 199) debug(`diemcau: ${i + 1} viewers joined`);
  }
  await room.settled();
  const t1 = performance.now();
  room.goLive();
  await room.settled();
  const t2 = performance.now();

  const workers = server.pool.slots.length;
  const consumersPerWorker = new Array<number>(workers).fill(0);
  for (const p of peers) consumersPerWorker[p.slotIndex] += p.consumers.size;
  const sample = [...(peers[0]?.consumers.values() ?? [])];
  const ptOf = (kind: string) => sample.find((c) => c.kind === kind)?.rtpParameters.codecs[0]?.payloadType ?? -1;
  problems.push(...logs.lines);
  // Later warnings (during the window) land in the same array.
  logs.lines.length = 0;
  closers.push(() => problems.push(...logs.lines.splice(0)));
  return {
    workerPids: server.pool.slots.map((s) => s.worker.pid),
    receiverWorker: peers.map((p) => p.slotIndex),
    consumersPerWorker,
    videoPt: ptOf('video'),
    audioPt: ptOf('audio'),
    producers: [...studio.producers.values()],
    probes: server.pool.slots.map((slot) => () => slot.worker.getResourceUsage()),
    startFeed,
    transportsSeconds: (t1 - t0) / 1000,
    consumersSeconds: (t2 - t1) / 1000,
    problems,
  };
}

async function buildBare(n: number, ports: number[], closers: Closer[], feedFirst: boolean): Promise<BuiltSetup> {
  const mediasoup = await import('mediasoup');
  const ffmpeg = await import('../tests/helpers/ffmpeg.js');
  const problems: string[] = [];
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  closers.push(() => worker.close());
  worker.on('died', (e) => problems.push(`worker died: ${e.message}`));
  const router = await worker.createRouter({
    mediaCodecs: [
      { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
      {
        kind: 'video',
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      },
    ],
  });
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const videoIn = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
  const audioIn = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
  const video = await videoIn.produce({ kind: 'video', rtpParameters: ffmpeg.feedVideoRtpParameters });
  const audio = await audioIn.produce({ kind: 'audio', rtpParameters: ffmpeg.feedAudioRtpParameters });
  let feed: ReturnType<typeof ffmpeg.feedRtp> | undefined;
  const startFeed = () => {
    feed ??= ffmpeg.feedRtp({ videoPort: videoIn.tuple.localPort, audioPort: audioIn.tuple.localPort, pattern: 'testsrc' });
    return feed.process.pid;
  };
  closers.push(() => feed?.stop());
  if (feedFirst) startFeed();

  const t0 = performance.now();
  const transports = [];
  for (let i = 0; i < n; i++) {
    const transport = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, enableSrtp: true });
    await transport.connect({ ip: '127.0.0.1', port: ports[i], srtpParameters: receiverSrtpParameters() });
    transports.push(transport);
    if (i % 200 === 199) debug(`bare: ${i + 1} transports`);
  }
  const t1 = performance.now();
  let videoPt = -1;
  let audioPt = -1;
  let consumers = 0;
  for (const transport of transports) {
    for (const producer of [video, audio]) {
      const c = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
      if (c.kind === 'video') videoPt = c.rtpParameters.codecs[0].payloadType;
      else audioPt = c.rtpParameters.codecs[0].payloadType;
      consumers++;
    }
    if (consumers % 400 === 0) debug(`bare: ${consumers} consumers`);
  }
  const t2 = performance.now();
  return {
    workerPids: [worker.pid],
    receiverWorker: transports.map(() => 0),
    consumersPerWorker: [consumers],
    videoPt,
    audioPt,
    producers: [video, audio],
    probes: [() => worker.getResourceUsage()],
    startFeed,
    transportsSeconds: (t1 - t0) / 1000,
    consumersSeconds: (t2 - t1) / 1000,
    problems,
  };
}

// ================================================================================
// Measurement
// ================================================================================

export interface KindResult {
  receivedPps: number;
  expectedPps: number;
  lossPct: number;
  /** Streams of that kind that got no packet at all in the window. */
  silentStreams: number;
}

export interface StepResult {
  setup: 'diemcau' | 'bare';
  n: number;
  streams: number;
  windowSeconds: number;
  ok: boolean;
  error?: string;
  workerCpuPct: number[];
  workerConsumers: number[];
  totalWorkerCpuPct: number;
  cpuPerStreamPct: number;
  /** Worker CPU per forwarded packet (µs), forwarded = received + lost at the receivers (+ probation). */
  usPerPacket: number;
  /** RTP that is neither the video nor the audio (mediasoup's bandwidth probation), packets/s. */
  otherRtpPps: number;
  rxPps: number;
  rxMbps: number;
  video: KindResult;
  audio: KindResult;
  lossPct: number;
  /** Loss at the receivers of each worker (diemcau). */
  lossPctPerWorker: number[];
  receiverCpuPct: number;
  receiverDrops: number;
  workerSocketDrops: number;
  ffmpegCpuPct: number;
  mainCpuPct: number;
  /** Busy CPU of the whole machine (200 % = both cores), and what is not ours (kernel softirq for loopback is partly here). */
  systemCpuPct: number;
  otherCpuPct: number;
  /** The step was run twice because others disturbed it; this is the less disturbed run. */
  retried?: boolean;
  /** Busy % of the machine just before the step (others' load). */
  busyBeforePct?: number;
  ingestPps: number;
  ingestLost: number;
  transportsSeconds: number;
  consumersSeconds: number;
  /** Round trip of worker.getResourceUsage() during the window (control channel latency), ms. */
  controlMedianMs: number;
  controlMaxMs: number;
  warmupSeconds: number;
  problems: string[];
}

async function measure(
  setupName: 'diemcau' | 'bare',
  n: number,
  seconds: number,
  closers: Closer[],
  feedFirst: boolean,
): Promise<StepResult> {
  const receiver = new Receiver();
  closers.push(() => receiver.close());
  const ports = await receiver.bind(n);
  debug(`${setupName} n=${n}: ${ports.length} receiver sockets bound`);
  const built = await (setupName === 'diemcau' ? buildDiemcau : buildBare)(n, ports, closers, feedFirst);
  const ffmpegPid = built.startFeed();

  debug(
    `${setupName} n=${n}: built (transports ${built.transportsSeconds.toFixed(1)} s, consumers ${built.consumersSeconds.toFixed(1)} s)`,
  );
  // Warm-up: a new video consumer waits for the next keyframe (every 2 s; ffmpeg ignores PLIs).
  const warmStart = performance.now();
  const warmDeadline = warmStart + 12_000;
  while (performance.now() < warmDeadline) {
    const { sockets: report } = await receiver.request<{ sockets: SocketReport[] }>({ type: 'report' });
    const withVideo = report.filter((s) => s.some(([pt, packets]) => pt === built.videoPt && packets > 0)).length;
    if (withVideo >= n) break;
    await sleep(500);
  }
  await sleep(1000);
  const warmupSeconds = (performance.now() - warmStart) / 1000;
  debug(`${setupName} n=${n}: warm after ${warmupSeconds.toFixed(1)} s`);

  const receiverInodes = socketInodes(receiver.pid);
  const workerInodes = new Set(built.workerPids.flatMap((pid) => [...socketInodes(pid)]));
  /** Packets the producers received (and lost, by their sequence numbers), when the worker answered. */
  const ingestStats = async () => {
    let packets = 0;
    let lost = 0;
    const timeout = sleep(3000).then(() => null);
    for (const p of built.producers) {
      const stats = await Promise.race([p.getStats().catch(() => null), timeout]);
      if (!stats) return { packets: NaN, lost: NaN, at: performance.now() };
      for (const st of stats) {
        packets += st.packetCount;
        lost += st.packetsLost ?? 0;
      }
    }
    return { packets, lost, at: performance.now() };
  };

  const ingestBefore = await ingestStats();
  const before = {
    at: performance.now(),
    workers: built.workerPids.map(cpuSeconds),
    receiver: cpuSeconds(receiver.pid),
    ffmpeg: cpuSeconds(ffmpegPid),
    main: process.cpuUsage(),
    system: systemBusySeconds(),
    receiverDrops: udpDrops(receiverInodes),
    workerDrops: udpDrops(workerInodes),
  };
  const markedAt = await receiver.request<number>({ type: 'mark' });
  // While the window runs, time a cheap request to each worker every 500 ms.
  const controlMs: number[] = [];
  const windowEnd = performance.now() + seconds * 1000;
  const probing = (async () => {
    while (performance.now() < windowEnd - 500) {
      await Promise.all(
        built.probes.map(async (probe) => {
          const t = performance.now();
          await Promise.race([probe().catch(() => {}), sleep(5000)]);
          controlMs.push(performance.now() - t);
        }),
      );
      await sleep(500);
    }
  })();
  await sleep(seconds * 1000);
  await probing;
  const { at: reportedAt, sockets: report } = await receiver.request<{ at: number; sockets: SocketReport[] }>({ type: 'report' });
  // Packets are counted over the receiver's own window, CPU over ours: both about `seconds` long.
  const window = (reportedAt - markedAt) / 1000;
  const mainCpu = process.cpuUsage(before.main);
  const systemBusy = systemBusySeconds() - before.system;
  const after = {
    at: performance.now(),
    workers: built.workerPids.map(cpuSeconds),
    receiver: cpuSeconds(receiver.pid),
    ffmpeg: cpuSeconds(ffmpegPid),
    receiverDrops: udpDrops(receiverInodes),
    workerDrops: udpDrops(workerInodes),
  };
  const ingestAfter = await ingestStats();
  controlMs.sort((a, b) => a - b);
  const cpuWindow = (after.at - before.at) / 1000;

  const pct = (a: number, b: number) => ((b - a) / cpuWindow) * 100;
  const workerCpuPct = built.workerPids.map((_, i) => pct(before.workers[i], after.workers[i]));
  const totalWorkerCpuPct = workerCpuPct.reduce((a, b) => a + b, 0);
  const streams = built.consumersPerWorker.reduce((a, b) => a + b, 0);

  const kind = (pt: number): KindResult => {
    let received = 0;
    let expected = 0;
    let silent = 0;
    for (const socket of report) {
      const ofKind = socket.filter(([p]) => p === pt);
      if (!ofKind.some(([, packets]) => packets > 0)) silent++;
      for (const [, packets, exp] of ofKind) {
        received += packets;
        expected += Math.max(exp, packets);
      }
    }
    return {
      receivedPps: received / window,
      expectedPps: expected / window,
      lossPct: expected ? ((expected - received) / expected) * 100 : 0,
      silentStreams: silent,
    };
  };
  const video = kind(built.videoPt);
  const audio = kind(built.audioPt);
  // Media only: mediasoup also sends bandwidth probation (padding-only RTP, its own SSRC) to consumers.
  let received = 0;
  let expected = 0;
  let bytes = 0;
  let otherPackets = 0;
  const perWorker = built.workerPids.map(() => ({ received: 0, expected: 0 }));
  report.forEach((socket, i) => {
    for (const [pt, packets, exp, b] of socket) {
      bytes += b;
      if (pt !== built.videoPt && pt !== built.audioPt) {
        otherPackets += packets;
        continue;
      }
      received += packets;
      expected += Math.max(exp, packets);
      const w = perWorker[built.receiverWorker[i] ?? 0];
      w.received += packets;
      w.expected += Math.max(exp, packets);
    }
  });
  const workerCpuSeconds = (totalWorkerCpuPct / 100) * window; // over the packets' window
  const receiverCpuPct = pct(before.receiver, after.receiver);
  const ffmpegCpuPct = pct(before.ffmpeg, after.ffmpeg);
  const mainCpuPct = ((mainCpu.user + mainCpu.system) / 1e6 / cpuWindow) * 100;
  const systemCpuPct = (systemBusy / cpuWindow) * 100;
  return {
    setup: setupName,
    n,
    streams,
    windowSeconds: window,
    ok: true,
    workerCpuPct,
    workerConsumers: built.consumersPerWorker,
    totalWorkerCpuPct,
    cpuPerStreamPct: streams ? totalWorkerCpuPct / streams : NaN,
    usPerPacket: expected ? (workerCpuSeconds * 1e6) / (expected + otherPackets) : NaN,
    otherRtpPps: otherPackets / window,
    rxPps: received / window,
    rxMbps: (bytes * 8) / window / 1e6,
    video,
    audio,
    lossPct: expected ? ((expected - received) / expected) * 100 : 0,
    lossPctPerWorker: perWorker.map((w) => (w.expected ? ((w.expected - w.received) / w.expected) * 100 : 0)),
    receiverCpuPct,
    receiverDrops: after.receiverDrops - before.receiverDrops,
    workerSocketDrops: after.workerDrops - before.workerDrops,
    ffmpegCpuPct,
    mainCpuPct,
    systemCpuPct,
    otherCpuPct: systemCpuPct - totalWorkerCpuPct - receiverCpuPct - ffmpegCpuPct - mainCpuPct,
    ingestPps: ((ingestAfter.packets - ingestBefore.packets) / (ingestAfter.at - ingestBefore.at)) * 1000,
    ingestLost: ingestAfter.lost - ingestBefore.lost,
    transportsSeconds: built.transportsSeconds,
    consumersSeconds: built.consumersSeconds,
    controlMedianMs: controlMs.length ? controlMs[controlMs.length >> 1] : NaN,
    controlMaxMs: controlMs.length ? controlMs[controlMs.length - 1] : NaN,
    warmupSeconds,
    problems: built.problems,
  };
}

/**
 * Waits (up to `maxMs`) until the machine is quiet: other programs' load
 * (tests, builds) would be counted as ours and starve the workers.
 * Returns the busy % of the machine (200 % = both cores) in the last second.
 */
export async function waitQuiet(maxMs = 60_000, threshold = 15): Promise<number> {
  const deadline = performance.now() + maxMs;
  let busy = NaN;
  let said = false;
  while (true) {
    const a = systemBusySeconds();
    await sleep(1000);
    busy = (systemBusySeconds() - a) * 100;
    if (busy < threshold || performance.now() > deadline) break;
    if (!said)
      console.error(
        `[fanout] the machine is busy (${busy.toFixed(0)} % CPU not ours); waiting up to ${Math.round(maxMs / 1000)} s for it to calm down`,
      );
    said = true;
  }
  return busy;
}

/** What the running step must close, should the bench be interrupted. */
const activeClosers = new Set<Closer[]>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const all = [...activeClosers].flatMap((c) => [...c].reverse());
    void Promise.race([Promise.allSettled(all.map((close) => Promise.resolve().then(close))), sleep(3000)]).then(() => process.exit(130));
  });
}

async function runStep(
  setupName: 'diemcau' | 'bare',
  n: number,
  seconds: number,
  feedFirst: boolean,
  quietWaitMs: number,
): Promise<StepResult> {
  const closers: Closer[] = [];
  activeClosers.add(closers);
  const timeoutMs = 40_000 + seconds * 1000 + n * 80;
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const failed = (error: string): StepResult => ({
    setup: setupName,
    n,
    streams: 2 * n,
    windowSeconds: 0,
    ok: false,
    error,
    workerCpuPct: [],
    workerConsumers: [],
    totalWorkerCpuPct: NaN,
    cpuPerStreamPct: NaN,
    usPerPacket: NaN,
    otherRtpPps: NaN,
    rxPps: NaN,
    rxMbps: NaN,
    video: { receivedPps: NaN, expectedPps: NaN, lossPct: NaN, silentStreams: NaN },
    audio: { receivedPps: NaN, expectedPps: NaN, lossPct: NaN, silentStreams: NaN },
    lossPct: NaN,
    lossPctPerWorker: [],
    receiverCpuPct: NaN,
    receiverDrops: NaN,
    workerSocketDrops: NaN,
    ffmpegCpuPct: NaN,
    mainCpuPct: NaN,
    systemCpuPct: NaN,
    otherCpuPct: NaN,
    ingestPps: NaN,
    ingestLost: NaN,
    transportsSeconds: NaN,
    consumersSeconds: NaN,
    controlMedianMs: NaN,
    controlMaxMs: NaN,
    warmupSeconds: NaN,
    problems: [],
  });
  const busyBefore = await waitQuiet(quietWaitMs);
  const running = measure(setupName, n, seconds, closers, feedFirst);
  running.catch(() => {}); // after a timeout it fails as we close what it uses
  let result: StepResult;
  try {
    result = await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    result = failed((error as Error).message);
  } finally {
    clearTimeout(timer);
    for (const close of closers.reverse()) {
      await Promise.race([
        Promise.resolve()
          .then(close)
          .catch(() => {}),
        sleep(5000),
      ]);
    }
  }
  activeClosers.delete(closers);
  result.busyBeforePct = busyBefore;
  // Leave the machine quiet before the next step (ports, exiting processes).
  await sleep(500);
  debug(`${setupName} n=${n} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

// ================================================================================
// Output
// ================================================================================

/** Step whose CPU was this much (%) not ours is run again. */
const disturbedPct = 30;

/** Probes give up after 5 s. */
const controlMs = (x: number) => (x >= 4999 ? '≥5000' : f(x, 0));

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

export function printStep(n: number, results: StepResult[]): void {
  console.log(`\nN = ${n} receivers (${2 * n} consumer streams: ${n} video + ${n} audio)`);
  const rows = [
    [
      'setup',
      'worker CPU % (each)',
      'total %',
      '% / stream',
      'µs / pkt',
      'rx media pkt/s',
      'video loss %',
      'audio loss %',
      'silent v/a',
      'rx drops',
      'receiver CPU %',
      'ffmpeg %',
      'node %',
      'machine % (other)',
      'ingest pkt/s (lost)',
      'setup s (transports + consumers)',
      'control ms (median / max)',
    ],
  ];
  for (const r of results) {
    if (!r.ok) {
      rows.push([r.setup, `FAILED: ${r.error}`, ...new Array<string>(15).fill('')]);
      continue;
    }
    rows.push([
      r.setup,
      r.workerCpuPct.map((c, i) => `w${i} ${f(c)} (${r.workerConsumers[i]})`).join(', '),
      f(r.totalWorkerCpuPct),
      f(r.cpuPerStreamPct, 4),
      f(r.usPerPacket, 2),
      `${f(r.rxPps, 0)} (${f(r.rxMbps, 0)} Mb/s)`,
      f(r.video.lossPct, 3),
      f(r.audio.lossPct, 3),
      `${r.video.silentStreams}/${r.audio.silentStreams}`,
      String(r.receiverDrops),
      f(r.receiverCpuPct),
      f(r.ffmpegCpuPct),
      f(r.mainCpuPct),
      `${f(r.systemCpuPct, 0)} (${f(r.otherCpuPct, 0)})`,
      `${f(r.ingestPps, 0)} (${r.ingestLost})`,
      `${f(r.transportsSeconds)} + ${f(r.consumersSeconds)}`,
      `${controlMs(r.controlMedianMs)} / ${controlMs(r.controlMaxMs)}`,
    ]);
  }
  console.log(table(rows));
  const d = results.find((r) => r.setup === 'diemcau' && r.ok);
  const b = results.find((r) => r.setup === 'bare' && r.ok);
  if (d && b) {
    console.log(
      `ratio diemcau/bare: CPU per stream ${f(d.cpuPerStreamPct / b.cpuPerStreamPct, 2)}, µs per packet ${f(d.usPerPacket / b.usPerPacket, 2)}` +
        `; loss diemcau ${f(d.lossPct, 3)} % (per worker ${d.lossPctPerWorker.map((l) => f(l, 3)).join(' / ')}) vs bare ${f(b.lossPct, 3)} %`,
    );
  }
  for (const r of results) {
    if (r.ok && r.otherRtpPps >= 1)
      console.log(
        `  ${r.setup}: receivers also got ${f(r.otherRtpPps, 0)} pkt/s of mediasoup bandwidth probation (padding), not counted above`,
      );
    if (r.busyBeforePct !== undefined && r.busyBeforePct >= 15) {
      console.log(
        `  ${r.setup}: the machine was already ${f(r.busyBeforePct, 0)} % busy with other programs before this step: figures are disturbed`,
      );
    }
    if (r.ok && r.otherCpuPct >= 20) {
      console.log(
        `  ${r.setup}: ${f(r.otherCpuPct, 0)} % of CPU during the window was not ours (other programs or kernel work)${r.retried ? ', even after a second run' : ''}`,
      );
    }
    if (r.ok && !Number.isFinite(r.ingestPps))
      console.log(`  ${r.setup}: the worker did not answer producer.getStats() within 3 s (control channel starved)`);
    if (r.workerSocketDrops)
      console.log(`  ${r.setup}: ${r.workerSocketDrops} datagrams dropped at the workers' own sockets (ingest or pipe)`);
    if (r.problems.length) {
      const counts = new Map<string, number>();
      for (const p of r.problems) counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const [p, c] of counts) console.log(`  ${r.setup} logged: ${p}${c > 1 ? ` (×${c})` : ''}`);
    }
  }
}

export function printSummary(all: StepResult[]): void {
  const ns = [...new Set(all.map((r) => r.n))];
  const rows = [
    [
      'N',
      'streams',
      'diemcau CPU % (w0+w1)',
      'bare CPU %',
      'diemcau % / stream',
      'bare % / stream',
      'ratio',
      'rx media pkt/s d / b',
      'loss % d / b',
    ],
  ];
  for (const n of ns) {
    const d = all.find((r) => r.n === n && r.setup === 'diemcau');
    const b = all.find((r) => r.n === n && r.setup === 'bare');
    rows.push([
      String(n),
      String(2 * n),
      d?.ok ? `${f(d.totalWorkerCpuPct)} (${d.workerCpuPct.map((c) => f(c)).join('+')})` : d ? 'failed' : '—',
      b?.ok ? f(b.totalWorkerCpuPct) : b ? 'failed' : '—',
      d?.ok ? f(d.cpuPerStreamPct, 4) : '—',
      b?.ok ? f(b.cpuPerStreamPct, 4) : '—',
      d?.ok && b?.ok ? f(d.cpuPerStreamPct / b.cpuPerStreamPct, 2) : '—',
      `${d?.ok ? f(d.rxPps, 0) : '—'} / ${b?.ok ? f(b.rxPps, 0) : '—'}`,
      `${d?.ok ? f(d.lossPct, 3) : '—'} / ${b?.ok ? f(b.lossPct, 3) : '—'}`,
    ]);
  }
  console.log('\nFan-out summary (CPU in % of one core, over the measure window)');
  console.log(table(rows));
}

export async function runFanout(options: {
  ns: number[];
  seconds: number;
  only?: 'diemcau' | 'bare';
  json?: string;
  /** Start ffmpeg before the consumers are made (the platform's order; stalls an overloaded worker). */
  feedFirst?: boolean;
  /** Time for the whole fan-out bench, waits included (default 540 s). */
  budgetSeconds?: number;
}): Promise<StepResult[]> {
  const setups = (['diemcau', 'bare'] as const).filter((s) => !options.only || options.only === s);
  console.log(
    `Fan-out bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), window ${options.seconds} s, N = ${options.ns.join(', ')}`,
  );
  const all: StepResult[] = [];
  // The whole bench stays within its budget: waits for a quiet machine and
  // second runs only use the time the steps themselves do not need.
  const budgetEnd = performance.now() + (options.budgetSeconds ?? 540) * 1000;
  let stepsLeft = options.ns.length * setups.length;
  const slack = () => budgetEnd - performance.now() - stepsLeft * (options.seconds + 15) * 1000;
  const quietWait = () => Math.max(0, Math.min(90_000, slack() / Math.max(1, stepsLeft)));
  for (const n of options.ns) {
    const results: StepResult[] = [];
    for (const setup of setups) {
      let result = await runStep(setup, n, options.seconds, !!options.feedFirst, quietWait());
      stepsLeft--;
      // Other programs on this machine (tests, builds) disturb a step: run it once more if time allows.
      if (result.ok && result.otherCpuPct >= disturbedPct && slack() > 60_000) {
        console.error(`[fanout] ${setup} N=${n} was disturbed (${f(result.otherCpuPct, 0)} % CPU not ours): running it again`);
        const again = await runStep(setup, n, options.seconds, !!options.feedFirst, quietWait());
        again.retried = true;
        if (!again.ok || again.otherCpuPct >= result.otherCpuPct) {
          result.retried = true;
        } else {
          result = again;
        }
      }
      results.push(result);
    }
    printStep(n, results);
    all.push(...results);
  }
  printSummary(all);
  if (options.json) fs.writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), results: all }, null, 2));
  return all;
}

// ================================================================================

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain && process.argv.includes('--receiver')) {
  receiverMain();
} else if (isMain) {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '50,100,200,400,800' },
      seconds: { type: 'string', default: '10' },
      only: { type: 'string' },
      json: { type: 'string' },
      'feed-first': { type: 'boolean', default: false },
      budget: { type: 'string', default: '540' },
    },
    strict: false,
  });
  const ns = String(values.n)
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
  const only = values.only === 'diemcau' || values.only === 'bare' ? values.only : undefined;
  runFanout({
    ns,
    seconds: Number(values.seconds) || 10,
    only,
    json: values.json as string | undefined,
    feedFirst: !!values['feed-first'],
    budgetSeconds: Number(values.budget) || 540,
  })
    .then(() => process.exit(0))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
