/**
 * Live latency, glass to glass, in Chromium: how far behind the studio a
 * member watching the Low-Latency HLS stream is, and — for comparison, in the
 * same run — a connection point watching over WebRTC and a viewer of the
 * classic playlist.
 *
 * The studio page's camera is replaced by a canvas that paints the current
 * time (ms, 32 bits) as an 8×4 grid of black and white cells over the whole
 * picture, so it survives simulcast's smallest layer and H.264 at low bitrate.
 * Every page reads the time painted in the frame it is showing and compares
 * it with its own clock (one machine, one clock). The HLS player is also
 * measured the way hls.js reports it: now − hls.playingDate (from
 * EXT-X-PROGRAM-DATE-TIME), which leaves out the capture and encode delay.
 *
 * The WebRTC figure has a baseline of its own in the same run: a bare
 * mediasoup-client publisher and receiver on a bare mediasoup router
 * (bench/bare/), with the same time-coded camera, read the same way. Each
 * WebRTC phase runs alone (its sender and its receiver, no other page), and
 * the pages' own WebRTC statistics over the window (receiver's jitter buffer,
 * decode, frame rate and size; sender's layers and encode time) are printed
 * beside the figures, to tell where a difference comes from.
 *
 *   node --import tsx bench/liveLatency.ts [--seconds 60] [--warmup 20] [--webrtc-seconds 30] [--bare-warmup 10]
 *                                         [--only webrtc] [--no-record] [--workers 2] [--no-lip-sync]
 * (--seconds per HLS phase; --webrtc-seconds per WebRTC phase: the point alone, then the bare receiver;
 *  --only webrtc: the product's point and the bare baseline, no HLS;
 *  --no-record: the server does not record, so no recorder ffmpeg shares the CPU;
 *  --workers: the server's media workers — with 2 the point is on the other worker than the studio,
 *  the program reaches it through a pipe; --no-lip-sync: both receivers play the picture without
 *  waiting for the sound (their audio is put in a stream of its own), to see what lip sync costs)
 * The web app must be built (npm run bench does it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    only: { type: 'string', default: 'all' },
    'no-record': { type: 'boolean', default: false },
    'no-lip-sync': { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    'webrtc-seconds': { type: 'string', default: '30' },
    'bare-warmup': { type: 'string', default: '10' },
  },
  strict: false,
});
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const only = String(values.only);
if (only !== 'all' && only !== 'webrtc') throw new Error(`--only ${only}: expected webrtc (or nothing for every phase)`);
const record = !values['no-record'];
const lipSync = !values['no-lip-sync'];
const webrtcSeconds = Number(values['webrtc-seconds']);
const bareWarmup = Number(values['bare-warmup']);
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1 || workers > 4) throw new Error(`--workers ${String(values.workers)}: expected 1 to 4`);

/** Replaces the camera with a time-coded canvas and the mic with a tone. Plain JS: runs in the page. */
const timeCodedCamera = String.raw`(() => {
  const W = 640, H = 360, COLS = 8, ROWS = 4;
  const canvas = document.createElement('canvas');
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext('2d');
  const paint = () => {
    const t = (Date.now() % 2 ** 32) >>> 0;
    for (let i = 0; i < 32; i++) {
      const bit = (t >>> (31 - i)) & 1;
      g.fillStyle = bit ? '#fff' : '#000';
      g.fillRect((i % COLS) * (W / COLS), Math.floor(i / COLS) * (H / ROWS), W / COLS, H / ROWS);
    }
    requestAnimationFrame(paint);
  };
  paint();
  setInterval(paint, 20);
  navigator.mediaDevices.getUserMedia = async () => {
    const stream = canvas.captureStream(30);
    const audio = new AudioContext();
    const osc = audio.createOscillator();
    const dest = audio.createMediaStreamDestination();
    osc.connect(dest); osc.start();
    stream.addTrack(dest.stream.getAudioTracks()[0]);
    return stream;
  };
})();`;

