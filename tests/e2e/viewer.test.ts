/**
 * A member watches in real Chromium with hls.js: finds the session on the
 * watch page while it is on air, plays it near the live edge, and once the
 * session has ended jumps to a commune's intervention in the archive and
 * downloads the MP4. Restricted sessions need a token, and the HLS route
 * serves nothing but a recording's own files.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Room } from '../../sfu/room/Room.js';
import { launchBrowser, newPage } from '../helpers/browser.js';
import { readPlaylist } from '../helpers/hls.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

declare global {
  interface Window {
    /** Set by web/src/player/engine.ts. */
    diemcauPlayer?: {
      hls: { config: Record<string, unknown> } | null;
      video: HTMLVideoElement;
      fatalErrors: string[];
      errors: string[];
    };
  }
}

interface PlayerProbe {
  hls: boolean;
  currentTime: number;
  paused: boolean;
  fatalErrors: string[];
  errors: string[];
  config?: Record<string, unknown>;
}

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
const feeds: PlainParticipant[] = [];

beforeAll(async () => {
  server = await startServer({ workers: 2, autoRecord: true });
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const feed of feeds) await feed.stop();
  await browser?.close();
  await server?.stop();
});

/** What the watch page's player is doing. */
function probe(page: Page): Promise<PlayerProbe | null> {
  return page.evaluate(() => {
    const p = window.diemcauPlayer;
    if (!p) return null;
    const c = p.hls?.config;
    return {
      hls: !!p.hls,
      currentTime: p.video.currentTime,
      paused: p.video.paused,
      fatalErrors: [...p.fatalErrors],
      errors: [...p.errors],
      config: c && {
        lowLatencyMode: c.lowLatencyMode,
        liveSyncDurationCount: c.liveSyncDurationCount,
        liveMaxLatencyDurationCount: c.liveMaxLatencyDurationCount,
        backBufferLength: c.backBufferLength,
        maxLiveSyncPlaybackRate: c.maxLiveSyncPlaybackRate,
      },
    };
  });
}

/**
 * The player's position grows by more than `minGain` seconds: awaited, however
 * long a busy machine takes (the timeout only keeps a stalled player from
 * hanging the test), with no fatal error on the way.
 */
async function expectAdvancing(page: Page, minGain = 1): Promise<void> {
  let before: PlayerProbe | null = null;
  await waitFor(
    'the player to start',
    async () => {
      before = await probe(page);
      return !!before && before.currentTime > 0 && !before.paused;
    },
    20_000,
  );
  await page.waitForFunction((t) => window.diemcauPlayer!.video.currentTime > t, before!.currentTime + minGain, { timeout: 60_000 });
  expect((await probe(page))!.fatalErrors).toEqual([]);
}

/** Waits until the page has fetched the live (low-latency) playlist `count` more times (hls.js reloads it about every part). */
async function playlistReloads(page: Page, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await page.waitForResponse((res) => new URL(res.url()).pathname.endsWith('/ll.m3u8'), { timeout: 60_000 });
  }
}

