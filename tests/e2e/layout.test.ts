/**
 * Every screen fits: the studio, a point, the control room, the schedule, the
 * session editor, the watch list and the player, in Vietnamese and English,
 * at a phone's, a tablet's, a laptop's and a wide screen's width, with a
 * session on air (a studio and a point in real Chromium tabs, so the roll
 * call has its action buttons and the pages their program video). On each
 * the page does not scroll sideways, every visible control lies within the
 * window, and no clipping container hides part of a control. A screenshot of
 * each page, width and language is kept under test-artifacts/layout/. The
 * Vietnamese pages are scanned for the UI's English phrases.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorsOf, launchBrowser, newPage, signInAt } from '../helpers/browser.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import en from '../../web/src/i18n/en.js';
import vi from '../../web/src/i18n/vi.js';

/**
 * The UI's English phrases (two words or more, no placeholders) that the
 * Vietnamese UI words differently: none may show on a Vietnamese page.
 */
const englishPhrases = (() => {
  const flat = (o: unknown, prefix = ''): [string, string][] =>
    typeof o === 'string'
      ? [[prefix, o]]
      : Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => flat(v, prefix ? `${prefix}.${k}` : k));
  const vietnamese = new Map(flat(vi));
  // Quoted on purpose in a Vietnamese string (an encoder's own field name, e.g. "Khóa luồng (Stream key)"): not a leak.
  const quoted = (phrase: string) => [...vietnamese.values()].some((text) => text.includes(phrase));
  return [
    ...new Set(
      flat(en)
        .filter(([key, text]) => vietnamese.get(key) !== text && !/[{}<]/.test(text) && /\p{L}+ \p{L}+/u.test(text) && !quoted(text))
        .map(([, text]) => text),
    ),
  ];
})();

const widths = [390, 768, 1280, 1920];
const languages = ['vi', 'en'] as const;
const sid = 'giao-ban-thang-11';
const admin = { username: 'dieu-hanh', password: 'mat-khau-dieu-hanh' };
const artefacts = path.resolve('test-artifacts', 'layout');

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let studio: Page;
let point: Page;
let operator: Page;

/** The same link on the test server's own origin. */
function onServer(url: string): string {
  const u = new URL(url);
  return `${server.url}${u.pathname}${u.search}`;
}

