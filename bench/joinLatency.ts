/**
 * Join latency in Chromium: how long a connection point waits, from the click
 * on "join" to the first program video frame on its screen.
 *
 * A server on loopback, a studio page that joins and goes live, then
 * `--joins` (default 12) point pages one after the other, each a fresh browser
 * context on its own invitation, closed once measured. Every timestamp is
 * taken inside the page (performance.now()), relative to the click:
 *   ws open        the signaling WebSocket is open
 *   live           the client says 'live' (recv transport made, camera and mic sent)
 *   program track  the program video track reached the page (consumer made)
 *   decoded        receiveStats().framesDecoded > 0 (polled every 20 ms in the page)
 *   presented      first requestVideoFrameCallback on [data-testid="program-video"]:
 *                  the frame was handed to the compositor (metadata.presentationTime)
 *
 *   node --import tsx bench/joinLatency.ts [--joins 12] [--timeout 30] [--settle 5]
 * (--settle: seconds between going live and the first join)
 * The web app must be built (npx vite build; npm run bench does it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface JoinSample {
  index: number;
  wsOpen: number | null;
  live: number | null;
  programTrack: number | null;
  decoded: number | null;
  presented: number | null;
  /** Media worker the point was placed on (the studio is on worker 0; others get the program piped). */
  worker?: number;
  error?: string;
}

interface PageTimes {
  click: number | null;
  wsOpen: number | null;
  live: number | null;
  programTrack: number | null;
  decoded: number | null;
  presented: number | null;
  rvfc: boolean;
}

/**
 * Runs in every page before its own scripts: records the milestones after the
 * click on "join". Plain JavaScript in a string: tsx would wrap a function's
 * inner names in helpers the page does not have.
 */