/** A GET with the path exactly as written (no URL normalization). */
function rawGet(pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: pathname, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('watching a session live and later', () => {
  const sid = 'ky-hop-xem';
  const pointId = 'xa-tan-phu';
  let room: Room;
  let dir: string;
  let page: Page;

  it('the session on air is listed as live on the watch page', async () => {
    await server.sessions.create({ id: sid, title: 'Kỳ họp thứ 12 HĐND tỉnh' });
    room = await server.sessions.room(sid);
    feeds.push(await joinPlain(room, { identity: 'studio', role: 'studio', send: {} }));
    feeds.push(await joinPlain(room, { identity: pointId, role: 'point', send: { pattern: 'smptebars', frequency: 660 } }));
    room.goLive();
    dir = server.recordings.dirFor(sid);
    await waitFor('two live segments', () => readPlaylist(path.join(dir, 'live.m3u8')).entries.length >= 2, 30_000);

    // A public session scheduled for tomorrow, and a restricted one that members must not see listed.
    const tomorrow = Date.now() + 24 * 3600_000;
    await server.sessions.create({ id: 'ngay-mai', title: 'Giao ban ngày mai', startsAt: tomorrow, endsAt: tomorrow + 3600_000 });
    await server.sessions.create({ id: 'noi-bo', title: 'Nội bộ', startsAt: tomorrow, endsAt: tomorrow + 3600_000, public: false });
    // One whose start has come, opened by the scheduler in pre-show: nobody in the hall yet, so not live.
    await server.sessions.create({ id: 'sap-bat-dau', title: 'Hội nghị sắp bắt đầu', startsAt: Date.now() - 1000, endsAt: tomorrow });
    await expect.poll(() => server.sessions.get('sap-bat-dau').status, { timeout: 10_000 }).toBe('waiting');

    page = await newPage(browser, server.url);
    await page.goto(`${server.url}/watch`);
    const item = page.getByTestId('watch-live').getByTestId(`watch-item-${sid}`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.getAttribute('data-kind')).toBe('live');
    expect(await page.getByTestId('watch-archive').getByTestId(`watch-item-${sid}`).count()).toBe(0);
    await page.getByTestId('watch-upcoming-ngay-mai').waitFor();
    expect(await page.getByTestId('watch-upcoming').textContent()).toContain('Giao ban ngày mai');
    expect(await page.getByTestId('watch-upcoming-noi-bo').count()).toBe(0);
    await page.getByTestId('watch-pre-show-sap-bat-dau').waitFor();
    expect(await page.getByTestId('watch-pre-show-sap-bat-dau').textContent()).toBe('Sắp bắt đầu');
    expect(await page.getByTestId('watch-live').getByTestId('watch-item-sap-bat-dau').count()).toBe(0);
    expect(await page.getByTestId('watch-pre-show-ngay-mai').count()).toBe(0);

    // The search finds it by title without diacritics, and hides it for anything else.
    await page.getByTestId('watch-search').fill('ky hop hdnd');
    await item.waitFor();
    await page.getByTestId('watch-search').fill('không có phiên này');
    await page.getByTestId('watch-no-match').waitFor();
    await page.getByTestId('watch-search').fill('');
    await item.click();
    await page.waitForURL(`**/watch/${sid}`);
  });

  it('the live page plays the stream with hls.js, tuned for low delay', async () => {
    await page.waitForFunction(() => !!window.diemcauPlayer?.hls, null, { timeout: 10_000 });
    expect(await page.getByTestId('watch-mode').getAttribute('data-mode')).toBe('live');
    const first = (await probe(page))!;
    expect(first.hls).toBe(true);
    // hls.js's own catch-up is off: the page's (catchUp.ts) works with the short buffer of a 0.7 s target.
    expect(first.config).toMatchObject({ lowLatencyMode: true, backBufferLength: 600, maxLiveSyncPlaybackRate: 1 });
    // It plays the Low-Latency playlist: parts listed, reloads held by the server until the next part.
    await page.waitForFunction(
      () => {
        const hls = window.diemcauPlayer?.hls as unknown as {
          levels: { details?: { partList: unknown[] | null; canBlockReload: boolean } }[];
        };
        const details = hls?.levels[0]?.details;
        return !!details?.partList?.length && details.canBlockReload;
      },
      null,
      { timeout: 20_000 },
    );
    await expectAdvancing(page);
    await page.getByTestId('go-live').click();
    await page.getByTestId('back-30').waitFor();
  });

  it('keeps playing across a floor switch, which becomes a chapter', async () => {
    const recorder = server.recordings.recorder(sid)!;
    await room.giveFloor(pointId);
    await waitFor('a chapter for the point', () => recorder.journal.chapters.some((c) => c.identity === pointId), 20_000);
    const chapter = recorder.journal.chapters.find((c) => c.identity === pointId)!;
    // Enough of the point's intervention to play from its chapter later.
    await waitFor('six seconds of the point', () => recorder.journal.duration > chapter.start + 6, 20_000);
    await expectAdvancing(page);
    const state = (await probe(page))!;
    if (state.errors.length) console.info('[hls.js errors during live]', state.errors);
  });

  it('a live viewer rewinds within the DVR window and stays there until going live again', async () => {
    const recorder = server.recordings.recorder(sid)!;
    await waitFor('45 s on air', () => recorder.journal.duration > 45, 40_000);
    const latency = () => page.evaluate(() => (window.diemcauPlayer!.hls as unknown as { latency: number }).latency);
    const before = (await probe(page))!.currentTime;
    const atLive = () => page.getByTestId('go-live').getAttribute('data-at-live');
    // Playing at the live position, the button says so.
    await expect.poll(atLive, { timeout: 10_000 }).toBe('true');
    await page.getByTestId('back-30').click();
    await page.waitForFunction((t) => window.diemcauPlayer!.video.currentTime < t - 20, before, { timeout: 5000 });
    // Several playlist reloads later the viewer is still in the past, and playing.
    await playlistReloads(page, 2);
    expect(await latency()).toBeGreaterThan(25);
    await expectAdvancing(page);
    expect(await latency()).toBeGreaterThan(25);
    // A viewer in the past watches at normal speed: catching up is for the live position only.
    expect(await page.evaluate(() => window.diemcauPlayer!.video.playbackRate)).toBe(1);
    expect(await atLive()).toBe('false');
    await page.getByTestId('go-live').click();
    await waitFor('back at the live edge', async () => (await latency()) < 12, 10_000);
    await expectAdvancing(page);
    await expect.poll(atLive, { timeout: 10_000 }).toBe('true');
  });

  it('when the session ends the archive completes and the live page offers it', async () => {
    await room.end();
    await server.recordings.idle();
    const meta = server.recordings.meta(sid)!;
    expect(meta.status).toBe('complete');
    expect(meta.hasMp4).toBe(true);
    expect(readPlaylist(path.join(dir, 'live.m3u8')).ended).toBe(true);
    await page.getByTestId('live-ended').waitFor({ timeout: 20_000 });
    await page.getByTestId('watch-archive').click();
    await page.waitForFunction(() => (window.diemcauPlayer?.video.currentTime ?? 0) > 0.5, null, { timeout: 15_000 });
    expect(await page.getByTestId('watch-mode').getAttribute('data-mode')).toBe('archive');
  });

  it('the archive lists the chapters, plays from the second one and offers the MP4', async () => {
    const archive = await newPage(browser, server.url);
    await archive.goto(`${server.url}/watch`);
    await archive.getByTestId('watch-archive').getByTestId(`watch-item-${sid}`).waitFor({ timeout: 10_000 });
    // A commune's name finds the session it spoke in.
    await archive.getByTestId('watch-search').fill('tan phu');
    await archive.getByTestId(`watch-item-${sid}`).waitFor();
    await archive.getByTestId(`watch-item-${sid}`).click();
    await archive.waitForFunction(() => !!window.diemcauPlayer?.hls, null, { timeout: 10_000 });
    expect(await archive.getByTestId('watch-mode').getAttribute('data-mode')).toBe('archive');
    expect(await archive.getByTestId('player-video').getAttribute('poster')).toContain(`/hls/${sid}/poster.jpg`);

    const chapters = archive.locator('[data-testid^="chapter-"]');
    await chapters.nth(1).waitFor({ timeout: 10_000 });
    expect(await chapters.count()).toBeGreaterThanOrEqual(2);
    const second = archive.getByTestId('chapter-1');
    const start = Number(await second.getAttribute('data-start'));
    expect(start).toBeGreaterThan(0);

    await waitFor('the archive to start', async () => ((await probe(archive))?.currentTime ?? 0) > 0, 15_000);
    // Where the click sends the player: the position at each 'seeked' event, not after however long playing took.
    await archive.evaluate(() => {
      const seeks: number[] = [];
      const video = window.diemcauPlayer!.video;
      video.addEventListener('seeked', () => seeks.push(video.currentTime));
      Object.assign(window, { seeks });
    });
    await second.click();
    const seeks = () => archive.evaluate(() => (window as unknown as { seeks: number[] }).seeks);
    await waitFor('a seek to the chapter', async () => (await seeks()).some((t) => t >= start - 0.5), 10_000);
    const at = (await seeks()).find((t) => t >= start - 0.5)!;
    expect(at).toBeLessThan(start + 3);
    await archive.waitForFunction((t) => window.diemcauPlayer!.video.currentTime > t + 1, at, { timeout: 10_000 });
    expect(await second.getAttribute('aria-current')).toBe('true');
    const state = (await probe(archive))!;
    expect(state.fatalErrors).toEqual([]);
    if (state.errors.length) console.info('[hls.js errors in the archive]', state.errors);

    const href = await archive.getByTestId('download-mp4').getAttribute('href');
    expect(href).toContain(`/hls/${sid}/recording.mp4`);
    const res = await fetch(new URL(href!, server.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^video\/mp4/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment/);
    await res.body?.cancel();
    await archive.context().close();
    await page.context().close();
  });
});

describe('who may watch what', () => {
  const sid = 'hop-kin';

  it('a restricted session needs a viewer token, for the files and in the browser', async () => {
    await server.sessions.create({ id: sid, title: 'Họp nội bộ', public: false });
    const room = await server.sessions.room(sid);
    feeds.push(await joinPlain(room, { identity: 'studio', role: 'studio', send: {} }));
    room.goLive();
    const dir = server.recordings.dirFor(sid);
    await waitFor('two live segments', () => readPlaylist(path.join(dir, 'live.m3u8')).entries.length >= 2, 30_000);
    const token = await server.tokens.sign({ sid, sub: 'member', role: 'viewer', name: 'Member' });
    const other = await server.tokens.sign({ sid: 'ky-hop-xem', sub: 'member', role: 'viewer', name: 'Member' });
    const segment = readPlaylist(path.join(dir, 'live.m3u8')).entries[0].file;

    for (const file of ['live.m3u8', 'archive.m3u8', 'chapters.json', segment]) {
      expect((await fetch(`${server.url}/hls/${sid}/${file}`)).status, file).toBe(403);
      expect((await fetch(`${server.url}/hls/${sid}/${file}`, { headers: { Authorization: `Bearer ${other}` } })).status).toBe(403);
      expect((await fetch(`${server.url}/hls/${sid}/${file}`, { headers: { Authorization: `Bearer ${token}` } })).status, file).toBe(200);
    }
    expect((await fetch(`${server.url}/hls/${sid}/live.m3u8?token=${token}`)).status).toBe(200);

    const listed = async (t?: string) =>
      (
        (await (await fetch(`${server.url}/api/recordings`, { headers: t ? { Authorization: `Bearer ${t}` } : {} })).json()) as {
          recordings: { sessionId: string }[];
        }
      ).recordings.some((r) => r.sessionId === sid);
    expect(await listed()).toBe(false);
    expect(await listed(token)).toBe(true);

    // Without the token the page says why; with it hls.js sends it and plays.
    const page = await newPage(browser, server.url);
    await page.goto(`${server.url}/watch/${sid}?live=1`);
    await page.getByTestId('player-error').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('player-error').getAttribute('data-kind')).toBe('forbidden');
    expect((await probe(page))!.fatalErrors.length).toBeGreaterThan(0);
    await page.goto(`${server.url}/watch/${sid}?token=${token}`);
    await page.waitForFunction(() => !!window.diemcauPlayer?.hls, null, { timeout: 10_000 });
    expect(await page.getByTestId('watch-mode').getAttribute('data-mode')).toBe('live');
    await expectAdvancing(page);
    await page.context().close();
  });

  it('everyone in the session sees it is recorded; the operator stops and restarts the recording', async () => {
    const room = await server.sessions.room(sid);
    const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, server.url);
    const point = await newPage(browser, server.url);
    await point.goto(local(await server.invitation({ sid, sub: 'xa-b', role: 'point', name: 'Xã B' })));
    await point.getByTestId('join').click();
    await point.getByTestId('recording-indicator').waitFor({ timeout: 20_000 });

    const operator = await newPage(browser, server.url);
    const operatorUrl = local(await server.invitation({ sid, sub: 'op', role: 'operator', name: 'Điều hành' }));
    await operator.goto(operatorUrl);
    await operator.getByTestId('recording-indicator').waitFor({ timeout: 20_000 });
    // The watch link carries the operator's token: a restricted session opens.
    const watch = await operator.getByTestId('watch-link').getAttribute('href');
    expect(watch).toMatch(new RegExp(`^/watch/${sid}\\?token=`));

    await operator.getByTestId('recording-stop').click();
    await waitFor('recording stopped', () => !room.recording, 15_000);
    await operator.getByTestId('recording-indicator').waitFor({ state: 'detached', timeout: 10_000 });
    await point.getByTestId('recording-indicator').waitFor({ state: 'detached', timeout: 10_000 });
    expect(server.recordings.meta(sid)!.status).toBe('stopped');

    await operator.getByTestId('recording-start').click();
    await waitFor('recording again', () => room.recording, 15_000);
    await point.getByTestId('recording-indicator').waitFor({ timeout: 10_000 });
    await operator.getByTestId('recording-stop').waitFor();
    await point.context().close();
    await operator.context().close();
  });

  it('the HLS route serves nothing outside a recording, nor its private files', async () => {
    const tricks = [
      '/hls/..%2F..%2Fetc/passwd',
      '/hls/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd/x.json',
      '/hls/../sessions.json',
      '/hls/%2e%2e/sessions.json',
      '/hls/..%2Frecordings/token-secret',
      `/hls/ky-hop-xem/..%2Fsessions.json`,
      `/hls/ky-hop-xem/..%2F..%2Fsessions.json`,
      `/hls/ky-hop-xem/%2e%2e%2f%2e%2e%2fsessions.json`,
      `/hls/ky-hop-xem/..%5C..%5Csessions.json`,
      `/hls/ky-hop-xem/meta.json`,
      `/hls/ky-hop-xem/r0001.sdp`,
      `/hls/ky-hop-xem/segments.jsonl`,
      `/hls/ky-hop-xem/chapters.jsonl`,
      `/hls/ky-hop-xem/.meta.json`,
      `/hls/ky-hop-xem/poster.jpg.tmp`,
      `/hls/${sid}/meta.json?token=x`,
      `/hls/${sid}/r0001.sdp`,
    ];
    const secret = fs.readFileSync(path.join(server.config.dataDir, 'token-secret'), 'utf8').trim();
    for (const trick of tricks) {
      const res = await rawGet(trick);
      expect([403, 404], trick).toContain(res.status);
      expect(res.body, trick).not.toMatch(/root:|"createdAt"|"startedAt"|m=video|RTP\/AVP/);
      expect(res.body, trick).not.toContain(secret);
    }
  });
});