/** What does not fit on the page as it is now: empty when everything does. */
function misfits(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = window.innerWidth;
    const doc = document.documentElement;
    if (doc.scrollWidth > width) problems.push(`page scrolls sideways: scrollWidth ${doc.scrollWidth} > ${width}`);
    const describe = (el: Element) => {
      const id = el.getAttribute('data-testid');
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 30);
      return `<${el.tagName.toLowerCase()}${id ? ` data-testid=${id}` : ''}${el.className && typeof el.className === 'string' ? ` class="${el.className}"` : ''}> "${text}"`;
    };
    const visible = (el: Element) => {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) return false;
      const style = getComputedStyle(el);
      return style.visibility !== 'hidden' && style.display !== 'none' && Number(style.opacity) !== 0;
    };
    const controls = [...document.querySelectorAll('button, a, input, select, textarea, [data-testid]')].filter(visible);
    for (const el of controls) {
      const box = el.getBoundingClientRect();
      if (box.left < -0.5 || box.right > width + 0.5)
        problems.push(`${describe(el)} at [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
    // A container that clips (or scrolls) sideways and holds a control that does not fit in it.
    for (const el of document.querySelectorAll('body *')) {
      if (['INPUT', 'TEXTAREA', 'SELECT', 'VIDEO', 'svg'].includes(el.tagName)) continue;
      const style = getComputedStyle(el);
      if (!['hidden', 'auto', 'scroll', 'clip'].includes(style.overflowX)) continue;
      if (el.scrollWidth <= el.clientWidth + 1 || !visible(el)) continue;
      const outer = el.getBoundingClientRect();
      const cut = [...el.querySelectorAll('button, a, input, select')].filter(visible).find((c) => {
        const box = c.getBoundingClientRect();
        return box.left < outer.left - 0.5 || box.right > outer.right + 0.5;
      });
      if (cut) problems.push(`${describe(el)} clips ${describe(cut)} (scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth})`);
    }
    return problems;
  });
}

interface Screen {
  name: string;
  page: () => Page;
  /** Opens the page (once); it stays open for every width and language. */
  open?: (page: Page) => Promise<void>;
  /** What shows once the page has its real content. */
  ready: string;
}

const screens: Screen[] = [
  { name: 'studio', page: () => studio, ready: 'on-air' },
  { name: 'point', page: () => point, ready: 'raise-hand' },
  {
    name: 'control-room',
    page: () => operator,
    open: (p) => p.goto(`${server.url}/console/sessions/${sid}/live`).then(() => undefined),
    ready: 'rollcall-mute-xa-tan-phu',
  },
  {
    name: 'schedule',
    page: () => operator,
    open: (p) => p.goto(`${server.url}/console/schedule`).then(() => undefined),
    ready: `schedule-item-${sid}`,
  },
  {
    name: 'session-editor',
    page: () => operator,
    open: (p) => p.goto(`${server.url}/console/sessions/${sid}`).then(() => undefined),
    ready: 'session-title',
  },
  { name: 'watch-list', page: () => operator, open: (p) => p.goto(`${server.url}/watch`).then(() => undefined), ready: 'watch-live' },
  {
    name: 'player',
    page: () => operator,
    open: async (p) => {
      await p.goto(`${server.url}/watch/${sid}`);
      // The live program, from the session's recording as it is made.
      await p.locator('[data-testid="watch-mode"][data-mode="live"]').waitFor({ timeout: 30_000 });
    },
    ready: 'watch-title',
  },
];

beforeAll(async () => {
  fs.rmSync(artefacts, { recursive: true, force: true });
  fs.mkdirSync(artefacts, { recursive: true });
  server = await startServer({ workers: 2, adminUser: admin.username, adminPassword: admin.password, autoRecord: true });
  const now = Date.now();
  await server.sessions.create({
    id: sid,
    title: 'Giao ban trực tuyến tình hình phòng chống thiên tai tháng 11',
    startsAt: now - 60_000,
    endsAt: now + 3600_000,
  });
  browser = await launchBrowser();

  studio = await newPage(browser, server.url);
  await studio.goto(onServer(await server.invitation({ sid, sub: 'studio', role: 'studio', name: 'Hội trường Ủy ban nhân dân tỉnh' })));
  await studio.getByTestId('join').click();
  await studio.getByTestId('go-live').click({ timeout: 20_000 });
  const room = await server.sessions.room(sid);
  await waitFor('session on air', () => room.status === 'live', 20_000);

  point = await newPage(browser, server.url);
  await point.goto(onServer(await server.invitation({ sid, sub: 'xa-tan-phu', role: 'point', name: 'Ủy ban nhân dân xã Tân Phú Đông' })));
  await point.getByTestId('join').click();
  await waitFor('point present', () => [...room.peers.values()].some((p) => p.identity === 'xa-tan-phu'), 20_000);

  operator = await newPage(browser, server.url);
  await operator.setViewportSize({ width: 1280, height: 800 });
  await signInAt(operator, `${server.url}/console/schedule`, admin);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('every screen fits at every width, in both languages', () => {
  for (const screen of screens) {
    it(`${screen.name}: no sideways scroll, no control outside the window or clipped`, async () => {
      const page = screen.page();
      await screen.open?.(page);
      const failures: string[] = [];
      for (const width of widths) {
        await page.setViewportSize({ width, height: width < 768 ? 844 : 900 });
        for (const lang of languages) {
          // The switch is pressed from script: a switch pushed out of the window is what the checks below report.
          await page.getByTestId(`lang-${lang}`).dispatchEvent('click');
          await page.waitForFunction((l) => document.documentElement.lang === l, lang);
          await page.getByTestId(screen.ready).first().waitFor({ state: 'visible', timeout: 20_000 });
          // Layout settles on the next frame after the language or width changes.
          await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
          await page.screenshot({ path: path.join(artefacts, `${screen.name}-${width}-${lang}.png`), fullPage: true });
          for (const problem of await misfits(page)) failures.push(`${width}px ${lang}: ${problem}`);
          if (lang === 'vi' && width === 1280) {
            const text = await page.evaluate(() => document.body.innerText);
            for (const phrase of englishPhrases) if (text.includes(phrase)) failures.push(`English in the Vietnamese page: “${phrase}”`);
          }
        }
      }
      expect(failures).toEqual([]);
      expect(errorsOf(page)).toEqual([]);
    }, 120_000);
  }

  it('keeps a screenshot of each page, width and language', () => {
    console.log(`layout screenshots: ${artefacts}`);
    expect(fs.readdirSync(artefacts).filter((f) => f.endsWith('.png'))).toHaveLength(screens.length * widths.length * languages.length);
  });
});
