/**
 * The broadcast desk's encoder in real Chromium tabs with a real ffmpeg: the
 * operator signs in and reads the session's RTMP address and stream key in
 * the editor (the key masked until shown); ffmpeg pushes a test picture to
 * them as OBS would; the control room shows the encoder connected with its
 * 640×360 picture; once on air a point plays the encoder's program; a new
 * RTMP key cuts the encoder off, the old key is refused, and the refusal is
 * in the audit log. The panel stays inside a 390 px phone and a 1280 px
 * screen, in the editor and in the control room.
 */
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDecoding, launchBrowser, newPage, signInAt } from '../helpers/browser.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let operator: Page;
let point: Page;
const sid = 'ban-phat-song';
const admin = { username: 'dieu-hanh', password: 'mat-khau-dieu-hanh' };

/** What the editor showed: the RTMP server field and the stream key. */
let rtmpUrl = '';
let streamKey = '';

const encoders: EncoderPush[] = [];

/**
 * The broadcast desk's encoder: a test picture and a tone, H.264 + AAC in FLV
 * over RTMP, as OBS sends them (one keyframe a second, no B-frames), or with
 * other x264 settings.
 */
function pushRtmp(url: string, key: string, video?: string[]): EncoderPush {
  const encoder = pushEncoder(`${url}/${key}`, { format: 'flv', video });
  encoders.push(encoder);
  return encoder;
}

const running = (e: EncoderPush) => e.process.exitCode === null && e.process.signalCode === null;

/** The exit code once the encoder has stopped, or a failure naming what it printed. */
async function exitOf(e: EncoderPush, timeoutMs: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`ffmpeg still running after ${timeoutMs} ms; stderr: ${e.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([e.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An attribute of the element with that test id, or null while it is not there. */
const attributeOf = (page: Page, testId: string, name: string, timeout = 1000) =>
  page
    .getByTestId(testId)
    .getAttribute(name, { timeout })
    .catch(() => null);

const encoderState = (page: Page) => attributeOf(page, 'encoder-status', 'data-state', 2000);

/** Until the editor or the control room shows this encoder connected; a failure naming what ffmpeg printed if it stops first. */
async function waitConnected(page: Page, encoder: EncoderPush, what: string): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (!running(encoder)) throw new Error(`ffmpeg exited (${encoder.process.exitCode}): ${encoder.stderr()}`);
      return (await encoderState(page)) === 'connected';
    },
    20_000,
  );
}

/**
 * Where the encoder panel ends and how wide its content is: it must stay
 * inside the window, long URLs scrolling inside their boxes. (The console's
 * top bar is not this panel's: it is not measured here.)
 */
function panelFit(page: Page): Promise<{ right: number; scrollWidth: number; clientWidth: number; viewport: number }> {
  return page.getByTestId('encoder-panel').evaluate((panel) => ({
    right: Math.floor(panel.getBoundingClientRect().right),
    scrollWidth: panel.scrollWidth,
    clientWidth: panel.clientWidth,
    viewport: window.innerWidth,
  }));
}

/** On a 390 px phone and a 1280 px screen, then back to 1280. */
async function expectFits(page: Page, what: string): Promise<void> {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await waitFor(`${what} laid out at ${width} px`, async () => (await panelFit(page)).viewport === width, 5000);
    const fit = await panelFit(page);
    expect(fit.right, `${what} at ${width} px: the panel's right edge`).toBeLessThanOrEqual(width);
    expect(fit.scrollWidth, `${what} at ${width} px: the panel's content`).toBeLessThanOrEqual(fit.clientWidth);
  }
}

beforeAll(async () => {
  expect(spawnSync('ffmpeg', ['-version']).status, 'ffmpeg on PATH').toBe(0);
  server = await startServer({ workers: 2, adminUser: admin.username, adminPassword: admin.password });
  await server.sessions.create({ id: sid, title: 'Phát sóng từ bàn phát sóng tỉnh' });
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const e of encoders) if (running(e)) e.process.kill('SIGKILL');
  await Promise.all(encoders.map((e) => exitOf(e, 5000).catch(() => null)));
  await browser?.close();
  await server?.stop();
});

