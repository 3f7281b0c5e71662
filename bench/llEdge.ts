/**
 * Low-Latency HLS viewers through the caching edge: a crowd of viewers that
 * play the live stream as hls.js does in low-latency mode, first straight
 * from the origin (the Diemcau server), then through the nginx edge a
 * province runs (deploy/nginx/diemcau-edge.conf, started by
 * tests/helpers/nginx.ts), in the same run, on the same live session.
 *
 * Each viewer loads ll.m3u8, then loops on blocking reloads of the next part
 * (`?_HLS_msn=M&_HLS_part=P`, the part the playlist's preload hint names),
 * loads each map (init segment) once and every new part as it is listed.
 * Measured over a window once every viewer has started: the viewers'
 * requests and the origin's (in phase b those nginx logged as answered
 * upstream), errors, how long after its last picture each part reached a
 * viewer (its end in wall clock: the segment's EXT-X-PROGRAM-DATE-TIME plus
 * the parts before it plus its own duration) and how long after the origin
 * published it (the origin runs in this process: one clock), and the CPU of
 * the server process and of nginx.
 *
 * The viewers run in a process of their own (this file, forked), so that the
 * server's process, which the bench hosts, is charged for serving only.
 *
 *   node --import tsx bench/llEdge.ts [--viewers 200] [--seconds 30] [--warmup 8] [--stagger 4] [--sockets 400]
 * (--seconds per phase; --sockets: the viewers' connections to one host, default two per viewer)
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, setOptions, type types } from 'hls-parser';
import { Agent, request } from 'undici';

const thisFile = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(thisFile), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '8' },
    stagger: { type: 'string', default: '4' },
    sockets: { type: 'string' },
    'viewer-process': { type: 'boolean' },
  },
  strict: false,
});
const bounded = (value: unknown, min: number, max: number, fallback: number) => {
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
};
const viewerCount = Math.round(bounded(values.viewers, 1, 1000, 200));
const seconds = bounded(values.seconds, 5, 300, 30);
const warmup = bounded(values.warmup, 0, 120, 8);
const stagger = bounded(values.stagger, 0, 30, 4);
// A viewer holds a blocking reload while it loads a part: two connections each, so no request waits for a socket.
const sockets = Math.round(bounded(values.sockets, 1, 4000, 2 * viewerCount));

const sid = 'truc-tiep-edge';
/** After the last viewer started, before the window: the newest viewers reach the live edge. */
const settleMs = 2000;
/** A blocking reload is held up to 3 × TARGETDURATION (9 s) by the origin, 12 s by the edge's lock. */
const playlistTimeoutMs = 15_000;
const fileTimeoutMs = 10_000;
const clockTicks = 100; // getconf CLK_TCK on Linux

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- Between the bench and its viewer process -----------------------------------------

type ToViewers =
  | { type: 'start'; base: string; viewers: number; staggerMs: number; sockets: number; maxMs: number }
  | { type: 'measure' }
  /** With when each part was published at the origin (ms), by name. */
  | { type: 'stop'; published: [string, number][] };

interface CrowdResult {
  windowMs: number;
  requests: { playlist: number; part: number; init: number };
  /** Answers other than 200, by status; 'failed' for resets and time-outs. */
  errors: Record<string, number>;
  bytes: number;
  /** now − the part's end by the playlist's program date-time. */
  latency: Percentiles;
  /** now − when the origin published the part: the delivery alone, on one clock. */
  delivery: Percentiles;
  /** When the origin published a part − its end by the program date-time: how far that date runs behind (+) or ahead (−). */
  dateLag: Percentiles;
  /** The viewer process's own CPU over the window. */
  cpuSeconds: number;
}

type FromViewers = { type: 'started' } | { type: 'result'; result: CrowdResult } | { type: 'failed'; message: string };

// ---- The viewers ---------------------------------------------------------------------------

interface Percentiles {
  median: number;
  p95: number;
  n: number;
}

