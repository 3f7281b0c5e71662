import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const candidates = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Debian's Chromium, headless, with a fake camera and microphone. `extraArgs`
 * add switches, e.g. `--webrtc-ip-handling-policy=disable_non_proxied_udp`
 * for a network that blocks UDP (WebRTC then goes over TCP).
 */
export async function launchBrowser(options: { extraArgs?: string[] } = {}): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? candidates.find((p) => fs.existsSync(p));
  if (!executablePath) throw new Error('Chromium not found: run `npm test` (it installs it) or apt-get install chromium');
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
      ...(options.extraArgs ?? []),
    ],
  });
}

/** A new tab with its own profile, camera and microphone allowed. */
export async function newPage(browser: Browser, origin: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  await context.grantPermissions(['camera', 'microphone'], { origin });
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (e) => {
    console.error('[page error]', e.message);
    errors.push(e.message);
  });
  return page;
}

const pageErrors = new WeakMap<Page, string[]>();

/** The uncaught errors and unhandled rejections a page of newPage() has thrown so far: a user's page should throw none. */
export function errorsOf(page: Page): string[] {
  return [...(pageErrors.get(page) ?? [])];
}

export interface ReceiveStats {
  framesDecoded: number;
  audioPackets: number;
  programIdentity: string | null;
}

/** What the page's media client is decoding right now. */
export function receiveStats(page: Page): Promise<ReceiveStats> {
  return page.evaluate(() => (window as unknown as { diemcau: { receiveStats(): Promise<ReceiveStats> } }).diemcau.receiveStats());
}

/**
 * Waits until the page decodes the program from `identity`: the program
 * comes from that identity and both video frames and audio packets grow.
 */
export async function expectDecoding(page: Page, identity: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: ReceiveStats | undefined;
  while (Date.now() < deadline) {
    const a = await receiveStats(page).catch(() => undefined);
    await page.waitForTimeout(700);
    const b = await receiveStats(page).catch(() => undefined);
    last = b;
    if (a && b && b.programIdentity === identity && b.framesDecoded > a.framesDecoded && b.audioPackets > a.audioPackets) return;
  }
  throw new Error(`page did not decode ${identity}'s program in time; last stats: ${JSON.stringify(last)}`);
}

/**
 * Opens a console page as an operator who is not signed in yet: the console
 * sends them to its sign-in page, they sign in, and it brings them back.
 */
export async function signInAt(page: Page, url: string, account: { username: string; password: string }): Promise<void> {
  const target = new URL(url).pathname;
  await page.goto(url);
  await page.waitForURL((u) => u.pathname === '/console/sign-in', { timeout: 15_000 });
  await page.getByTestId('sign-in-username').fill(account.username);
  await page.getByTestId('sign-in-password').fill(account.password);
  await page.getByTestId('sign-in-submit').click();
  await page.waitForURL((u) => u.pathname === target, { timeout: 10_000 });
}