/**
 * Keeps every RTCPeerConnection the page makes (mediasoup-client's, in the
 * product and in the bare pages alike), so the bench can read their stats.
 */
const tapPeerConnections = String.raw`(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
})();`;

/** Puts each received audio track in a stream of its own: no lip sync between the picture and the sound. */
const noLipSync = String.raw`(() => {
  const native = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d) {
    if (d && d.sdp) d = { type: d.type, sdp: d.sdp.split(/(?=\r\nm=)/).map((m) => m.startsWith('\r\nm=audio') ? m.replace(/a=msid:(\S+) /g, 'a=msid:alone-$1 ') : m).join('') };
    return native.call(this, d);
  };
})();`;

/** The WebRTC counters of every open peer connection of a page; plain JS for page.evaluate. */
const readRtcStats = String.raw`async () => {
  const out = { inVideo: null, inAudio: null, outVideo: [] };
  const add = (into, s, keys) => { for (const k of keys) into[k] = (into[k] || 0) + (s[k] || 0); };
  const inKeys = ['framesDecoded', 'framesDropped', 'framesReceived', 'jitterBufferDelay', 'jitterBufferEmittedCount',
    'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'totalDecodeTime', 'totalProcessingDelay', 'totalAssemblyTime',
    'packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'freezeCount', 'totalFreezesDuration'];
  for (const pc of window.__pcs || []) {
    if (pc.connectionState === 'closed') continue;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.inVideo = out.inVideo || { frameWidth: 0 };
        add(out.inVideo, s, inKeys);
        out.inVideo.frameWidth = Math.max(out.inVideo.frameWidth, s.frameWidth || 0);
      } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.inAudio = out.inAudio || {};
        add(out.inAudio, s, ['jitterBufferDelay', 'jitterBufferEmittedCount', 'jitterBufferTargetDelay', 'jitterBufferMinimumDelay', 'packetsReceived', 'concealedSamples', 'totalSamplesReceived']);
        out.inAudio.jitter = Math.max(out.inAudio.jitter || 0, s.jitter || 0);
      } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.outVideo.push({ rid: s.rid || '', frameWidth: s.frameWidth || 0, framesEncoded: s.framesEncoded || 0,
          totalEncodeTime: s.totalEncodeTime || 0, packetsSent: s.packetsSent || 0, totalPacketSendDelay: s.totalPacketSendDelay || 0,
          qualityLimitationReason: s.qualityLimitationReason || '' });
      }
    });
  }
  return out;
}`;

/** Reads the time painted in the frame a video element shows; plain JS for page.evaluate. */
const readTimeCode = String.raw`(selector) => {
  const video = document.querySelector(selector);
  if (!video || !video.videoWidth) return null;
  const c = window.__tc || (window.__tc = document.createElement('canvas'));
  c.width = 160; c.height = 80;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(video, 0, 0, 160, 80);
  const data = g.getImageData(0, 0, 160, 80).data;
  let t = 0;
  for (let i = 0; i < 32; i++) {
    const x = Math.floor(((i % 8) + 0.5) * 20), y = Math.floor((Math.floor(i / 8) + 0.5) * 20);
    const o = (y * 160 + x) * 4;
    const lum = (data[o] + data[o + 1] + data[o + 2]) / 3;
    t = (t * 2) + (lum > 128 ? 1 : 0);
  }
  const now = (Date.now() % 2 ** 32) >>> 0;
  const hls = window.diemcauPlayer && window.diemcauPlayer.hls;
  const pdt = hls && hls.playingDate ? Date.now() - hls.playingDate.getTime() : null;
  const b = video.buffered;
  const ahead = b.length ? b.end(b.length - 1) - video.currentTime : 0;
  return { glass: now - t, pdt, latency: hls ? hls.latency : null, target: hls ? hls.targetLatency : null, ahead };
}`;