type Kind = keyof CrowdResult['requests'];

/** A part as a viewer sees it listed: where it is, its map, and when its last picture was taken (ms). */
interface ListedPart {
  msn: number;
  index: number;
  uri: string;
  map: string;
  end: number;
}

/** What a viewer takes from a playlist: its parts, and the blocking reload that asks for the next one. */
interface LivePlaylist {
  parts: ListedPart[];
  next: { msn: number; part: number };
  ended: boolean;
}

const order = (p: { msn: number; index: number }) => p.msn * 100_000 + p.index;

function readLivePlaylist(text: string): LivePlaylist {
  const playlist = parse(text) as types.MediaPlaylist;
  if (playlist.isMasterPlaylist) throw new Error('ll.m3u8 is a master playlist');
  const parts: ListedPart[] = [];
  // hls-parser leaves the map of the segment still being written unset: it is the one before it.
  let map = '';
  for (const segment of playlist.segments) {
    if (segment.map?.uri) map = segment.map.uri;
    if (!segment.programDateTime) continue;
    let end = segment.programDateTime.getTime();
    segment.parts
      .filter((p) => !p.hint)
      .forEach((p, index) => {
        end += (p.duration ?? 0) * 1000;
        parts.push({ msn: segment.mediaSequenceNumber, index, uri: p.uri, map, end });
      });
  }
  const last = playlist.segments.at(-1);
  // The segment being written has no URI yet: its next part; after a complete one, the next segment's first.
  const next = !last
    ? { msn: playlist.mediaSequenceBase ?? 0, part: 0 }
    : last.uri
      ? { msn: last.mediaSequenceNumber + 1, part: 0 }
      : { msn: last.mediaSequenceNumber, part: last.parts.filter((p) => !p.hint).length };
  return { parts, next, ended: playlist.endlist };
}

/** The viewers of one phase, against one host: their connections, their counts and their part latencies. */
class Crowd {
  readonly #base: string;
  readonly #agent: Agent;
  readonly #inFlight = new Set<AbortController>();
  readonly #wakers = new Set<() => void>();
  /** The viewers all receive the same playlists: each text is read once (a phone reads its own; here 200 share two cores with the origin). */
  readonly #read = new Map<string, LivePlaylist>();
  #stopped = false;
  measuring = false;
  readonly requests = { playlist: 0, part: 0, init: 0 };
  readonly errors: Record<string, number> = {};
  bytes = 0;
  /** Each part a viewer received while measuring: its name, its end by the program date-time, when it arrived. */
  readonly received: { uri: string; end: number; at: number }[] = [];

