/**
 * A point's page connects before the click on "Tham gia" (so the join itself
 * is quick), in real Chromium: opening the page does not make the point
 * present, the click joins on the connection already open, the button says
 * it is joining, and the program comes on screen before the camera is opened.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDecoding, launchBrowser, newPage } from '../helpers/browser.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
const sid = 'prepared';

/** Counts the signaling sockets the page opens and how many are open now (an init script, before the app runs). */
const countSockets = String.raw`(() => {
  const counts = { created: 0, open: 0 };
  window.__sockets = counts;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      counts.created++;
      this.addEventListener('open', () => counts.open++);
      this.addEventListener('close', () => counts.open--);
    }
  };
})();`;

/**
 * Records what the clerk sees during the join (an init script): the join button saying it is
 * joining, when the program's first frame is on screen, and when the camera is asked for.
 */
const watchJoin = String.raw`(() => {
  const seen = { clickAt: null, joiningLabel: null, presentedAt: null, cameraAskedAt: null, connectingShown: false, connectingGoneAt: null, liveAt: null };
  window.__join = seen;
  document.addEventListener('click', (event) => {
    if (seen.clickAt === null && event.target instanceof Element && event.target.closest('[data-testid="join"]')) seen.clickAt = performance.now();
  }, true);
  const devices = navigator.mediaDevices;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    if (seen.cameraAskedAt === null && constraints && constraints.video) seen.cameraAskedAt = performance.now();
    return getUserMedia(constraints);
  };
  const watched = new WeakSet();
  new MutationObserver(() => {
    const button = document.querySelector('[data-testid="join"]');
    if (button && button.disabled && seen.joiningLabel === null) seen.joiningLabel = button.textContent.trim();
    // The picture's "connecting" veil, and when it goes; the page's own state going live.
    const frame = document.querySelector('.video-frame');
    const connecting = !!frame && [...frame.children].some((el) => el.textContent.trim() === 'Đang kết nối…');
    if (connecting) seen.connectingShown = true;
    else if (seen.connectingShown && seen.connectingGoneAt === null) seen.connectingGoneAt = performance.now();
    const state = document.querySelector('[data-testid="connection-state"]');
    if (state && state.getAttribute('data-state') === 'live' && seen.liveAt === null) seen.liveAt = performance.now();
    const video = document.querySelector('video[data-testid="program-video"]');
    if (video && !watched.has(video)) {
      watched.add(video);
      // The frame's own time: the page's handlers for that frame run before this one.
      video.requestVideoFrameCallback((now, frame) => (seen.presentedAt ??= Math.min(now, frame.presentationTime)));
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})();`;

async function open(sub: string, role: 'studio' | 'point'): Promise<Page> {
  const page = await newPage(browser, server.url);
  await page.context().addInitScript({ content: countSockets });
  await page.context().addInitScript({ content: watchJoin });
  await page.goto(await server.invitation({ sid, sub, role, name: sub }));
  await page.getByTestId('join').waitFor();
  return page;
}

const sockets = (page: Page) => page.evaluate<{ created: number; open: number }>('window.__sockets');
const connectionState = (page: Page) => page.getByTestId('connection-state').getAttribute('data-state');

beforeAll(async () => {
  server = await startServer({ workers: 2 });
  await server.sessions.create({ id: sid, title: 'Phiên họp thử nghiệm' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('joining on a connection opened with the page', () => {
  it('the studio goes on air', async () => {
    const studio = await open('studio', 'studio');
    await studio.getByTestId('join').click();
    await waitFor('studio live', async () => (await connectionState(studio)) === 'live', 20_000);
    await studio.getByTestId('go-live').click();
    const room = await server.sessions.room(sid);
    await waitFor('on air', () => room.status === 'live' && !!room.peer('studio')?.producerOf('video'), 20_000);
  });

  it('an opened point page is connected but not present; its click joins on that connection and shows the program', async () => {
    const room = await server.sessions.room(sid);
    const point = await open('xa-1', 'point');
    // Two sockets: the readiness check's and the one prepared for the join.
    await waitFor('the page connected', async () => (await sockets(point)).open === 2, 10_000);
    expect(room.peer('xa-1')).toBeUndefined();
    expect(room.snapshot().peers.map((p) => p.identity)).not.toContain('xa-1');

    await point.getByTestId('join').click();
    await waitFor('point live', async () => (await connectionState(point)) === 'live', 20_000);
    expect(room.peer('xa-1')).toBeDefined();
    // The join used the prepared socket: no third one.
    expect(await sockets(point)).toEqual({ created: 2, open: 2 });
    await expectDecoding(point, 'studio');
    // Its camera and microphone are sent, as before.
    await waitFor('point sends camera and mic', () => !!room.peer('xa-1')?.producerOf('video') && !!room.peer('xa-1')?.producerOf('audio'));
    // The click showed at once on the button; the camera was opened after the picture was on screen
    // (or, on a machine too busy to show it, when the client stops waiting for it: 2 s after the click).
    const seen = await point.evaluate<{
      clickAt: number;
      joiningLabel: string | null;
      presentedAt: number;
      cameraAskedAt: number;
      connectingGoneAt: number | null;
      liveAt: number;
    }>('window.__join');
    expect(seen.joiningLabel).toBe('Đang vào phiên…');
    expect(seen.presentedAt).toBeGreaterThan(seen.clickAt);
    expect(seen.cameraAskedAt > seen.presentedAt || seen.cameraAskedAt - seen.clickAt >= 1900).toBe(true);
    // The picture is not veiled as 'connecting' while the camera is still being sent: the veil goes with the first frame.
    expect(seen.connectingGoneAt).not.toBeNull();
    expect(seen.connectingGoneAt! < seen.liveAt || seen.presentedAt - seen.clickAt >= 1900).toBe(true);
    await point.context().close();
    await waitFor('point left', () => !room.peer('xa-1'));
  });

  it('a page closed without joining never made its point present', async () => {
    const room = await server.sessions.room(sid);
    const seen: string[] = [];
    const onPresence = (identity: string, present: boolean) => present && seen.push(identity);
    room.on('presence', onPresence);
    try {
      const point = await open('xa-2', 'point');
      await waitFor('the page connected', async () => (await sockets(point)).open === 2, 10_000);
      await point.context().close();
      expect(seen).not.toContain('xa-2');
      expect(room.peer('xa-2')).toBeUndefined();
    } finally {
      room.off('presence', onPresence);
    }
  });
});
