/**
 * The whole flow in real Chromium tabs: the studio goes on air, two commune
 * points watch and hear it, the operator gives the floor to one point and
 * takes it back, and a point whose connection dies comes back on its own.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDecoding, launchBrowser, newPage, receiveStats } from '../helpers/browser.js';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { probeSegment, readPlaylist } from '../helpers/hls.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let studio: Page;
let operator: Page;
let pointA: Page;
let pointB: Page;
const sid = 'e2e';

async function open(path: string, sub: string, role: 'studio' | 'point' | 'operator', name: string): Promise<Page> {
  const page = await newPage(browser, server.url);
  const url = await server.invitation({ sid, sub, role, name });
  await page.goto(url.replace(/^https?:\/\/[^/]+/, server.url).replace(/\/(studio|point|console\/sessions\/[^/?]+\/live)\?/, `${path}?`));
  return page;
}

const connectionState = (page: Page) => page.getByTestId('connection-state').getAttribute('data-state');

beforeAll(async () => {
  server = await startServer({ workers: 2, autoRecord: true });
  await server.sessions.create({ id: sid, title: 'Phiên họp thử nghiệm' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('a provincial session in the browser', () => {
  it('the studio joins and goes on air', async () => {
    studio = await open('/studio', 'studio', 'studio', 'Hội trường tỉnh');
    await studio.getByTestId('join').click();
    await waitFor('studio live', async () => (await connectionState(studio)) === 'live', 20_000);
    await studio.getByTestId('go-live').click();
    const room = await server.sessions.room(sid);
    await waitFor('session on air', () => room.status === 'live');
  });

  it('records the studio camera from the browser without re-encoding the picture', async () => {
    const dir = server.recordings.dirFor(sid);
    const live = () => readPlaylist(path.join(dir, 'live.m3u8')).entries;
    await waitFor('recorded segments', () => live().length >= 3, 30_000);
    expect(server.recordings.recorder(sid)!.currentPlan).toEqual({ video: 'copy', audio: 1 });
    await studio.getByTestId('recording-indicator').waitFor({ timeout: 5000 });
    for (const entry of live().slice(1)) {
      // The browser answers keyframe requests (asked every 2 s): short segments, each opening on a keyframe.
      // Without them a browser sends a keyframe every few minutes; a late answer on a busy machine costs a frame or two.
      expect(entry.duration).toBeLessThan(4);
      const probe = probeSegment(path.join(dir, entry.file));
      expect(probe.codecs).toEqual(['h264', 'aac']);
      expect(probe.firstVideoFrameIsKey).toBe(true);
    }
  });

  it('each point joins with one click and decodes the studio', async () => {
    pointA = await open('/point', 'a', 'point', 'Xã A');
    pointB = await open('/point', 'b', 'point', 'Xã B');
    // Before clicking, the clerk sees which meeting the link opens and under which name.
    await expect.poll(() => pointA.getByTestId('join-session-title').textContent(), { timeout: 10_000 }).toBe('Phiên họp thử nghiệm');
    expect(await pointA.getByTestId('join-name').textContent()).toBe('Xã A');
    await pointA.getByTestId('join').click();
    await pointB.getByTestId('join').click();
    await expectDecoding(pointA, 'studio');
    await expectDecoding(pointB, 'studio');
    expect(await connectionState(pointA)).toBe('live');
  });

  it('records the top simulcast layer the studio sends, as a point decodes it', async () => {
    const room = await server.sessions.room(sid);
    const studioVideo = room.peer('studio')!.producerOf('video')!;
    // The highest layer arriving from the studio: Chromium sends its top one only once its bandwidth estimate allows.
    const sentTop = () => Math.max(-1, ...studioVideo.score.filter((s) => s.score > 0).map((s) => s.encodingIdx));
    const pointLayer = () => room.peer('a')?.consumers.get(studioVideo.id)?.currentLayers?.spatialLayer;
    const decoded = () => pointA.getByTestId('program-video').evaluate((v: HTMLVideoElement) => `${v.videoWidth}x${v.videoHeight}`);
    const dir = server.recordings.dirFor(sid);
    const listed = () => readPlaylist(path.join(dir, 'live.m3u8')).entries.map((e) => e.file);
    const probeArgs = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=s=x:p=0'];
    const pictureOf = (file: string) =>
      spawnSync('ffprobe', [...probeArgs, path.join(dir, file)], { encoding: 'utf8' }).stdout.split('\n')[0];
    // The studio's browser changes what it sends as its bandwidth estimate climbs (and on a busy machine as
    // its CPU allows): each attempt finds the highest layer anew and looks at segments made while it held.
    const attempts = 6;
    for (let attempt = 1; ; attempt++) {
      let top = -1;
      let sent = '';
      await waitFor(
        'point a decodes the highest layer sent',
        async () => {
          top = sentTop();
          const before = pointLayer() === top ? await decoded() : '';
          await pointA.waitForTimeout(1000);
          sent = await decoded();
          return top >= 0 && pointLayer() === top && sentTop() === top && sent === before && sent !== '0x0';
        },
        45_000,
      );
      const known = new Set(listed());
      let steady = true;
      const fresh = () => listed().filter((f) => !known.has(f));
      const watch = setInterval(() => (steady &&= sentTop() === top), 200);
      await waitFor('two more segments', () => fresh().length >= 2, 30_000).finally(() => clearInterval(watch));
      if (!steady && attempt < attempts) continue;
      expect(steady, `the studio kept sending layer ${top} as its highest over one of ${attempts} tries`).toBe(true);
      // The first may have begun before we looked.
      const recorded = fresh().slice(1);
      expect(recorded.map((f) => `${f} ${pictureOf(f)}`)).toEqual(recorded.map((f) => `${f} ${sent}`));
      break;
    }
  }, 400_000);

  it('a point on a weak link chooses low bandwidth and gets the lowest simulcast layer', async () => {
    const room = await server.sessions.room(sid);
    const studioVideo = room.peer('studio')!.producerOf('video')!;
    expect(studioVideo.type).toBe('simulcast');
    await pointB.getByTestId('receive-mode').selectOption('low');
    const consumer = () => room.peer('b')!.consumers.get(studioVideo.id);
    await waitFor('lowest layer', () => consumer()?.currentLayers?.spatialLayer === 0, 15_000);
    await expectDecoding(pointB, 'studio');
    await pointB.getByTestId('receive-mode').selectOption('auto');
    await waitFor('top layer again', () => consumer()?.preferredLayers?.spatialLayer === 2, 15_000);
    // Its browser reports heavy loss three times (as a lossy rural link would):
    // the SFU holds its picture at the lowest layer, then lets it climb once clean.
    const peerB = room.peer('b')!;
    for (let i = 0; i < 3; i++) await room.reportStats(peerB, { inboundLoss: 0.2 });
    expect(peerB.weakLink).toBe(true);
    await waitFor('held at the lowest layer', () => consumer()?.currentLayers?.spatialLayer === 0, 15_000);
    await expectDecoding(pointB, 'studio');
    for (let i = 0; i < 5; i++) await room.reportStats(peerB, { inboundLoss: 0 });
    expect(peerB.weakLink).toBe(false);
    expect(consumer()?.preferredLayers?.spatialLayer).toBe(2);
    await pointB.getByTestId('receive-mode').selectOption('audio-only');
    await waitFor('video dropped', () => !consumer());
    await pointB.getByTestId('receive-mode').selectOption('auto');
    await expectDecoding(pointB, 'studio');
  });

  it('shows who is speaking', async () => {
    const room = await server.sessions.room(sid);
    await waitFor('active speaker', () => room.activeSpeaker === 'studio', 15_000);
  });

  it('the operator sees the points and gives the floor to a raised hand', async () => {
    await pointA.getByTestId('raise-hand').click();
    // An operator's link of the older form still opens the control room.
    operator = await open('/operator', 'operator', 'operator', 'Điều hành');
    await operator.waitForURL((url) => url.pathname === `/console/sessions/${sid}/live`, { timeout: 15_000 });
    await operator.getByTestId('rollcall-row-a').waitFor({ timeout: 15_000 });
    await operator.getByTestId('rollcall-row-b').waitFor();
    await waitFor('hand raised', async () => (await server.sessions.room(sid)).snapshot().handsRaised.includes('a'));
    await operator.getByTestId('rollcall-hand-a').waitFor();
    await operator.getByTestId('rollcall-give-floor-a').click();
    await pointA.getByTestId('has-floor').waitFor({ timeout: 10_000 });
    await expectDecoding(pointB, 'a');
    await expectDecoding(studio, 'a');
  });

  it('taking the floor back returns everyone to the studio', async () => {
    await operator.getByTestId('rollcall-take-floor-a').click();
    await expectDecoding(pointB, 'studio');
    await expectDecoding(pointA, 'studio');
    await waitFor('studio no longer receives a', async () => (await receiveStats(studio)).programIdentity === null);
  });

  it('a point whose media transport dies at the SFU recovers by itself', async () => {
    const room = await server.sessions.room(sid);
    const before = room.peer('b')!;
    before.closeMedia();
    await waitFor('point b reconnecting', async () => (await connectionState(pointB)) === 'reconnecting', 30_000);
    await waitFor('point b live again', async () => (await connectionState(pointB)) === 'live', 30_000);
    await expectDecoding(pointB, 'studio');
  });

  it('a point whose network drops reconnects as the same point, without a ghost', async () => {
    const room = await server.sessions.room(sid);
    const connection = [...server.signaling.connections].find((c) => c.peer?.identity === 'a')!;
    connection.terminate();
    await waitFor('point a live again', async () => (await connectionState(pointA)) === 'live' && !!room.peer('a'), 30_000);
    await expectDecoding(pointA, 'studio');
    expect([...room.peers.keys()].sort()).toEqual(['a', 'b', 'operator', 'studio']);
  });

  it('a reloaded point page rejoins as the same point', async () => {
    const room = await server.sessions.room(sid);
    const before = room.peer('b');
    await pointB.reload();
    // Nobody clicks: the page that was joined joins again by itself, as the same point.
    await waitFor('point b joined again', () => !!room.peer('b') && room.peer('b') !== before, 30_000);
    await expectDecoding(pointB, 'studio');
    expect(await pointB.getByTestId('join').count()).toBe(0);
    expect([...room.peers.keys()].filter((k) => k === 'b')).toHaveLength(1);
  });

  it('when a media worker dies, every page rejoins and the program comes back', async () => {
    const room = await server.sessions.room(sid);
    const slot = server.pool.slots[room.peer('studio')!.slotIndex];
    const deadPid = slot.worker.pid;
    process.kill(deadPid, 'SIGKILL');
    await waitFor('a new worker', () => server.pool.slots[slot.index].worker.pid !== deadPid);
    await expectDecoding(pointA, 'studio', 30_000);
    await expectDecoding(pointB, 'studio', 30_000);
    expect(room.status).toBe('live');
  });
});