const instrument = String.raw`(() => {
  const t = { click: null, wsOpen: null, live: null, programTrack: null, decoded: null, presented: null, rvfc: false };
  window.__bench = t;
  const client = () => window.diemcau;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('open', () => {
        if (t.click !== null && t.wsOpen === null) t.wsOpen = performance.now();
      });
    }
  };
  const watch = () => {
    let watched = null;
    const fast = setInterval(() => {
      const now = performance.now();
      const c = client();
      if (c && t.live === null && c.state.connection === 'live') t.live = now;
      if (c && t.programTrack === null && c.programStream.getVideoTracks().length > 0) t.programTrack = now;
      const video = document.querySelector('video[data-testid="program-video"]');
      if (video && video !== watched && 'requestVideoFrameCallback' in video) {
        watched = video;
        t.rvfc = true;
        video.requestVideoFrameCallback((callbackNow, meta) => {
          if (t.presented === null) t.presented = Math.min(meta.presentationTime ?? callbackNow, callbackNow);
        });
      }
      if ((t.presented !== null && t.decoded !== null && t.live !== null) || now - t.click > 60000) clearInterval(fast);
    }, 5);
    let busy = false;
    const slow = setInterval(() => {
      const c = client();
      if (!c || busy || t.programTrack === null) return;
      if (t.decoded !== null) return clearInterval(slow);
      busy = true;
      const asked = performance.now();
      c.receiveStats()
        .then((s) => { if (s.framesDecoded > 0 && t.decoded === null) t.decoded = asked; })
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

export async function runJoinLatency(options: { joins: number; timeoutSeconds: number; settleSeconds: number }): Promise<JoinSample[]> {
  const dist = path.join(root, 'web', 'dist', 'index.html');
  if (!fs.existsSync(dist) || !fs.readdirSync(path.join(root, 'web', 'dist', 'assets')).length) {
    throw new Error('the web app is not built: run `npx vite build` first');
  }
  const { waitQuiet } = await import('./fanout.js');
  const busy = await waitQuiet(60_000, 20);
  if (busy >= 20) console.log(`(the machine is ${Math.round(busy)} % busy with other programs: latencies are disturbed)`);
  const { launchBrowser, newPage } = await import('../tests/helpers/browser.js');
  const { startServer } = await import('../tests/helpers/server.js');
  const sid = 'joinbench';
  const server = await startServer({ workers: 2 });
  let browser: Browser | undefined;
  const samples: JoinSample[] = [];
  try {
    await server.sessions.create({ id: sid, title: 'Join latency bench' });
    browser = await launchBrowser();
    const open = async (role: 'studio' | 'point', sub: string, name: string): Promise<Page> => {
      const page = await newPage(browser!, server.url);
      await page.context().addInitScript({ content: instrument });
      await page.goto(await server.invitation({ sid, sub, role, name }));
      await page.getByTestId('join').waitFor({ timeout: 20_000 });
      return page;
    };

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
    console.log(
      `Join latency bench: server ${server.url}, 2 media workers, Chromium headless (fake camera/mic), ${options.joins} sequential point joins`,
    );

    for (let i = 0; i < options.joins; i++) {
      const sample: JoinSample = { index: i + 1, wsOpen: null, live: null, programTrack: null, decoded: null, presented: null };
      let page: Page | undefined;
      try {
        page = await open('point', `p${i + 1}`, `Xã ${i + 1}`);
        await page.getByTestId('join').click();
        const times = async () => await page!.evaluate<PageTimes>('window.__bench');
        const deadline = Date.now() + options.timeoutSeconds * 1000;
        let t = await times();
        while (Date.now() < deadline && (t.presented === null || t.decoded === null || t.live === null)) {
          // Without requestVideoFrameCallback, the decoded time is all there is.
          if (t.decoded !== null && !t.rvfc && Date.now() > deadline - options.timeoutSeconds * 500) break;
          await sleep(100);
          t = await times();
        }
        const rel = (x: number | null) => (x === null || t.click === null ? null : x - t.click);
        Object.assign(sample, {
          wsOpen: rel(t.wsOpen),
          live: rel(t.live),
          programTrack: rel(t.programTrack),
          decoded: rel(t.decoded),
          presented: rel(t.presented),
        });
        sample.worker = room.peer(`p${i + 1}`)?.slotIndex;
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
        `  join ${sample.index} (worker ${sample.worker ?? '?'}): ws ${ms(sample.wsOpen)} ms, track ${ms(sample.programTrack)} ms, live ${ms(sample.live)} ms, ` +
          `decoded ${ms(sample.decoded)} ms, presented ${ms(sample.presented)} ms${sample.error ? ` — ${sample.error}` : ''}`,
      );
      // Let the server drop the point before the next one.
      await sleep(300);
    }
    await studio
      .context()
      .close()
      .catch(() => {});
  } finally {
    await browser?.close().catch(() => {});
    await server.stop().catch(() => {});
  }
  printJoin(samples);
  return samples;
}

export function printJoin(samples: JoinSample[]): void {
  const cols: [string, keyof JoinSample][] = [
    ['ws open', 'wsOpen'],
    ['program track', 'programTrack'],
    ['live (joined, camera/mic sent)', 'live'],
    ['first frame decoded (stats, 20 ms poll)', 'decoded'],
    ['first frame presented (rVFC)', 'presented'],
  ];
  const rows = [['from click on "join" (ms)', 'median', 'p95', 'min', 'max', 'n']];
  for (const [label, key] of cols) {
    const values = samples.map((s) => s[key] as number | null).filter((v): v is number => v !== null);
    rows.push([
      label,
      ms(median(values)),
      ms(quantile(values, 0.95)),
      ms(Math.min(...values)),
      ms(Math.max(...values)),
      String(values.length),
    ]);
  }
  console.log('\nJoin latency (click on "join" → first program video frame), nearest-rank p95');
  console.log(table(rows));
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
    },
    strict: false,
  });
  runJoinLatency({
    joins: Math.max(1, Number(values.joins) || 12),
    timeoutSeconds: Number(values.timeout) || 30,
    settleSeconds: Number(values.settle ?? 5),
  })
    .then(() => process.exit(0))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
