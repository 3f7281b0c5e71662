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
 *   node --import tsx bench/liveLatency.ts [--seconds 60] [--warmup 20]   (--seconds per phase)
 * The web app must be built (npm run bench does it).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = <T>(p: string): Promise<T> => import(pathToFileURL(path.join(root, p)).href) as Promise<T>;

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, warmup: { type: 'string', default: '20' } },
  strict: false,
});
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);

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

async function main(): Promise<void> {
  const { startServer } = await load<typeof import('../tests/helpers/server.js')>('tests/helpers/server.ts');
  const { launchBrowser, newPage } = await load<typeof import('../tests/helpers/browser.js')>('tests/helpers/browser.ts');
  const server = await startServer({ workers: 2, autoRecord: true });
  const browser = await launchBrowser();
  try {
    const sid = 'latency';
    await server.sessions.create({ id: sid, title: 'Live latency bench' });
    const studio = await newPage(browser, server.url);
    await studio.addInitScript(timeCodedCamera);
    await studio.goto(await server.invitation({ sid, sub: 'studio', role: 'studio', name: 'Studio' }));
    await studio.getByTestId('join').click();
    await studio.getByTestId('go-live').click();

    const point = await newPage(browser, server.url);
    await point.goto(await server.invitation({ sid, sub: 'point', role: 'point', name: 'Point' }));
    await point.getByTestId('join').click();

    console.log(`[latency] on air; letting the live stream build up for ${warmup} s`);
    await new Promise((r) => setTimeout(r, warmup * 1000));
    // Two phases, one viewer page at a time (more Chromium pages than cores would measure the machine):
    // Low-Latency HLS as the watch page plays it, then the baseline of the same run, the classic
    // playlist (what a player without Low-Latency HLS gets): the same page with its playlist
    // requests answered by live.m3u8.
    const webrtc = samples();
    const hls = samples();
    const classicHls = samples();
    for (const phase of ['low-latency', 'classic'] as const) {
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
        await sample(point, '[data-testid="program-video"]', webrtc);
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
    const recorder = server.recordings.recorder(sid);
    const w = stats(webrtc.glass);
    const g = stats(hls.glass);
    const p = stats(hls.pdt);
    const c = stats(classicHls.glass);
    console.log(`\nLive latency over ${seconds} s per phase (recorder path: ${JSON.stringify(recorder?.currentPlan)})`);
    console.log('| path | measure | median ms | p95 ms | samples |');
    console.log('|---|---|---:|---:|---:|');
    console.log(`| WebRTC (connection point) | glass to glass | ${w.median} | ${w.p95} | ${w.n} |`);
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
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
