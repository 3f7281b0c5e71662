/**
 * Encoder → connection point, glass to glass, for each way the broadcast
 * desk's encoder can come in — RTMP, SRT and WHIP — against the browser
 * studio's own WebRTC in the same run.
 *
 * Every sender stamps its wall clock into its picture (bench/ingestLatency/timeCode.ts:
 * ms modulo 2^24 as a 6×4 grid of black and white cells): ffmpeg pushing RTMP
 * and SRT to the addresses the console's ingest API gives (x264 zero latency,
 * a keyframe a second, 1.5 Mbit/s, AAC), Chromium as a WHIP encoder (a canvas
 * painted with Date.now()), and the web app's studio page with the same canvas
 * as its camera. The web app's point page receives the program; every frame
 * its video element presents (requestVideoFrameCallback) is decoded from a
 * canvas and now − stamp is kept with the frame's height. One machine, one
 * clock. Each sender is measured with the point at the top layer, then with
 * the point in 'low' receive mode (the 180p layer where there is one).
 *
 *   node --import tsx bench/ingestLatency.ts [--seconds 25] [--low-seconds 12] [--senders studio,rtmp,srt,whip]
 * The web app must be built (npm run bench does it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { z } from 'zod';
import type { IngestAddress, SessionIngest } from '../protocol/index.js';
import { TimeCodedEncoder, timeCodedCamera, timeCodeFilter, timeCodeOf, timeCodeReader, timeCodeSource } from './ingestLatency/timeCode.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const senders = ['studio', 'rtmp', 'srt', 'whip'] as const;
type Sender = (typeof senders)[number];

const options = z
  .object({
    seconds: z.coerce.number().min(3).max(300),
    lowSeconds: z.coerce.number().min(0).max(300),
    only: z.array(z.enum(senders)).min(1),
  })
  .parse(
    (() => {
      const { values } = parseArgs({
        options: {
          seconds: { type: 'string', default: '25' },
          'low-seconds': { type: 'string', default: '12' },
          senders: { type: 'string', default: senders.join(',') },
        },
        strict: false,
      });
      return { seconds: values.seconds, lowSeconds: values['low-seconds'], only: String(values.senders).split(',') };
    })(),
  );

/** Every wait of the bench is bounded by this. */
const waitMs = 60_000;
const programVideo = '[data-testid="program-video"]';

class IngestLatencyError extends Error {
  override name = 'IngestLatencyError';
}

/** `check` until it gives something, every 250 ms, at most `ms`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = waitMs) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new IngestLatencyError(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stats(samples: number[]): { median: number; p95: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { median: at(0.5), p95: at(0.95), n: s.length };
}

/** The machine's busy share (all cores) between two readings of /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function run(ffmpeg: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new IngestLatencyError(`ffmpeg ${args.join(' ')} failed: ${err.trim()}`));
    });
  });
}

/**
 * Before anything is measured: the page's reader decodes stills made by the
 * encoder's own filter at a known time — the raw picture, and the picture
 * after H.264 at the encoder's bitrate scaled to the 180p layer.
 */
