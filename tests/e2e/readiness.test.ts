/**
 * The readiness check in real Chromium against a real server: a commune
 * clerk runs it from the point's link (fake camera and microphone) and reads
 * "Sẵn sàng" with the figures, without appearing in the session; a second
 * browser on a network that blocks UDP is told its media goes over TCP only;
 * the operator's roll call shows each point's check, and the request to
 * check again reaches the point's open page, or the page opened later.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorsOf, launchBrowser, newPage } from '../helpers/browser.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let udpBlocked: Browser;
let pointA: Page;
let pointB: Page;
let operator: Page;
const sid = 'kiem-tra-truoc-phien';

/** A point's invitation link, on the server's own address (cameras are allowed there). */
async function pointLink(id: string, name: string): Promise<string> {
  const point = server.points.listPoints().find((p) => p.id === id)!;
  const url = await server.invitation({ sid, sub: id, role: 'point', name, ver: point.invitationVersion });
  return url.replace(/^https?:\/\/[^/]+/, server.url);
}

/** The clerk runs the whole check: presses start, hears the beep, waits for the verdict. */
async function runCheck(page: Page): Promise<void> {
  await page.getByTestId('readiness-start').click();
  await page.getByTestId('readiness-heard').click({ timeout: 20_000 });
  await page.getByTestId('readiness-result').waitFor({ timeout: 45_000 });
}

const figure = (page: Page, key: string) => page.getByTestId(`readiness-figure-${key}`).getAttribute('data-value');

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  await server.points.createPoint({ id: 'xa-a', name: 'Xã A' });
  await server.points.createPoint({ id: 'xa-b', name: 'Xã B' });
  await server.sessions.create({ id: sid, title: 'Giao ban tháng', invitedPoints: ['xa-a', 'xa-b'] });
  browser = await launchBrowser();
  udpBlocked = await launchBrowser({ extraArgs: ['--webrtc-ip-handling-policy=disable_non_proxied_udp'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await udpBlocked?.close();
  await server?.stop();
});

describe('the readiness check of a connection point', () => {
  it('a clerk runs it before joining and reads “Sẵn sàng” with the figures', async () => {
    pointA = await newPage(browser, server.url);
    await pointA.goto(await pointLink('xa-a', 'Xã A'));
    await expect.poll(() => pointA.getByTestId('readiness-latest').textContent(), { timeout: 15_000 }).toBe('Chưa kiểm tra');
    await runCheck(pointA);
    expect(await pointA.getByTestId('readiness-result').getAttribute('data-verdict')).toBe('ready');
    expect(await pointA.getByTestId('readiness-verdict').textContent()).toBe('Sẵn sàng');
    expect(await figure(pointA, 'transport')).toBe('udp');
    expect(await figure(pointA, 'camera')).toBe('true');
    expect(await figure(pointA, 'speakers')).toBe('heard');
    expect(Number(await figure(pointA, 'mic'))).toBeGreaterThan(0);
    expect(Number(await figure(pointA, 'upload'))).toBeGreaterThanOrEqual(500);
    expect(Number(await figure(pointA, 'download'))).toBeGreaterThanOrEqual(500);
    expect(Number(await figure(pointA, 'rtt'))).toBeLessThan(300);
    // Checking is not joining: the point is not in the session, and the check's transports are gone.
    const room = await server.sessions.room(sid);
    expect(room.peer('xa-a')).toBeUndefined();
    expect(server.readiness.running).toBe(0);
    expect(errorsOf(pointA)).toEqual([]);
  }, 90_000);

  it('a clerk whose network blocks UDP is told the media goes over TCP only, and is still ready', async () => {
    pointB = await newPage(udpBlocked, server.url);
    await pointB.goto(await pointLink('xa-b', 'Xã B'));
    await runCheck(pointB);
    expect(await figure(pointB, 'transport')).toBe('tcp');
    expect(await pointB.getByTestId('readiness-figure-transport').textContent()).toBe('Chỉ TCP');
    const advice = await pointB.getByTestId('readiness-problem-tcp-only').textContent();
    expect(advice).toContain('Mạng chặn UDP');
    expect(await pointB.getByTestId('readiness-result').getAttribute('data-verdict')).toBe('ready');
  }, 90_000);

  it('the operator sees each point’s check and asks a point to check again: its open page shows the request', async () => {
    operator = await newPage(browser, server.url);
    const link = await server.invitation({ sid, sub: 'dieu-hanh', role: 'operator', name: 'Điều hành' });
    await operator.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
    await operator.waitForURL((url) => url.pathname === `/console/sessions/${sid}/live`, { timeout: 15_000 });
    const readiness = (id: string) => operator.getByTestId(`rollcall-readiness-${id}`);
    await expect.poll(() => readiness('xa-a').getAttribute('data-readiness'), { timeout: 15_000 }).toBe('ready');
    await expect.poll(() => readiness('xa-b').getAttribute('data-readiness'), { timeout: 15_000 }).toBe('ready');
    // The details: TCP only for the point behind the firewall.
    await operator.getByTestId('rollcall-readiness-chip-xa-b').click();
    expect(await operator.getByTestId('rollcall-readiness-details-xa-b').textContent()).toContain('Chỉ TCP');

    await operator.getByTestId('rollcall-readiness-request-xa-a').click({ timeout: 15_000 });
    await pointA.getByTestId('readiness-requested').waitFor({ timeout: 10_000 });
    expect(await pointA.getByTestId('readiness-requested').textContent()).toContain('Ban tổ chức đề nghị kiểm tra lại');
    await operator.getByTestId('rollcall-readiness-requested-xa-a').waitFor({ timeout: 10_000 });
  }, 60_000);

  it('a request made while the point’s page is closed shows when it opens', async () => {
    await pointB.close();
    await operator.getByTestId('rollcall-readiness-request-xa-b').click();
    await operator.getByTestId('rollcall-readiness-requested-xa-b').waitFor({ timeout: 10_000 });
    pointB = await newPage(udpBlocked, server.url);
    await pointB.goto(await pointLink('xa-b', 'Xã B'));
    await pointB.getByTestId('readiness-requested').waitFor({ timeout: 15_000 });
    // Its last result stays in view with the request, until checked again.
    expect(await pointB.getByTestId('readiness-latest').getAttribute('data-verdict')).toBe('ready');
  }, 60_000);
});