  constructor(base: string, connections: number) {
    this.#base = base;
    this.#agent = new Agent({ connections, keepAliveTimeout: 30_000 });
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The body of a 200 (text, or its length), undefined after anything else (counted). */
  async #get(uri: string, kind: Kind, timeoutMs: number, asText: boolean): Promise<string | number | undefined> {
    if (this.#stopped) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    this.#inFlight.add(controller);
    try {
      const res = await request(`${this.#base}/hls/${sid}/${uri}`, { dispatcher: this.#agent, signal: controller.signal });
      if (res.statusCode !== 200) {
        await res.body.dump();
        this.#count(kind, String(res.statusCode), 0);
        return undefined;
      }
      let body: string | number;
      if (asText) {
        body = await res.body.text();
        this.#count(kind, undefined, Buffer.byteLength(body));
      } else {
        body = 0;
        for await (const chunk of res.body) body += (chunk as Buffer).length;
        this.#count(kind, undefined, body);
      }
      return body;
    } catch {
      // A stop aborts what is in flight: not an error of the server's.
      if (!this.#stopped) this.#count(kind, 'failed', 0);
      return undefined;
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  #count(kind: Kind, error: string | undefined, bytes: number): void {
    if (!this.measuring) return;
    this.requests[kind]++;
    this.bytes += bytes;
    if (error) this.errors[error] = (this.errors[error] ?? 0) + 1;
  }

  async playlist(query: string): Promise<LivePlaylist | undefined> {
    const text = await this.#get(`ll.m3u8${query}`, 'playlist', playlistTimeoutMs, true);
    if (typeof text !== 'string') return undefined;
    let live = this.#read.get(text);
    if (!live) {
      try {
        live = readLivePlaylist(text);
      } catch {
        if (this.measuring) this.errors.unreadable = (this.errors.unreadable ?? 0) + 1;
        return undefined;
      }
      if (this.#read.size >= 16) this.#read.delete(this.#read.keys().next().value!);
      this.#read.set(text, live);
    }
    return live;
  }

  async file(uri: string, kind: 'part' | 'init'): Promise<boolean> {
    return (await this.#get(uri, kind, fileTimeoutMs, false)) !== undefined;
  }

  partReceived(part: ListedPart): void {
    if (this.measuring) this.received.push({ uri: part.uri, end: part.end, at: Date.now() });
  }

  /** A wait that a stop cuts short. */
  pause(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.measuring = false;
    for (const controller of this.#inFlight) controller.abort();
    for (const wake of [...this.#wakers]) wake();
    await this.#agent.destroy().catch(() => {});
  }
}

/** One viewer: hls.js in low-latency mode, reduced to what it asks of the server. */
class Viewer {
  readonly #crowd: Crowd;
  #newest = -1;
  #map = '';
  readonly #queue: { part: ListedPart; measured: boolean }[] = [];
  #loading = false;
  #loaded: Promise<void> = Promise.resolve();

  constructor(crowd: Crowd) {
    this.#crowd = crowd;
  }

  async play(): Promise<void> {
    const crowd = this.#crowd;
    let live: LivePlaylist | undefined;
    while (!crowd.stopped && !live) {
      live = await crowd.playlist('');
      // hls.js retries a failed load after a pause, too.
      if (!live) await crowd.pause(1000);
    }
    if (!live) return;
    // Starts at the live edge with the newest part. Not measured: it may have been listed a while ago (a cached playlist).
    const newest = live.parts.at(-1);
    if (newest) this.#take([newest], false);
    while (!crowd.stopped && !live.ended) {
      const next = await crowd.playlist(`?_HLS_msn=${live.next.msn}&_HLS_part=${live.next.part}`);
      if (!next) {
        await crowd.pause(500);
        continue;
      }
      live = next;
      this.#take(
        live.parts.filter((p) => order(p) > this.#newest),
        true,
      );
    }
    await this.#loaded;
  }

  #take(parts: ListedPart[], measured: boolean): void {
    if (!parts.length) return;
    this.#newest = order(parts[parts.length - 1]);
    this.#queue.push(...parts.map((part) => ({ part, measured })));
    // A viewer that fell far behind skips ahead, as a player does, rather than queue without end.
    if (this.#queue.length > 20) this.#queue.splice(0, this.#queue.length - 20);
    if (!this.#loading) {
      this.#loading = true;
      this.#loaded = this.#load();
    }
  }

  /** Parts load one after the other, beside the blocking reloads (hls.js's fragment and playlist loaders). */
  async #load(): Promise<void> {
    const crowd = this.#crowd;
    try {
      while (this.#queue.length && !crowd.stopped) {
        const { part, measured } = this.#queue.shift()!;
        if (part.map !== this.#map) {
          if (!(await crowd.file(part.map, 'init'))) continue;
          this.#map = part.map;
        }
        if ((await crowd.file(part.uri, 'part')) && measured) crowd.partReceived(part);
      }
    } finally {
      // Set in the same turn as the queue was last seen empty: a part listed after it starts a new loader.
      this.#loading = false;
    }
  }
}

function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95), n: s.length };
}

/** The viewer process: one phase at a time, as the bench asks over IPC. */
function viewerProcess(): void {
  setOptions({ silent: true });
  const send = (m: FromViewers) => process.send?.(m);
  let crowd: Crowd | undefined;
  let players: Promise<void>[] = [];
  let windowStart = 0;
  let cpuStart = process.cpuUsage();
  let selfStop: NodeJS.Timeout | undefined;

  const finish = async (published: Map<string, number>): Promise<CrowdResult> => {
    clearTimeout(selfStop);
    const windowMs = windowStart ? Date.now() - windowStart : 0;
    const cpu = process.cpuUsage(cpuStart);
    const c = crowd!;
    c.measuring = false;
    const result: CrowdResult = {
      windowMs,
      requests: { ...c.requests },
      errors: { ...c.errors },
      bytes: c.bytes,
      latency: percentiles(c.received.map((r) => r.at - r.end)),
      delivery: percentiles(c.received.filter((r) => published.has(r.uri)).map((r) => r.at - published.get(r.uri)!)),
      dateLag: percentiles(c.received.filter((r) => published.has(r.uri)).map((r) => published.get(r.uri)! - r.end)),
      cpuSeconds: windowStart ? (cpu.user + cpu.system) / 1e6 : 0,
    };
    await c.stop();
    await Promise.race([Promise.allSettled(players), sleep(5000)]);
    crowd = undefined;
    players = [];
    windowStart = 0;
    return result;
  };

  process.on('message', (m: ToViewers) => {
    void (async () => {
      try {
        if (m.type === 'start') {
          crowd = new Crowd(m.base, m.sockets);
          // Never outlives its phase, whatever becomes of the bench.
          selfStop = setTimeout(() => void crowd?.stop(), m.maxMs);
          for (let i = 0; i < m.viewers && !crowd.stopped; i++) {
            players.push(new Viewer(crowd).play());
            await sleep(m.staggerMs / m.viewers);
          }
          send({ type: 'started' });
        } else if (m.type === 'measure' && crowd) {
          windowStart = Date.now();
          cpuStart = process.cpuUsage();
          crowd.measuring = true;
        } else if (m.type === 'stop' && crowd) {
          send({ type: 'result', result: await finish(new Map(m.published)) });
        }
      } catch (error) {
        send({ type: 'failed', message: String(error) });
      }
    })();
  });
  // The bench is gone: so are its viewers.
  process.on('disconnect', () => process.exit(0));
}

// ---- The bench -----------------------------------------------------------------------------

/** The viewer process, from the bench's side. */
class ViewerProcess {
  readonly child: ChildProcess;
  readonly #listeners = new Set<(m: FromViewers) => void>();

  constructor() {
    this.child = fork(thisFile, ['--viewer-process'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('error', () => {}); // a send after exit: the wait below fails by itself
    this.child.on('message', (m: FromViewers) => {
      for (const listener of this.#listeners) listener(m);
    });
  }

  send(m: ToViewers): void {
    if (!this.child.connected) throw new Error('the viewer process is gone');
    this.child.send(m);
  }

  /** The next message of a type, within `timeoutMs`. */
  next<T extends FromViewers['type']>(type: T, timeoutMs: number): Promise<Extract<FromViewers, { type: T }>> {
    return new Promise((resolve, reject) => {
      const listener = (m: FromViewers) => {
        if (m.type !== type && m.type !== 'failed') return;
        done();
        if (m.type === 'failed') reject(new Error(`viewer process: ${m.message}`));
        else resolve(m as Extract<FromViewers, { type: T }>);
      };
      const onExit = () => (done(), reject(new Error('the viewer process exited')));
      const timer = setTimeout(
        () => (done(), reject(new Error(`the viewer process did not answer (${type}) in ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        this.child.off('exit', onExit);
      };
      this.#listeners.add(listener);
      this.child.once('exit', onExit);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode) return;
    this.child.disconnect();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (this.child.kill('SIGKILL'), resolve()), 3000);
      this.child.once('exit', () => (clearTimeout(timer), resolve()));
    });
  }
}

/** utime + stime of nginx's master and of its children now (workers, cache manager, the cache loader while it runs), by pid. */
function edgeCpu(master: number): Map<number, number> {
  const out = new Map<number, number>();
  let children: number[] = [];
  try {
    children = fs.readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    /* nginx is gone: nothing to count */
  }
  for (const pid of [master, ...children]) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / clockTicks);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** CPU seconds between two readings, of the processes in both (the cache loader exits after its first minute). */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) if (before.has(pid)) total += seconds - before.get(pid)!;
  return total;
}

interface PhaseResult {
  name: string;
  windowS: number;
  viewers: CrowdResult;
  originRequests: number;
  serverCpu: number;
  edgeCpu: number;
  /** Phase b: how nginx answered (cache status → requests). */
  cache?: Record<string, number>;
  edgeStatuses?: Record<string, number>;
}

function tally(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { startNginx } = await load<typeof import('../tests/helpers/nginx.js')>('tests/helpers/nginx.ts');
  const { joinPlain } = await load<typeof import('../tests/helpers/plainPeer.js')>('tests/helpers/plainPeer.ts');
  const { waitFor } = await load<typeof import('../tests/helpers/rtp.js')>('tests/helpers/rtp.ts');

  const loadAverage = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  const loadBefore = loadAverage();
  const phaseMs = (stagger + seconds) * 1000 + settleMs;
  const budgetMs = warmup * 1000 + 2 * (phaseMs + 30_000) + 90_000;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let edge: Awaited<ReturnType<typeof startNginx>> | undefined;
  let studio: Awaited<ReturnType<typeof joinPlain>> | undefined;
  let viewers: ViewerProcess | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await viewers?.close().catch(() => {});
      await studio?.stop().catch(() => {});
      await edge?.stop().catch(() => {});
      await server?.stop().catch(() => {});
    })());
  // Overall deadline, and bench/run.ts's SIGTERM: nothing of ours (nginx, ffmpeg, viewers) is left behind.
  const watchdog = setTimeout(() => {
    console.error(`[edge] did not finish in ${Math.round(budgetMs / 1000)} s: stopping`);
    void close().finally(() => process.exit(1));
  }, budgetMs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void close().finally(() => process.exit(130)));

  try {
    server = await startServer({ workers: 1, autoRecord: true });
    // Public: a restricted session's files are "private, no-store", which the edge never caches.
    await server.sessions.create({ id: sid, title: 'Truyền hình trực tiếp', public: true });
    const room = await server.sessions.room(sid);
    studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    room.goLive();
    await waitFor('the recorder', () => room.snapshot().recording, 20_000);
    const live = server.recordings;
    await waitFor('the Low-Latency HLS stream', () => (live.lowLatency(sid)?.stats.segments ?? 0) >= 2, 30_000);
    // The origin is in this process: when it publishes each part is known on the viewers' clock.
    const published = new Map<string, number>();
    live.lowLatency(sid)!.on('part', (part) => published.set(part.name, Date.now()));
    edge = await startNginx(server.url);
    viewers = new ViewerProcess();
    console.log(`[edge] on air; letting the live stream build up for ${warmup} s`);
    await sleep(warmup * 1000);

    const runPhase = async (name: string, base: string): Promise<PhaseResult> => {
      const hls = (l: { uri: string }) => l.uri.startsWith('/hls/');
      console.log(`[edge] ${name}: ${viewerCount} viewers starting over ${stagger} s, then ${seconds} s measured`);
      viewers!.send({ type: 'start', base, viewers: viewerCount, staggerMs: stagger * 1000, sockets, maxMs: phaseMs + 20_000 });
      await viewers!.next('started', stagger * 1000 + 20_000);
      await sleep(settleMs);
      const logFrom = edge!.accessLog().length;
      const [server0, edge0, t0] = [process.cpuUsage(), edgeCpu(edge!.pid), Date.now()];
      viewers!.send({ type: 'measure' });
      await sleep(seconds * 1000);
      const [serverCpu, edge1, t1] = [process.cpuUsage(server0), edgeCpu(edge!.pid), Date.now()];
      viewers!.send({ type: 'stop', published: [...published] });
      const result = (await viewers!.next('result', 20_000)).result;
      const lines = edge!.accessLog().slice(logFrom).filter(hls);
      const throughEdge = base === edge!.url;
      const total = result.requests.playlist + result.requests.part + result.requests.init;
      return {
        name,
        windowS: (t1 - t0) / 1000,
        viewers: result,
        // Straight to the origin, every viewer request is an origin request.
        originRequests: throughEdge ? lines.filter((l) => l.upstream !== '-').length : total,
        serverCpu: (serverCpu.user + serverCpu.system) / 1e6,
        edgeCpu: cpuBetween(edge0, edge1),
        cache: throughEdge ? tally(lines.map((l) => l.cache)) : undefined,
        edgeStatuses: throughEdge ? tally(lines.map((l) => String(l.status))) : undefined,
      };
    };

    const direct = await runPhase('(a) origin only', server.url);
    await sleep(1000);
    const cached = await runPhase('(b) through the edge', edge.url);

    console.log(
      `\nLow-Latency HLS, ${viewerCount} viewers, ${seconds} s per phase (${os.cpus().length} cores, load ${loadBefore} before, ${loadAverage()} after)`,
    );
    console.log(
      '| phase | viewer req/s | origin req/s | errors / non-200 | latency by PDT median / p95 ms | published → received median / p95 ms | parts | server CPU s | nginx CPU s | viewers CPU s |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const p of [direct, cached]) {
      const v = p.viewers;
      const total = v.requests.playlist + v.requests.part + v.requests.init;
      const errors = Object.values(v.errors).reduce((a, b) => a + b, 0);
      const errorText = errors ? `${errors} ${JSON.stringify(v.errors)}` : '0';
      console.log(
        `| ${p.name} | ${(total / (v.windowMs / 1000)).toFixed(0)} | ${(p.originRequests / p.windowS).toFixed(1)} | ${errorText} | ` +
          `${v.latency.median} / ${v.latency.p95} | ${v.delivery.median} / ${v.delivery.p95} | ${v.latency.n} | ${p.serverCpu.toFixed(2)} | ${p.edgeCpu.toFixed(2)} | ${v.cpuSeconds.toFixed(2)} |`,
      );
    }
    for (const p of [direct, cached]) {
      const r = p.viewers.requests;
      console.log(
        `${p.name}: viewer requests ${r.playlist} playlists, ${r.part} parts, ${r.init} maps; ${(p.viewers.bytes / 1e6).toFixed(1)} MB` +
          (p.cache ? `; at the edge: cache ${JSON.stringify(p.cache)}, status ${JSON.stringify(p.edgeStatuses)}` : ''),
      );
    }
    const [lagA, lagB] = [direct.viewers.dateLag, cached.viewers.dateLag];
    console.log(
      `the origin published each part ${lagA.median} ms (median; ${lagB.median} ms in phase b) after its end by EXT-X-PROGRAM-DATE-TIME: ` +
        'the latency by PDT is the delivery plus that',
    );
    const ratio = direct.originRequests / direct.windowS / (cached.originRequests / cached.windowS);
    console.log(`origin req/s without the edge ÷ with it: ${ratio.toFixed(1)}×`);
    if (/\[(emerg|alert|crit|error)\]/.test(edge.errorLog())) console.log(`nginx error log:\n${edge.errorLog().slice(-2000)}`);
  } finally {
    clearTimeout(watchdog);
    await close();
  }
}

if (values['viewer-process']) viewerProcess();
else await main();