function stats(samples: number[]): { median: number; p95: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95), n: s.length };
}

/** One page's samples (ms): glass to glass, and for a player its own view (hls.js latency, target, buffer ahead). */
interface Samples {
  glass: number[];
  pdt: number[];
  latency: number[];
  target: number[];
  ahead: number[];
}
const samples = (): Samples => ({ glass: [], pdt: [], latency: [], target: [], ahead: [] });

async function sample(page: Page, selector: string, into: Samples): Promise<void> {
  type Reading = { glass: number; pdt: number | null; latency: number | null; target: number | null; ahead: number };
  const r = await page.evaluate<Reading | null>(`(${readTimeCode})(${JSON.stringify(selector)})`);
  if (!r) return;
  // A torn or blended frame decodes to nonsense: keep only plausible values.
  if (r.glass >= 0 && r.glass < 120_000) into.glass.push(r.glass);
  if (r.pdt != null && r.pdt >= 0 && r.pdt < 120_000) into.pdt.push(r.pdt);
  if (r.latency != null && r.latency > 0) into.latency.push(Math.round(r.latency * 1000));
  if (r.target != null && r.target > 0) into.target.push(Math.round(r.target * 1000));
  into.ahead.push(Math.round(r.ahead * 1000));
}

type Counters = Record<string, number>;
interface RtcStats {
  inVideo: Counters | null;
  inAudio: Counters | null;
  outVideo: {
    rid: string;
    frameWidth: number;
    framesEncoded: number;
    totalEncodeTime: number;
    packetsSent: number;
    totalPacketSendDelay: number;
    qualityLimitationReason: string;
  }[];
}
const rtcStats = (page: Page): Promise<RtcStats> => page.evaluate<RtcStats>(`(${readRtcStats})()`);

/** The machine's busy and total jiffies (/proc/stat), for its load during a window. */
function cpuTimes(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
}