async function checkDecoder(ffmpeg: string, page: Page): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-timecode-'));
  try {
    const micros = 1_764_500_000_123_456;
    const expected = timeCodeOf(micros);
    const raw = path.join(dir, 'raw.png');
    const h264 = path.join(dir, 'still.mp4');
    const low = path.join(dir, 'low.png');
    await run(ffmpeg, ['-f', 'lavfi', '-i', timeCodeSource, '-vf', timeCodeFilter(micros), '-frames:v', '1', raw]);
    // prettier-ignore
    await run(ffmpeg, ['-f', 'lavfi', '-i', timeCodeSource, '-vf', timeCodeFilter(micros), '-frames:v', '1',
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-b:v', '1500k', '-pix_fmt', 'yuv420p', h264]);
    await run(ffmpeg, ['-i', h264, '-vf', 'scale=320:180', '-frames:v', '1', low]);
    const decoded: number[] = [];
    for (const file of [raw, low]) {
      const url = `data:image/png;base64,${fs.readFileSync(file).toString('base64')}`;
      decoded.push(
        await page.evaluate(async (src) => {
          const img = new Image();
          img.src = src;
          await img.decode();
          return (window as unknown as { __timeCode: { decode(i: HTMLImageElement): number } }).__timeCode.decode(img);
        }, url),
      );
    }
    if (decoded.some((d) => d !== expected)) {
      throw new IngestLatencyError(`the time code reader is wrong: expected ${expected}, read ${decoded.join(' and ')}`);
    }
    return `time code reader checked on stills of ${expected} (640×360 raw, 320×180 after H.264): both read back exactly`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A WHIP client in the page, as tests/integration/whipIngest.test.ts: one sendonly connection, the offer POSTed with the bearer token. */
async function publishWhip(page: Page, url: string, token: string): Promise<void> {
  const status = await page.evaluate(
    async ({ url, token }) => {
      const stream = (window as unknown as { __timeCodedStream(): MediaStream }).__timeCodedStream();
      const pc = new RTCPeerConnection();
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
        setTimeout(resolve, 5000);
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
        body: pc.localDescription!.sdp,
      });
      const body = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
      (window as unknown as { whip: RTCPeerConnection }).whip = pc;
      return `${res.status} ${res.status === 201 ? '' : body}`;
    },
    { url, token },
  );
  if (!status.startsWith('201')) throw new IngestLatencyError(`WHIP offer refused: ${status}`);
}

interface Sample {
  d: number;
  h: number;
}

interface Window {
  mode: 'auto' | 'low';
  samples: Sample[];
  rejected: number;
  seconds: number;
  busy: number;
  load: number[];
}

interface Result {
  sender: Sender;
  detail: string;
  windows: Window[];
  loadBefore: number;
}

async function main(): Promise<void> {
  const { startServer, tokenFor } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { launchBrowser, newPage } = await load<typeof import('../tests/helpers/browser.js')>('tests/helpers/browser.ts');
  const { findFfmpeg } = await load<typeof import('../recorder/ffmpegBinary.js')>('recorder/ffmpegBinary.ts');
  const ffmpeg = findFfmpeg().path;
  const loadAtStart = os.loadavg();
  const server = await startServer({ workers: 2 });
  let browser: Browser | undefined;
  const results: Result[] = [];
  try {
    browser = await launchBrowser();
    const checker = await newPage(browser, server.url);
    await checker.addInitScript(timeCodeReader);
    await checker.goto(`${server.url}/api/health`);
    console.log(`[ingest-latency] ${await checkDecoder(ffmpeg, checker)}`);
    await checker.context().close();

    for (const sender of options.only) {
      const sid = `ingest-latency-${sender}`;
      await server.sessions.create({ id: sid, title: `Ingest latency, ${sender}` });
      const operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
      // The addresses exactly as the console gets them.
      const res = await fetch(`${server.url}/api/sessions/${sid}/ingest`, { headers: { authorization: `Bearer ${operator}` } });
      if (res.status !== 200) throw new IngestLatencyError(`ingest API answered ${res.status}`);
      const ingest = (await res.json()) as SessionIngest;
      const address = (protocol: IngestAddress['protocol']) => ingest.addresses.find((a) => a.protocol === protocol && a.available);
      const loadBefore = os.loadavg()[0];

      let encoder: TimeCodedEncoder | undefined;
      let senderPage: Page | undefined;
      let detail = '';
      try {
        if (sender === 'studio') {
          senderPage = await newPage(browser, server.url);
          await senderPage.addInitScript(timeCodedCamera);
          await senderPage.goto(await server.invitation({ sid, sub: 'studio', role: 'studio', name: 'Studio' }));
          await senderPage.getByTestId('join').click();
          await senderPage.getByTestId('go-live').click();
          detail = 'web app studio page, canvas camera';
        } else if (sender === 'whip') {
          const whip = address('whip');
          if (!whip?.bearerToken) throw new IngestLatencyError('no WHIP address');
          senderPage = await newPage(browser, server.url);
          await senderPage.addInitScript(timeCodedCamera);
          await senderPage.goto(`${server.url}/api/health`);
          await publishWhip(senderPage, whip.url, whip.bearerToken);
          detail = 'Chromium WHIP client, canvas, one layer';
        } else {
          const target = sender === 'rtmp' ? address('rtmp') : address('srt');
          if (!target) throw new IngestLatencyError(`no ${sender} address`);
          const url = sender === 'rtmp' ? `${target.url}/${target.streamKey}` : target.url;
          encoder = TimeCodedEncoder.start(ffmpeg, url);
          const latency = /[?&]latency=(\d+)/.exec(url)?.[1];
          detail = `ffmpeg x264 zerolatency 1.5 Mbit/s${latency ? `, SRT latency=${latency} µs in the address` : ''}`;
        }
        const identity = sender === 'studio' ? 'studio' : 'encoder';
        const room = await waitFor(`${sender}: the sender in the session`, async () => {
          encoder?.assertRunning();
          const r = await server.sessions.runningRoom(sid);
          return r?.peer(identity)?.producerOf('video') ? r : undefined;
        });
        room.goLive('dieu-hanh');

        const point = await newPage(browser, server.url);
        try {
          await point.addInitScript(timeCodeReader);
          await point.goto(await server.invitation({ sid, sub: 'point', role: 'point', name: 'Point' }));
          await point.getByTestId('join').click();
          await point.evaluate((s) => (window as unknown as { __timeCode: { watch(s: string): void } }).__timeCode.watch(s), programVideo);
          type Taken = { samples: Sample[]; rejected: number };
          const take = () => point.evaluate(() => (window as unknown as { __timeCode: { take(): Taken } }).__timeCode.take());
          await waitFor(`${sender}: the point decoding time-coded frames`, async () => (await take()).samples.length > 0);
          // A few seconds for the receiver's jitter buffer and the bandwidth estimate to settle.
          await new Promise((r) => setTimeout(r, 3000));
          const windows: Window[] = [];
          for (const mode of ['auto', 'low'] as const) {
            const seconds = mode === 'auto' ? options.seconds : options.lowSeconds;
            if (seconds <= 0) continue;
            if (mode === 'low') {
              await point.getByTestId('receive-mode').selectOption('low');
              const top = Math.max(...windows[0].samples.map((s) => s.h));
              // The switch takes a keyframe: wait for a smaller frame (bounded), or measure what is sent if nothing smaller comes.
              await waitFor(`${sender}: a lower layer`, async () => (await take()).samples.some((s) => s.h < top), 10_000).catch(() => {});
            }
            await take();
            const cpu0 = cpuTimes();
            const load: number[] = [];
            const end = Date.now() + seconds * 1000;
            while (Date.now() < end) {
              encoder?.assertRunning();
              load.push(os.loadavg()[0]);
              await new Promise((r) => setTimeout(r, 1000));
            }
            const cpu1 = cpuTimes();
            const { samples, rejected } = await take();
            windows.push({ mode, samples, rejected, seconds, busy: (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total), load });
          }
          results.push({ sender, detail, windows, loadBefore });
        } finally {
          await point.context().close();
        }
        await room.end('dieu-hanh');
      } finally {
        await encoder?.close();
        await senderPage?.context().close();
      }
      console.log(`[ingest-latency] ${sender} measured`);
    }
  } finally {
    await browser?.close();
    await server.stop();
  }
  report(results, loadAtStart);
}

function report(results: Result[], loadAtStart: number[]): void {
  const names: Record<Sender, string> = {
    studio: 'browser studio (WebRTC, baseline)',
    rtmp: 'RTMP encoder (ffmpeg)',
    srt: 'SRT encoder (ffmpeg)',
    whip: 'WHIP encoder (Chromium)',
  };
  const baseline = results.find((r) => r.sender === 'studio');
  const baseOf = (mode: Window['mode']) => stats(baseline?.windows.find((w) => w.mode === mode)?.samples.map((s) => s.d) ?? []).median;
  console.log(
    `\nEncoder → connection point, glass to glass (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'}; ` +
      `load average at the start ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')})`,
  );
  console.log(
    '| sender | point receives | frame heights | median ms | p95 ms | n | frames/s | unreadable | vs studio | load before → during | machine busy | how |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|');
  for (const r of results) {
    for (const w of r.windows) {
      const s = stats(w.samples.map((x) => x.d));
      const heights = new Map<number, number>();
      for (const x of w.samples) heights.set(x.h, (heights.get(x.h) ?? 0) + 1);
      const shown = [...heights].sort((a, b) => b[1] - a[1]).map(([h, n]) => `${h}p ×${n}`);
      const base = baseOf(w.mode);
      const during = w.load.length ? (w.load.reduce((a, b) => a + b, 0) / w.load.length).toFixed(2) : '?';
      console.log(
        `| ${names[r.sender]} | ${w.mode === 'auto' ? 'top layer (auto)' : "'low' mode"} | ${shown.join(', ')} | ${s.median} | ${s.p95} | ${s.n} | ${(s.n / w.seconds).toFixed(1)} | ` +
          `${w.rejected} | ${Number.isFinite(base) && base > 0 ? `${(s.median / base).toFixed(2)}×` : 'n/a'} | ` +
          `${r.loadBefore.toFixed(2)} → ${during} | ${(w.busy * 100).toFixed(0)} % | ${r.detail} |`,
      );
    }
  }
}

await main();
