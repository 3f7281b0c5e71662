/**
 * Join latency in Chromium: how long a connection point waits, from the click
 * on "join" to the first program video frame on its screen, and where that
 * time goes.
 *
 * A server on loopback, a studio page that joins and goes live, then
 * `--joins` (default 12) point pages one after the other, each a fresh browser
 * context on its own invitation, closed once measured. When the bare
 * mediasoup receiver (bench/bare/BareSfu.ts) is there, the same joins are
 * measured against it in the same run, with the same browser, and the ratio
 * Diemcau / bare is printed.
 *
 * Every timestamp is taken inside the page (performance.now()), relative to
 * the click on `[data-testid="join"]`. The page marks its own join path with
 * performance.mark (ConferenceClient does; the bare receiver page does the same):
 *   join:signaling-open            the signaling WebSocket is open (may be before the click: then ≤ 0)
 *   join:device-loaded             mediasoup-client's Device knows the router's capabilities
 *   join:recv-transport-created    the receiving transport exists in the page
 *   join:recv-transport-connected  ICE and DTLS are up on it
 *   join:program-consumer-created  the program video consumer exists in the page
 * and the bench adds:
 *   first RTP      receiveStats().packetsReceived > 0 (video; polled every 20 ms in the page)
 *   decoded        receiveStats().framesDecoded > 0 (same poll)
 *   presented      first requestVideoFrameCallback on [data-testid="program-video"]:
 *                  the frame was handed to the compositor (metadata.presentationTime). The headline figure.
 *   live           Diemcau only: the client says 'live' (joined, camera and mic sent)
 *   page ready     from the navigation's start to the join button visible (before the click, apart)
 *
 *   node --import tsx bench/joinLatency.ts [--joins 12] [--timeout 30] [--settle 5] [--only diemcau|bare]
 * (--settle: seconds between going live and the first join)
 * The web app must be built (npm run build:web; npm run bench does it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The performance marks a measured page sets along its join path, in order. */
export const joinMarks = [
  'join:signaling-open',
  'join:device-loaded',
  'join:recv-transport-created',
  'join:recv-transport-connected',
  'join:program-consumer-created',
] as const;

/** One join's timeline, in ms from the click (pageReady: from the navigation's start). */
export interface JoinSample {
  index: number;
  pageReady: number | null;
  signalingOpen: number | null;
  deviceLoaded: number | null;
  recvTransportCreated: number | null;
  recvTransportConnected: number | null;
  programConsumerCreated: number | null;
  firstRtp: number | null;
  decoded: number | null;
  presented: number | null;
  live: number | null;
  /** What the page's owner adds (e.g. the media worker a point was placed on). */
  note?: string;
  error?: string;
}

const markKeys: Record<(typeof joinMarks)[number], keyof JoinSample> = {
  'join:signaling-open': 'signalingOpen',
  'join:device-loaded': 'deviceLoaded',
  'join:recv-transport-created': 'recvTransportCreated',
  'join:recv-transport-connected': 'recvTransportConnected',
  'join:program-consumer-created': 'programConsumerCreated',
};

interface PageTimes {
  ready: number | null;
  click: number | null;
  firstRtp: number | null;
  decoded: number | null;
  presented: number | null;
  live: number | null;
  rvfc: boolean;
  marks: Record<string, number>;
}

/**
 * Runs in every measured page before its own scripts (an init script):
 * records when the join button shows, the click on it, and the milestones
 * after it. Stats come from `window.bare.receiveStats()` or
 * `window.diemcau.receiveStats()`, whichever the page has. Plain JavaScript
 * in a string: tsx would wrap a function's inner names in helpers the page
 * does not have.
 */