/** CPU time (jiffies) of every process, with its name and parent, from /proc. */
function processTimes(): Map<number, { name: string; ppid: number; ticks: number }> {
  const out = new Map<number, { name: string; ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      out.set(Number(entry), {
        name: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(rest[1]),
        ticks: Number(rest[11]) + Number(rest[12]),
      });
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** The processes that used the most CPU between two snapshots, in % of one core; ours (the bench's descendants) marked. */
function topProcesses(
  before: Map<number, { ticks: number }>,
  after: Map<number, { name: string; ppid: number; ticks: number }>,
  ms: number,
): string {
  const ours = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; hops++) {
      if (p === process.pid) return true;
      p = after.get(p)?.ppid ?? 0;
    }
    return false;
  };
  return [...after]
    .map(([pid, p]) => ({ pid, name: p.name, pct: ((p.ticks - (before.get(pid)?.ticks ?? p.ticks)) * 10 * 100) / ms }))
    .filter((p) => p.pct >= 3)
    .sort((a, b) => b.pct - a.pct)
    .slice(0, 8)
    .map((p) => `${p.name}[${p.pid}]${ours(p.pid) ? '' : ' (not ours)'} ${p.pct.toFixed(0)} %`)
    .join(', ');
}

/**
 * What the receiver and the sender did over one window, from their WebRTC
 * counters: where the time between the canvas and the screen can go.
 */
function describeWindow(receiver: [RtcStats, RtcStats], sender: [RtcStats, RtcStats], windowS: number, busy: number, top: string): string {
  const [a, b] = receiver;
  const d = (k: string, x: Counters | null = a.inVideo, y: Counters | null = b.inVideo) => (y?.[k] ?? 0) - (x?.[k] ?? 0);
  const per = (num: number, den: number) => (den > 0 ? ((num / den) * 1000).toFixed(1) : '–');
  const emitted = d('jitterBufferEmittedCount');
  const decoded = d('framesDecoded');
  const audioEmitted = d('jitterBufferEmittedCount', a.inAudio, b.inAudio);
  const layers = sender[1].outVideo
    .map((o) => {
      const before = sender[0].outVideo.find((x) => x.rid === o.rid);
      const frames = o.framesEncoded - (before?.framesEncoded ?? 0);
      const encodeMs = per(o.totalEncodeTime - (before?.totalEncodeTime ?? 0), frames);
      const sendMs = per(o.totalPacketSendDelay - (before?.totalPacketSendDelay ?? 0), o.packetsSent - (before?.packetsSent ?? 0));
      return `${o.rid || '-'} ${o.frameWidth}w ${(frames / windowS).toFixed(1)} fps, encode ${encodeMs} ms, pacer ${sendMs} ms${o.qualityLimitationReason && o.qualityLimitationReason !== 'none' ? ` (${o.qualityLimitationReason})` : ''}`;
    })
    .join('; ');
  return (
    `  receiver: ${b.inVideo?.frameWidth ?? 0}w, ${(decoded / windowS).toFixed(1)} fps decoded, ` +
    `video jitter buffer ${per(d('jitterBufferDelay'), emitted)} ms (target ${per(d('jitterBufferTargetDelay'), emitted)}, ` +
    `minimum ${per(d('jitterBufferMinimumDelay'), emitted)}), audio jitter buffer ${per(d('jitterBufferDelay', a.inAudio, b.inAudio), audioEmitted)} ms ` +
    `(minimum ${per(d('jitterBufferMinimumDelay', a.inAudio, b.inAudio), audioEmitted)}) ` +
    `(arrival jitter ${((b.inAudio?.jitter ?? 0) * 1000).toFixed(1)} ms, ${(d('packetsReceived', a.inAudio, b.inAudio) / windowS).toFixed(0)} packets/s, ` +
    `concealed ${per(d('concealedSamples', a.inAudio, b.inAudio), d('totalSamplesReceived', a.inAudio, b.inAudio) * 1000)} ‰), ` +
    `assembly ${per(d('totalAssemblyTime'), decoded)} ms, decode ${per(d('totalDecodeTime'), decoded)} ms, ` +
    `receive → decoded ${per(d('totalProcessingDelay'), decoded)} ms, dropped ${d('framesDropped')}, lost ${d('packetsLost')}, ` +
    `NACK ${d('nackCount')}, PLI ${d('pliCount')}, freezes ${d('freezeCount')}\n` +
    `  sender layers: ${layers || 'none'}\n` +
    `  machine busy ${busy.toFixed(0)} % of 2 cores; by process: ${top}`
  );
}

/**
 * Samples a WebRTC receiver's glass to glass for `seconds`, and reads both
 * pages' WebRTC counters around the window.
 */
async function webrtcWindow(receiver: Page, sender: Page, into: Samples, seconds: number): Promise<string> {
  const before: [RtcStats, RtcStats] = [await rtcStats(receiver), await rtcStats(sender)];
  const cpu = cpuTimes();
  const processes = processTimes();
  const started = Date.now();
  const end = started + seconds * 1000;
  while (Date.now() < end) {
    await sample(receiver, '[data-testid="program-video"]', into);
    await new Promise((r) => setTimeout(r, 500));
  }
  const after: [RtcStats, RtcStats] = [await rtcStats(receiver), await rtcStats(sender)];
  const cpuAfter = cpuTimes();
  const top = topProcesses(processes, processTimes(), Date.now() - started);
  const busy = ((cpuAfter.busy - cpu.busy) / Math.max(1, cpuAfter.total - cpu.total)) * 200;
  return describeWindow([before[0], after[0]], [before[1], after[1]], (Date.now() - started) / 1000, busy, top);
}

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { launchBrowser, newPage } = await load<typeof import('../tests/helpers/browser.js')>('tests/helpers/browser.ts');
  const { startBareSfu } = await load<typeof import('./bare/BareSfu.js')>('bench/bare/BareSfu.ts');
  const browser = await launchBrowser();
  const webrtc = samples();
  const bareWebrtc = samples();
  const pointDuringHls = samples();
  const hls = samples();
  const classicHls = samples();
  let productWindow = '';
  let bareWindow = '';
  let recorderPlan: unknown = null;
  try {
    // ---- Diemcau: the studio page and a connection point, over the platform.
    const server = await startServer({ workers, autoRecord: record });
    try {
      const sid = 'latency';
      await server.sessions.create({ id: sid, title: 'Live latency bench' });
      const studio = await newPage(browser, server.url);
      await studio.addInitScript(timeCodedCamera);
      await studio.addInitScript(tapPeerConnections);
      await studio.goto(await server.invitation({ sid, sub: 'studio', role: 'studio', name: 'Studio' }));
      await studio.getByTestId('join').click();
      await studio.getByTestId('go-live').click();

      const point = await newPage(browser, server.url);
      await point.addInitScript(tapPeerConnections);
      if (!lipSync) await point.addInitScript(noLipSync);
      await point.goto(await server.invitation({ sid, sub: 'point', role: 'point', name: 'Point' }));
      await point.getByTestId('join').click();

      console.log(`[latency] Diemcau on air; letting the live stream build up for ${warmup} s`);
      await new Promise((r) => setTimeout(r, warmup * 1000));
      // The point alone first: the WebRTC figure without a third Chromium page on the 2 cores.
      productWindow = await webrtcWindow(point, studio, webrtc, webrtcSeconds);

      // Two HLS phases, one viewer page at a time (more Chromium pages than cores would measure the machine):
      // Low-Latency HLS as the watch page plays it, then the baseline of the same run, the classic
      // playlist (what a player without Low-Latency HLS gets): the same page with its playlist
      // requests answered by live.m3u8. The point is sampled beside it, as in earlier runs.
      for (const phase of only === 'webrtc' ? [] : (['low-latency', 'classic'] as const)) {
        const viewer = await newPage(browser, server.url);
        if (phase === 'classic') {
          await viewer.route('**/ll.m3u8*', (route) =>
            route.continue({
              url: route
                .request()
                .url()
                .replace(/ll\.m3u8(\?.*)?$/, 'live.m3u8'),
            }),
          );
        }
        await viewer.goto(`${server.url}/watch/${sid}?live=1`);
        await viewer.waitForFunction(
          () => {
            const p = (window as unknown as { diemcauPlayer?: { video: HTMLVideoElement } }).diemcauPlayer;
            return !!p && p.video.currentTime > 0;
          },
          undefined,
          { timeout: 60_000 },
        );
        const end = Date.now() + seconds * 1000;
        while (Date.now() < end) {
          await sample(point, '[data-testid="program-video"]', pointDuringHls);
          await sample(viewer, '[data-testid="player-video"]', phase === 'classic' ? classicHls : hls);
          await new Promise((r) => setTimeout(r, 500));
        }
        // Stalls raise hls.js's target by liveSyncOnStallIncrease each: worth knowing beside the figures.
        const errors = await viewer.evaluate(
          () => (window as unknown as { diemcauPlayer?: { errors: string[] } }).diemcauPlayer?.errors ?? [],
        );
        console.log(`[latency] ${phase}: the player reported ${errors.length ? errors.join(', ') : 'no error'}`);
        await viewer.context().close();
      }
      recorderPlan = server.recordings.recorder(sid)?.currentPlan ?? null;
      await point.context().close();
      await studio.context().close();
    } finally {
      await server.stop();
    }

    // ---- The bare baseline: mediasoup-client pages on a bare mediasoup router, the same camera.
    const bare = await startBareSfu();
    try {
      const publisher = await newPage(browser, bare.url);
      await publisher.addInitScript(timeCodedCamera);
      await publisher.addInitScript(tapPeerConnections);
      await publisher.goto(bare.publisherUrl);
      await publisher.waitForFunction(() => (window as unknown as { bare: { state: string } }).bare.state === 'publishing', undefined, {
        timeout: 30_000,
      });
      const receiver = await newPage(browser, bare.url);
      await receiver.addInitScript(tapPeerConnections);
      if (!lipSync) await receiver.addInitScript(noLipSync);
      await receiver.goto(bare.receiverUrl(0));
      await receiver.getByTestId('join').click();
      await receiver.waitForFunction(
        () => (document.querySelector<HTMLVideoElement>('[data-testid="program-video"]')?.videoWidth ?? 0) > 0,
        undefined,
        { timeout: 30_000 },
      );
      // The bare SFU has no recorder nor live stream to build up: only the simulcast layers to ramp up.
      console.log(`[latency] bare baseline on air; ${bareWarmup} s for the simulcast layers to ramp up`);
      await new Promise((r) => setTimeout(r, bareWarmup * 1000));
      bareWindow = await webrtcWindow(receiver, publisher, bareWebrtc, webrtcSeconds);
      await receiver.context().close();
      await publisher.context().close();
    } finally {
      await bare.close();
    }
  } finally {
    await browser.close();
  }

  const w = stats(webrtc.glass);
  const bw = stats(bareWebrtc.glass);
  console.log(
    `\nLive latency over ${webrtcSeconds} s per WebRTC phase, ${seconds} s per HLS phase (recording ${record ? 'on' : 'off'}, ${workers} media worker(s), lip sync ${lipSync ? 'on' : 'off'}, recorder path: ${JSON.stringify(recorderPlan)})`,
  );
  console.log('| path | measure | median ms | p95 ms | samples |');
  console.log('|---|---|---:|---:|---:|');
  console.log(`| WebRTC (connection point, alone) | glass to glass | ${w.median} | ${w.p95} | ${w.n} |`);
  console.log(`| WebRTC (bare mediasoup-client, baseline) | glass to glass | ${bw.median} | ${bw.p95} | ${bw.n} |`);
  if (only !== 'webrtc') {
    const pw = stats(pointDuringHls.glass);
    const g = stats(hls.glass);
    const p = stats(hls.pdt);
    const c = stats(classicHls.glass);
    console.log(`| WebRTC (connection point, beside the HLS viewer) | glass to glass | ${pw.median} | ${pw.p95} | ${pw.n} |`);
    console.log(`| Low-Latency HLS (hls.js viewer) | glass to glass | ${g.median} | ${g.p95} | ${g.n} |`);
    console.log(`| Low-Latency HLS (hls.js viewer) | now − playingDate | ${p.median} | ${p.p95} | ${p.n} |`);
    console.log(`| classic HLS (hls.js viewer) | glass to glass | ${c.median} | ${c.p95} | ${c.n} |`);
    for (const [name, s] of [
      ['Low-Latency HLS', hls],
      ['classic HLS', classicHls],
    ] as const) {
      const [l, t, a] = [stats(s.latency), stats(s.target), stats(s.ahead)];
      console.log(
        `${name}, as hls.js sees it (median / p95 ms): behind the edge ${l.median} / ${l.p95}, ` +
          `its target ${t.median} / ${t.p95}, buffered ahead ${a.median} / ${a.p95}`,
      );
    }
    console.log(
      `Low-Latency HLS / WebRTC: ${(g.median / w.median).toFixed(1)}×; classic / Low-Latency HLS: ${(c.median / g.median).toFixed(1)}×`,
    );
  }
  console.log(
    `\nWebRTC glass to glass, Diemcau / bare: ${(w.median / bw.median).toFixed(2)}× (median ${w.median} ms against ${bw.median} ms)`,
  );
  console.log(`Diemcau point window:\n${productWindow}`);
  console.log(`Bare receiver window:\n${bareWindow}`);
}

await main();
