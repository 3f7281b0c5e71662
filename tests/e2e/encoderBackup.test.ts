/**
 * The backup encoder in the console, in a real Chromium tab with real ffmpeg
 * encoders: the operator ticks "Cho phép bàn phát dự phòng" in the session's
 * editor; a second encoder pushing the same RTMP key shows under the main
 * feed, labelled "Dự phòng", with its protocol and 640×360 picture, in the
 * editor and in the control room; unticking cuts it off and its row goes.
 */
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newPage, signInAt } from '../helpers/browser.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let operator: Page;
const sid = 'du-phong-bang-dieu-khien';
const admin = { username: 'dieu-hanh', password: 'mat-khau-dieu-hanh' };
const encoders: EncoderPush[] = [];

async function pushRtmp(): Promise<EncoderPush> {
  const rtmp = (await server.ingest.describe(sid)).addresses.find((a) => a.protocol === 'rtmp' && a.url.startsWith('rtmp:'))!;
  const encoder = pushEncoder(`${rtmp.url}/${rtmp.streamKey}`, { format: 'flv' });
  encoders.push(encoder);
  return encoder;
}

const running = (e: EncoderPush) => e.process.exitCode === null && e.process.signalCode === null;
const attributeOf = (page: Page, testId: string, name: string) =>
  page
    .getByTestId(testId)
    .getAttribute(name, { timeout: 1000 })
    .catch(() => null);

beforeAll(async () => {
  expect(spawnSync('ffmpeg', ['-version']).status, 'ffmpeg on PATH').toBe(0);
  server = await startServer({ adminUser: admin.username, adminPassword: admin.password });
  await server.sessions.create({ id: sid, title: 'Phát sóng có bàn dự phòng' });
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const e of encoders) if (running(e)) e.process.kill('SIGKILL');
  await Promise.all(encoders.map((e) => e.exited));
  await browser?.close();
  await server?.stop();
});

describe('the backup encoder in the console', () => {
  it('the operator allows a backup in the editor; the second encoder shows under the main feed, labelled Dự phòng', async () => {
    operator = await newPage(browser, server.url);
    await operator.setViewportSize({ width: 1280, height: 900 });
    await signInAt(operator, `${server.url}/console/sessions/${sid}`, admin);

    const toggle = operator.getByTestId('encoder-allow-backup');
    await toggle.waitFor({ timeout: 15_000 });
    expect(await toggle.isChecked()).toBe(false);
    expect(await operator.getByTestId('encoder-backup-section').textContent()).toContain('Cho phép bàn phát dự phòng');
    expect(await operator.getByTestId('encoder-backup').count()).toBe(0);
    await toggle.check();
    await operator.getByTestId('encoder-backup').waitFor({ timeout: 5000 });
    expect(await attributeOf(operator, 'encoder-backup', 'data-state')).toBe('idle');
    expect((await server.ingest.describe(sid)).allowBackup).toBe(true);

    const main = await pushRtmp();
    await waitFor('the main feed shown', async () => (await attributeOf(operator, 'encoder-status', 'data-state')) === 'connected', 20_000);
    const backup = await pushRtmp();
    await waitFor('the backup shown', async () => (await attributeOf(operator, 'encoder-backup', 'data-state')) === 'connected', 20_000);
    expect(await attributeOf(operator, 'encoder-backup', 'data-protocol')).toBe('rtmp');
    await waitFor(
      'its picture read',
      async () => ((await operator.getByTestId('encoder-backup-resolution').textContent()) ?? '').includes('640×360'),
      20_000,
    );
    const row = (await operator.getByTestId('encoder-backup').textContent()) ?? '';
    expect(row).toContain('Dự phòng');
    expect(row).toContain('RTMP');
    expect(running(main) && running(backup)).toBe(true);
    // On a 390 px phone the backup's row stays inside the panel, the panel inside the window.
    await operator.setViewportSize({ width: 390, height: 900 });
    await waitFor('laid out at 390 px', () => operator.evaluate(() => window.innerWidth === 390), 5000);
    const fit = await operator.getByTestId('encoder-panel').evaluate((panel) => ({
      right: panel.getBoundingClientRect().right,
      overflow: panel.scrollWidth - panel.clientWidth,
    }));
    expect(fit.right).toBeLessThanOrEqual(390);
    expect(fit.overflow).toBeLessThanOrEqual(0);
    await operator.setViewportSize({ width: 1280, height: 900 });
  });

  it('the control room shows the backup too; unticking cuts it off and its row goes', async () => {
    await operator.goto(`${server.url}/console/sessions/${sid}/live`);
    await operator.getByTestId('encoder-panel').waitFor({ timeout: 15_000 });
    await waitFor('the backup shown', async () => (await attributeOf(operator, 'encoder-backup', 'data-state')) === 'connected', 15_000);
    const toggle = operator.getByTestId('encoder-allow-backup');
    expect(await toggle.isChecked()).toBe(true);
    await toggle.uncheck();
    await operator.getByTestId('encoder-backup').waitFor({ state: 'detached', timeout: 5000 });
    const [, backup] = encoders;
    await backup.exited;
    expect(running(encoders[0])).toBe(true);
    expect(await attributeOf(operator, 'encoder-status', 'data-state')).toBe('connected');
    expect((await server.ingest.describe(sid)).backup).toBeNull();
  });
});