export const joinInstrument = String.raw`(() => {
  const t = { ready: null, click: null, firstRtp: null, decoded: null, presented: null, live: null, rvfc: false, marks: {} };
  window.__bench = t;
  const stats = () => (window.bare && window.bare.receiveStats ? window.bare.receiveStats() : window.diemcau ? window.diemcau.receiveStats() : null);
  const readyPoll = setInterval(() => {
    const button = document.querySelector('[data-testid="join"]');
    if (button && button.getClientRects().length > 0) {
      t.ready = performance.now();
      clearInterval(readyPoll);
    } else if (performance.now() > 60000) clearInterval(readyPoll);
  }, 5);
  const watch = () => {
    let watched = null;
    const fast = setInterval(() => {
      const now = performance.now();
      for (const mark of performance.getEntriesByType('mark')) {
        if (mark.name.startsWith('join:') && !(mark.name in t.marks)) t.marks[mark.name] = mark.startTime;
      }
      const c = window.diemcau;
      if (c && t.live === null && c.state.connection === 'live') t.live = now;
      const video = document.querySelector('video[data-testid="program-video"]');
      if (video && video !== watched && 'requestVideoFrameCallback' in video) {
        watched = video;
        t.rvfc = true;
        video.requestVideoFrameCallback((callbackNow, meta) => {
          if (t.presented === null) t.presented = Math.min(meta.presentationTime ?? callbackNow, callbackNow);
        });
      }
      if (t.presented !== null && t.decoded !== null && (t.live !== null || !c)) clearInterval(fast);
      if (now - t.click > 60000) clearInterval(fast);
    }, 5);
    let busy = false;
    const slow = setInterval(() => {
      if (busy) return;
      if (t.decoded !== null || performance.now() - t.click > 60000) return clearInterval(slow);
      let pending;
      try { pending = stats(); } catch { pending = null; }
      if (!pending) return;
      busy = true;
      const asked = performance.now();
      Promise.resolve(pending)
        .then((s) => {
          if (t.firstRtp === null && (s.packetsReceived > 0 || s.framesDecoded > 0)) t.firstRtp = asked;
          if (t.decoded === null && s.framesDecoded > 0) t.decoded = asked;
        })
        .catch(() => {})
        .finally(() => { busy = false; });
    }, 20);
  };
  document.addEventListener('click', (event) => {
    if (t.click !== null) return;
    if (event.target instanceof Element && event.target.closest('[data-testid="join"]')) {
      t.click = performance.now();
      watch();
    }
  }, true);
})();`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function quantile(values: number[], q: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  // Nearest rank: with 12 samples the p95 is the largest.
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const ms = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${Math.round(x)}`);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

// ---- The machine ------------------------------------------------------------------------

/** Busy CPU seconds of the whole machine (all cores) so far. */
function busySeconds(): number {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal, in clock ticks (100 per second on Linux)
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / 100;
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

/** Measures how busy the machine is over a stretch of time, in % of all its cores. */
export class MachineMeter {
  readonly cores = os.cpus().length;
  #busy = busySeconds();
  #at = performance.now();

  /** Busy % since the meter started (or was last read), and the load average now. */
  read(): { busyPercent: number; loadavg: string } {
    const busy = busySeconds();
    const at = performance.now();
    const seconds = (at - this.#at) / 1000;
    const busyPercent = seconds > 0 ? ((busy - this.#busy) / seconds / this.cores) * 100 : NaN;
    this.#busy = busy;
    this.#at = at;
    return { busyPercent, loadavg: loadavg() };
  }
}

// ---- Measuring ----------------------------------------------------------------------------

export interface MeasureOptions {
  /** Seconds to wait for a join's first presented frame. */
  timeoutSeconds: number;
  /** Something to say about join i once measured (e.g. its media worker). */
  describe?: (index: number) => string | undefined;
  /** Printed before each join's line. */
  label?: string;
}

/**
 * Measures `joins` joins, one after the other, on any page that has the join
 * button, the program video and the join marks: `openPage(i)` opens join i's
 * page (a fresh browser context) with `joinInstrument` installed as an init
 * script before navigating, and returns once it is loaded; the bench clicks
 * "join", reads the timeline and closes the page's context.
 */
export async function measureJoins(
  browser: Browser,
  openPage: (index: number) => Promise<Page>,
  joins: number,
  options: MeasureOptions,
): Promise<JoinSample[]> {
  void browser; // the pages come from openPage; kept in the signature so openers can share the browser
  const samples: JoinSample[] = [];
  for (let i = 0; i < joins; i++) {
    const sample: JoinSample = {
      index: i + 1,
      pageReady: null,
      signalingOpen: null,
      deviceLoaded: null,
      recvTransportCreated: null,
      recvTransportConnected: null,
      programConsumerCreated: null,
      firstRtp: null,
      decoded: null,
      presented: null,
      live: null,
    };
    let page: Page | undefined;
    try {
      page = await openPage(i);
      const times = async () => await page!.evaluate<PageTimes | undefined>('window.__bench');
      if (!(await times())) throw new Error('the page has no joinInstrument (add it as an init script before navigating)');
      await page.getByTestId('join').waitFor({ timeout: 20_000 });
      await page.getByTestId('join').click();
      const deadline = Date.now() + options.timeoutSeconds * 1000;
      let t = (await times())!;
      while (Date.now() < deadline && (t.presented === null || t.decoded === null)) {
        // Without requestVideoFrameCallback, the decoded time is all there is.
        if (t.decoded !== null && !t.rvfc && Date.now() > deadline - options.timeoutSeconds * 500) break;
        await sleep(100);
        t = (await times())!;
      }
      // 'live' (camera and mic sent) may come after the first frame: a little longer for it.
      const liveDeadline = Date.now() + 5000;
      while (t.live === null && Date.now() < liveDeadline && (await page.evaluate('!!window.diemcau'))) {
        await sleep(50);
        t = (await times())!;
      }
      const rel = (x: number | null | undefined) => (x === null || x === undefined || t.click === null ? null : x - t.click);
      sample.pageReady = t.ready;
      for (const mark of joinMarks) (sample[markKeys[mark]] as number | null) = rel(t.marks[mark]);
      Object.assign(sample, { firstRtp: rel(t.firstRtp), decoded: rel(t.decoded), presented: rel(t.presented), live: rel(t.live) });
      sample.note = options.describe?.(i);
      if (t.presented === null && t.decoded === null) sample.error = `no program frame within ${options.timeoutSeconds} s`;
    } catch (error) {
      sample.error = (error as Error).message.split('\n')[0];
    } finally {
      await page
        ?.context()
        .close()
        .catch(() => {});
    }
    samples.push(sample);
    console.log(
      `  ${options.label ?? ''}join ${sample.index}${sample.note ? ` (${sample.note})` : ''}: ready ${ms(sample.pageReady)}, ` +
        `ws ${ms(sample.signalingOpen)}, device ${ms(sample.deviceLoaded)}, recv ${ms(sample.recvTransportCreated)}, ` +
        `consumer ${ms(sample.programConsumerCreated)}, connected ${ms(sample.recvTransportConnected)}, rtp ${ms(sample.firstRtp)}, ` +
        `decoded ${ms(sample.decoded)}, presented ${ms(sample.presented)}, live ${ms(sample.live)} ms` +
        `${sample.error ? ` — ${sample.error}` : ''}`,
    );
    // Let the server drop the page's peer before the next one.
    await sleep(300);
  }
  return samples;
}

// ---- Diemcau and the bare baseline --------------------------------------------------------

interface BareSfu {
  publisherUrl: string;
  receiverUrl(index: number): string;
  close(): Promise<void> | void;
}

/** Opens a page for a measured join: fake camera and microphone allowed, the instrument installed. */
async function instrumentedPage(browser: Browser, url: string): Promise<Page> {
  const { newPage } = await import('../tests/helpers/browser.js');
  const page = await newPage(browser, new URL(url).origin);
  await page.context().addInitScript({ content: joinInstrument });
  await page.goto(url);
  return page;
}

async function measureDiemcau(browser: Browser, options: { joins: number; timeoutSeconds: number; settleSeconds: number }) {
  const { startServer } = await import('../tests/helpers/server.js');
  const sid = 'joinbench';
  const server = await startServer({ workers: 2 });
  try {
    await server.sessions.create({ id: sid, title: 'Join latency bench' });
    const open = async (role: 'studio' | 'point', sub: string, name: string) =>
      await instrumentedPage(browser, await server.invitation({ sid, sub, role, name }));
    // The studio joins and goes on air.
    const studio = await open('studio', 'studio', 'Hội trường tỉnh');
    await studio.getByTestId('join').click();
    const state = (p: Page) => p.getByTestId('connection-state').getAttribute('data-state', { timeout: 1000 });
    await waitUntil('studio connected', async () => (await state(studio)) === 'live', 30_000);
    await studio.getByTestId('go-live').click();
    const room = await server.sessions.room(sid);
    await waitUntil(
      'session on air with the studio camera',
      () => room.status === 'live' && !!room.peer('studio')?.producerOf('video'),
      20_000,
    );
    // Points join a session already on air: let the studio's simulcast layers ramp up first.
    await sleep(options.settleSeconds * 1000);
    console.log(`Diemcau: server ${server.url}, 2 media workers, ${options.joins} sequential point joins`);
    const samples = await measureJoins(browser, async (i) => await open('point', `p${i + 1}`, `Xã ${i + 1}`), options.joins, {
      timeoutSeconds: options.timeoutSeconds,
      describe: (i) => `worker ${room.peer(`p${i + 1}`)?.slotIndex ?? '?'}`,
    });
    await studio
      .context()
      .close()
      .catch(() => {});
    return samples;
  } finally {
    await server.stop().catch(() => {});
  }
}

/**
 * The bare mediasoup baseline, if bench/bare/BareSfu.ts is there: a minimal
 * server and receiver page with the same button, video and marks. Undefined
 * when it is not.
 */
async function measureBare(
  browser: Browser,
  options: { joins: number; timeoutSeconds: number; settleSeconds: number },
): Promise<JoinSample[] | undefined> {
  const file = path.join(root, 'bench', 'bare', 'BareSfu.ts');
  if (!fs.existsSync(file)) {
    console.log('(no bare mediasoup baseline: bench/bare/BareSfu.ts is not there)');
    return undefined;
  }
  const bareModule = (await import(pathToFileURL(file).href)) as { startBareSfu: () => Promise<BareSfu> };
  const bare = await bareModule.startBareSfu();
  try {
    const publisher = await instrumentedPage(browser, bare.publisherUrl);
    // A publisher page that waits for a click to send is given one.
    const join = publisher.getByTestId('join');
    if (await join.isVisible().catch(() => false)) await join.click();
    await sleep(options.settleSeconds * 1000);
    console.log(`Bare mediasoup: ${bare.publisherUrl}, ${options.joins} sequential receiver joins`);
    const samples = await measureJoins(browser, async (i) => await instrumentedPage(browser, bare.receiverUrl(i)), options.joins, {
      timeoutSeconds: options.timeoutSeconds,
      label: 'bare ',
    });
    await publisher
      .context()
      .close()
      .catch(() => {});
    return samples;
  } finally {
    await Promise.resolve(bare.close()).catch(() => {});
  }
}

export async function runJoinLatency(options: {
  joins: number;
  timeoutSeconds: number;
  settleSeconds: number;
  only?: 'diemcau' | 'bare';
}): Promise<JoinSample[]> {
  const dist = path.join(root, 'web', 'dist', 'index.html');
  if (!fs.existsSync(dist) || !fs.readdirSync(path.join(root, 'web', 'dist', 'assets')).length) {
    throw new Error('the web app is not built: run `npm run build:web` first');
  }
  const { waitQuiet } = await import('./fanout.js');
  const meter = new MachineMeter();
  const quietBusy = await waitQuiet(60_000, 20);
  const before = meter.read();
  if (quietBusy >= 20) console.log(`(the machine is ${Math.round(quietBusy)} % busy with other programs: latencies are disturbed)`);
  const { launchBrowser } = await import('../tests/helpers/browser.js');
  const browser = await launchBrowser();
  let diemcau: JoinSample[] = [];
  let bare: JoinSample[] | undefined;
  let during: { busyPercent: number; loadavg: string };
  try {
    if (options.only !== 'bare') diemcau = await measureDiemcau(browser, options);
    if (options.only !== 'diemcau') bare = await measureBare(browser, options);
  } finally {
    during = meter.read();
    await browser.close().catch(() => {});
  }
  console.log(
    `\nMachine: ${meter.cores} cores; before: load ${before.loadavg}, ${ms(before.busyPercent)} % busy (1 s); ` +
      `during the run: ${ms(during.busyPercent)} % busy, load ${during.loadavg} at the end`,
  );
  if (diemcau.length) printJoin(diemcau, 'Diemcau point');
  if (bare) printJoin(bare, 'bare mediasoup receiver');
  if (diemcau.length && bare?.length) {
    const d = median(diemcau.map((s) => s.presented ?? NaN));
    const b = median(bare.map((s) => s.presented ?? NaN));
    console.log(`\nFirst frame presented, median: Diemcau ${ms(d)} ms / bare ${ms(b)} ms = ${(d / b).toFixed(2)}×`);
  }
  return diemcau;
}

export function printJoin(samples: JoinSample[], title = 'join'): void {
  const cols: [string, keyof JoinSample][] = [
    ['signaling open (join:signaling-open)', 'signalingOpen'],
    ['device loaded (join:device-loaded)', 'deviceLoaded'],
    ['recv transport created', 'recvTransportCreated'],
    ['program video consumer created', 'programConsumerCreated'],
    ['recv transport connected (ICE+DTLS)', 'recvTransportConnected'],
    ['first RTP (stats, 20 ms poll)', 'firstRtp'],
    ['first frame decoded (stats, 20 ms poll)', 'decoded'],
    ['**first frame presented (rVFC)**', 'presented'],
    ['live (joined, camera/mic sent)', 'live'],
  ];
  const rows = [['from the click on "join" (ms)', 'median', 'p95', 'min', 'max', 'n']];
  const row = (label: string, values: number[]) =>
    rows.push([
      label,
      ms(median(values)),
      ms(quantile(values, 0.95)),
      ms(Math.min(...values)),
      ms(Math.max(...values)),
      String(values.length),
    ]);
  for (const [label, key] of cols) {
    row(
      label,
      samples.map((s) => s[key] as number | null).filter((v): v is number => v !== null),
    );
  }
  row(
    'page ready (navigation → button; before the click)',
    samples.map((s) => s.pageReady).filter((v): v is number => v !== null),
  );
  console.log(`\n${title}: click on "join" → first program video frame, nearest-rank p95 (≤ 0: done before the click)`);
  console.log(table(rows));
  console.log(`  presented, each join: ${samples.map((s) => ms(s.presented)).join(', ')}`);
  const failed = samples.filter((s) => s.error);
  if (failed.length) console.log(`  ${failed.length} join(s) failed: ${failed.map((s) => `#${s.index} ${s.error}`).join('; ')}`);
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      joins: { type: 'string', default: '12' },
      timeout: { type: 'string', default: '30' },
      settle: { type: 'string', default: '5' },
      only: { type: 'string' },
    },
    strict: false,
  });
  const only = values.only === 'diemcau' || values.only === 'bare' ? values.only : undefined;
  runJoinLatency({
    joins: Math.max(1, Number(values.joins) || 12),
    timeoutSeconds: Number(values.timeout) || 30,
    settleSeconds: Number(values.settle ?? 5),
    only,
  })
    .then(() => process.exit(0))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