describe('an encoder from the broadcast desk', () => {
  it('the operator signs in and reads the RTMP address and the key (masked until shown) in the editor', async () => {
    operator = await newPage(browser, server.url);
    await operator.setViewportSize({ width: 1280, height: 900 });
    await signInAt(operator, `${server.url}/console/sessions/${sid}`, admin);

    await operator.getByTestId('encoder-panel').waitFor({ timeout: 15_000 });
    const url = operator.getByTestId('encoder-rtmp-url');
    await url.waitFor({ timeout: 10_000 });
    rtmpUrl = await url.inputValue();
    expect(rtmpUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
    expect(Number(new URL(rtmpUrl).port)).toBeGreaterThan(0);

    const key = operator.getByTestId('encoder-rtmp-key');
    expect(await key.getAttribute('data-masked')).toBe('true');
    const masked = await key.inputValue();
    expect(masked.startsWith(`${sid}~`)).toBe(true);
    expect(masked).toContain('•');
    await operator.getByTestId('encoder-rtmp-key-show').click();
    await expect.poll(() => key.getAttribute('data-masked'), { timeout: 5000 }).toBe('false');
    streamKey = await key.inputValue();
    expect(streamKey).toMatch(new RegExp(`^${sid}~[\\w-]{10,}$`));

    // SRT: its caller URL with the passphrase masked inside, or plainly not enabled here.
    const srtUrl = operator.getByTestId('encoder-srt-url');
    if (await srtUrl.count()) {
      expect(await srtUrl.inputValue()).toMatch(/^srt:\/\/127\.0\.0\.1:\d+\?.*passphrase=•+/);
      await operator.getByTestId('encoder-srt-streamid').waitFor();
    } else {
      await operator.getByTestId('encoder-srt-unavailable').waitFor();
    }
    // WHIP: the endpoint on this server, its bearer token masked until shown.
    expect(await operator.getByTestId('encoder-whip-url').inputValue()).toBe(`${server.url}/whip/${sid}`);
    expect(await operator.getByTestId('encoder-whip-token').getAttribute('data-masked')).toBe('true');
    await operator.getByTestId('encoder-rotate-rtmp').waitFor();
    expect(await encoderState(operator)).toBe('idle');
    await expectFits(operator, 'the editor');
  });

  it('ffmpeg pushes to that address and key; the control room shows the encoder connected at 640×360', async () => {
    const encoder = pushRtmp(rtmpUrl, streamKey);
    // The editor sees it first (it refreshes every 2 s).
    await waitConnected(operator, encoder, 'the editor shows the encoder connected');
    expect(await operator.getByTestId('encoder-status').getAttribute('data-protocol')).toBe('rtmp');

    await operator.goto(`${server.url}/console/sessions/${sid}/live`);
    await operator.getByTestId('encoder-panel').waitFor({ timeout: 15_000 });
    await waitFor('the control room shows the encoder connected', async () => (await encoderState(operator)) === 'connected', 15_000);
    await waitFor(
      'the control room shows a 640×360 picture',
      async () => (await attributeOf(operator, 'encoder-resolution', 'data-value')) === '640x360',
      20_000,
    );
    expect(await operator.getByTestId('encoder-resolution').textContent()).toContain('640×360');
    await waitFor(
      'frame rate and bitrate read',
      async () => {
        const fps = Number(await operator.getByTestId('encoder-fps').getAttribute('data-value'));
        const kbps = Number(await operator.getByTestId('encoder-bitrate').getAttribute('data-value'));
        return Math.abs(fps - 25) <= 2 && kbps > 0;
      },
      20_000,
    );
    // One keyframe a second (-g 25 at 25 fps): no warning.
    await waitFor(
      'keyframe interval read',
      async () => Number((await operator.getByTestId('encoder-keyframe').getAttribute('data-value')) || Number.NaN) > 0,
      20_000,
    );
    expect(await operator.getByTestId('encoder-keyframe').getAttribute('data-warn')).toBe('false');
    expect(await operator.getByTestId('encoder-keyframe-warning').count()).toBe(0);
    // The encoder's tone (ffmpeg's sine: amplitude 1/8, about -18 dBFS) reads as sound, not silence.
    await waitFor(
      'sound level read',
      async () => {
        const db = Number((await operator.getByTestId('encoder-audio-level').getAttribute('data-value')) || Number.NaN);
        return db > -35 && db < -5;
      },
      20_000,
    );
    expect(await operator.getByTestId('encoder-silent-warning').count()).toBe(0);
    // An RTMP feed has no SRT link to show.
    expect(await operator.getByTestId('encoder-srt-link').count()).toBe(0);
    await operator.getByTestId('encoder-rtmp-url').waitFor();
    await expectFits(operator, 'the control room');
  });

  it('on air, a point plays the encoder as the program', async () => {
    const goLive = operator.getByTestId('go-live');
    await goLive.waitFor({ timeout: 20_000 });
    await goLive.click();
    const room = await server.sessions.room(sid);
    await waitFor('session on air', () => room.status === 'live', 15_000);

    point = await newPage(browser, server.url);
    const invitation = await server.invitation({ sid, sub: 'tan-phu', role: 'point', name: 'Xã Tân Phú' });
    await point.goto(invitation.replace(/^https?:\/\/[^/]+/, server.url));
    await point.getByTestId('join').click();
    await waitFor(
      'point connected',
      async () => (await point.getByTestId('connection-state').getAttribute('data-state')) === 'live',
      30_000,
    );
    await expectDecoding(point, 'encoder', 30_000);
    await waitFor(
      'the point plays a 640×360 program',
      async () =>
        (await point
          .getByTestId('program-video')
          .evaluate((v: HTMLVideoElement) => !v.paused && v.videoWidth === 640 && v.videoHeight === 360)
          .catch(() => false)) === true,
      20_000,
    );
  });

  it("with the hall's browser studio connected too, the operator puts either on air", async () => {
    const studio = await newPage(browser, server.url);
    const invitation = await server.invitation({ sid, sub: 'hoi-truong', role: 'studio', name: 'Hội trường tỉnh' });
    await studio.goto(invitation.replace(/^https?:\/\/[^/]+/, server.url));
    await studio.getByTestId('join').click();
    // The encoder came first: it stays on air, the browser studio stands by.
    const chooseBrowser = operator.getByTestId('rollcall-choose-studio-hoi-truong');
    await chooseBrowser.waitFor({ timeout: 30_000 });
    await operator.getByTestId('rollcall-program-studio-encoder').waitFor();
    await expectDecoding(point, 'encoder', 20_000);

    await chooseBrowser.click();
    await operator.getByTestId('rollcall-program-studio-hoi-truong').waitFor({ timeout: 15_000 });
    await expectDecoding(point, 'hoi-truong', 30_000);

    await operator.getByTestId('rollcall-choose-studio-encoder').click();
    await operator.getByTestId('rollcall-program-studio-encoder').waitFor({ timeout: 15_000 });
    await expectDecoding(point, 'encoder', 30_000);
    await studio.context().close();
    await operator.getByTestId('rollcall-program-studio-encoder').waitFor({ state: 'detached', timeout: 20_000 });
  }, 180_000);

  it('a new RTMP key cuts the encoder off; the old key is refused and the refusal is in the audit log', async () => {
    const first = encoders[0];
    expect(running(first)).toBe(true);
    await operator.goto(`${server.url}/console/sessions/${sid}`);
    await operator.getByTestId('encoder-rotate-rtmp').waitFor({ timeout: 15_000 });
    await waitFor('the editor shows the encoder connected', async () => (await encoderState(operator)) === 'connected', 10_000);

    let asked = '';
    operator.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await operator.getByTestId('encoder-rotate-rtmp').click();
    await operator.getByTestId('encoder-notice').waitFor({ timeout: 10_000 });
    expect(asked).toContain('RTMP');

    await waitFor('the editor shows no encoder', async () => (await encoderState(operator)) === 'idle', 15_000);
    // Cut off: the publishing ffmpeg loses its connection and stops.
    await exitOf(first, 20_000);

    // A new key is shown; the old one no longer works.
    const key = operator.getByTestId('encoder-rtmp-key');
    if ((await key.getAttribute('data-masked')) === 'true') await operator.getByTestId('encoder-rtmp-key-show').click();
    await expect.poll(() => key.inputValue(), { timeout: 5000 }).not.toBe(streamKey);
    expect(await key.inputValue()).toMatch(new RegExp(`^${sid}~`));

    const refused = pushRtmp(rtmpUrl, streamKey);
    const code = await exitOf(refused, 20_000);
    expect(code, `ffmpeg with the old key: ${refused.stderr()}`).not.toBe(0);
    expect(await encoderState(operator)).toBe('idle');

    const entries = async () => {
      const res = await operator.request.get(`${server.url}/api/audit?sessionId=${sid}&limit=500`);
      expect(res.status()).toBe(200);
      return ((await res.json()) as { entries: { action: string; details?: Record<string, unknown> }[] }).entries;
    };
    await waitFor('an ingest.refused entry', async () => (await entries()).some((e) => e.action === 'ingest.refused'), 10_000);
    const all = await entries();
    const refusal = all.find((e) => e.action === 'ingest.refused')!;
    expect(refusal.details?.protocol).toBe('rtmp');
    expect(all.some((e) => e.action === 'ingest.rotate' && e.details?.protocol === 'rtmp')).toBe(true);
    expect(all.some((e) => e.action === 'ingest.connected')).toBe(true);
  });

  it('an encoder sending B-frames and a keyframe every 4 s: the panel warns of both, and the point still plays it', async () => {
    const key = operator.getByTestId('encoder-rtmp-key');
    if ((await key.getAttribute('data-masked')) === 'true') await operator.getByTestId('encoder-rtmp-key-show').click();
    await expect.poll(() => key.getAttribute('data-masked'), { timeout: 5000 }).toBe('false');
    const newKey = await key.inputValue();
    // x264's own defaults (B-frames), one keyframe every 100 frames (4 s).
    const encoder = pushRtmp(rtmpUrl, newKey, ['-preset', 'veryfast', '-bf', '2', '-g', '100', '-keyint_min', '100', '-sc_threshold', '0']);
    await waitConnected(operator, encoder, 'the editor shows the new encoder connected');
    // Two keyframes 4 s apart make the first interval: on a busy machine the feed's first seconds take longer.
    await waitFor('the keyframe warning', async () => (await attributeOf(operator, 'encoder-keyframe', 'data-warn')) === 'true', 60_000);
    expect(Number(await operator.getByTestId('encoder-keyframe').getAttribute('data-value'))).toBeGreaterThan(2);
    expect(await operator.getByTestId('encoder-keyframe-warning').textContent()).toContain('1–2');
    await operator.getByTestId('encoder-transcoding').waitFor({ timeout: 20_000 });
    expect(await operator.getByTestId('encoder-resolution').getAttribute('data-value')).toBe('640x360');
    // Converted (and its lower layer encoded beside it), it still plays at the point (still on air).
    await expectDecoding(point, 'encoder', 60_000);
  }, 180_000);

  it("an encoder on SRT: the control room shows the link's round trip, loss and the sound level", async () => {
    for (const e of encoders) if (running(e)) await e.stop();
    await waitFor('the RTMP encoder gone', async () => (await encoderState(operator)) === 'idle', 20_000);
    // The address exactly as the console gives it, passphrase included.
    const ingest = (await (await operator.request.get(`${server.url}/api/sessions/${sid}/ingest`)).json()) as {
      addresses: { protocol: string; url: string; available: boolean }[];
    };
    const srt = ingest.addresses.find((a) => a.protocol === 'srt')!;
    expect(srt.available).toBe(true);
    const encoder = pushEncoder(srt.url);
    encoders.push(encoder);
    await waitConnected(operator, encoder, 'the control room shows the SRT encoder connected');
    expect(await operator.getByTestId('encoder-status').getAttribute('data-protocol')).toBe('srt');
    await operator.getByTestId('encoder-srt-link').waitFor({ timeout: 20_000 });
    const rtt = Number(await operator.getByTestId('encoder-srt-rtt').getAttribute('data-value'));
    // Loopback: a round trip well under a second, and no loss to speak of.
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(1000);
    expect(Number(await operator.getByTestId('encoder-srt-loss').getAttribute('data-value'))).toBeLessThan(50);
    await waitFor(
      'sound level over SRT',
      async () => Number((await operator.getByTestId('encoder-audio-level').getAttribute('data-value')) || Number.NaN) > -35,
      20_000,
    );
    await expectFits(operator, 'the control room with an SRT feed');
  }, 120_000);
});
