/**
 * The operator console in real Chromium tabs: the operator signs in, registers
 * two commune points and a group, schedules a session with an agenda in the
 * editor, attaches a PDF and hands out the invitation links; the points join;
 * the control room's roll call shows them with their link figures; the agenda
 * moves on and the points see it; a point opens the document; the admin
 * creates an observer account in the Accounts page and signs out, and the
 * observer signs in and sees the live control room without a button that
 * acts; one point leaves; the session ends and the attendance report lists
 * both points.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorsOf, launchBrowser, newPage } from '../helpers/browser.js';
import { sleep, waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { csvRecords } from '../helpers/csv.js';

let server: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let operator: Page;
let pointA: Page;
let pointB: Page;
let sid = '';
const links: Record<string, string> = {};

const zone = 'Asia/Ho_Chi_Minh';
const agendaTitles = ['Báo cáo tình hình kinh tế - xã hội', 'Thảo luận kế hoạch phòng chống lụt bão'];

/** A datetime-local value ("2026-12-01T08:00") for an instant, in the province's time zone. */
function localInput(ms: number): string {
  const parts: Record<string, string> = {};
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  });
  for (const p of format.formatToParts(new Date(ms))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** A tiny but well-formed one-page PDF. */
function tinyPdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>',
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/** The same link on the test server's own origin. */
function onServer(url: string): string {
  const u = new URL(url);
  return `${server.url}${u.pathname}${u.search}`;
}

/** Reads a numeric data-value attribute; NaN when empty. */
async function numberAttr(page: Page, testid: string): Promise<number> {
  const v = await page
    .getByTestId(testid)
    .getAttribute('data-value', { timeout: 2000 })
    .catch(() => null);
  return v === null || v === '' ? Number.NaN : Number(v);
}

beforeAll(async () => {
  server = await startServer({ workers: 2, adminUser: 'dieu-hanh', adminPassword: 'mat-khau-dieu-hanh' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the operator console', () => {
  it('asks for sign-in, refuses a wrong password and lets the operator in', async () => {
    operator = await newPage(browser, server.url);
    await operator.goto(`${server.url}/console/points`);
    await operator.waitForURL((url) => url.pathname === '/console/sign-in', { timeout: 15_000 });
    expect(new URL(operator.url()).searchParams.get('next')).toBe('/console/points');

    await operator.getByTestId('sign-in-username').fill('dieu-hanh');
    await operator.getByTestId('sign-in-password').fill('sai-mat-khau');
    await operator.getByTestId('sign-in-submit').click();
    await operator.getByTestId('sign-in-error').waitFor({ timeout: 10_000 });
    expect(new URL(operator.url()).pathname).toBe('/console/sign-in');

    await operator.getByTestId('sign-in-password').fill('mat-khau-dieu-hanh');
    await operator.getByTestId('sign-in-submit').click();
    // Back where the operator was going.
    await operator.waitForURL((url) => url.pathname === '/console/points', { timeout: 10_000 });
    await expect.poll(() => operator.getByTestId('operator-name').textContent(), { timeout: 10_000 }).toContain('Quản trị');
    await operator.getByTestId('sign-out').waitFor();
  });

  it('registers a group and two connection points', async () => {
    await operator.getByTestId('group-add').click();
    await operator.getByTestId('group-name').fill('Huyện Tân Châu');
    await operator.getByTestId('group-id').fill('tan-chau');
    await operator.getByTestId('group-kind').selectOption('district');
    await operator.getByTestId('group-save').click();
    await operator.getByTestId('group-row-tan-chau').waitFor({ timeout: 10_000 });

    for (const [id, name] of [
      ['tan-phu', 'Xã Tân Phú'],
      ['an-binh', 'Xã An Bình'],
    ] as const) {
      await operator.getByTestId('point-add').click();
      await operator.getByTestId('point-name').fill(name);
      await operator.getByTestId('point-id').fill(id);
      await operator.getByTestId('point-district').fill('Tân Châu');
      await operator.getByTestId('point-group-tan-chau').check();
      await operator.getByTestId('point-save').click();
      await operator.getByTestId(`point-row-${id}`).waitFor({ timeout: 10_000 });
      expect(await operator.getByTestId(`point-row-${id}`).textContent()).toContain(name);
    }

    // What the server now holds (the request carries the operator's cookie).
    const points = (await (await operator.request.get(`${server.url}/api/points`)).json()) as {
      points: { id: string; district?: string; groupIds: string[]; disabled: boolean }[];
    };
    expect(points.points.map((p) => p.id).sort()).toEqual(['an-binh', 'tan-phu']);
    for (const p of points.points) {
      expect(p.district).toBe('Tân Châu');
      expect(p.groupIds).toEqual(['tan-chau']);
      expect(p.disabled).toBe(false);
    }
  });

  it('schedules a session in the editor: now for an hour, two agenda items, both points invited', async () => {
    await operator.goto(`${server.url}/console/sessions/new`);
    const now = Date.now();
    await operator.getByTestId('session-title').fill('Hội nghị giao ban trực tuyến');
    // Typed as the console writes dates, whatever the browser's language: dd/mm/yyyy and a 24-hour clock.
    for (const [field, at] of [
      ['session-start', now],
      ['session-end', now + 3600_000],
    ] as const) {
      const [date, time] = localInput(at).split('T');
      const [y, m, d] = date.split('-');
      await operator.getByTestId(`${field}-date`).fill(`${d}/${m}/${y}`);
      await operator.getByTestId(`${field}-time`).fill(time);
    }
    for (let i = 0; i < agendaTitles.length; i++) {
      await operator.getByTestId('agenda-add').click();
      await operator.getByTestId(`agenda-title-${i}`).fill(agendaTitles[i]);
      await operator.getByTestId(`agenda-presenter-${i}`).fill(i === 0 ? 'Văn phòng UBND tỉnh' : 'Sở Nông nghiệp');
    }
    await operator.getByTestId('invite-point-tan-phu').check();
    await operator.getByTestId('invite-point-an-binh').check();
    await operator.getByTestId('session-save').click();

    // Saved: the editor moves to the session's own address.
    await operator.waitForURL((url) => /^\/console\/sessions\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith('/new'), {
      timeout: 10_000,
    });
    sid = new URL(operator.url()).pathname.split('/').pop()!;
    expect(sid).not.toBe('new');
    await operator.getByTestId('session-saved').waitFor({ timeout: 10_000 });

    const { session } = (await (await operator.request.get(`${server.url}/api/sessions/${sid}`)).json()) as {
      session: {
        title: string;
        startsAt: number;
        endsAt: number;
        timeZone: string;
        agenda: { id: string; title: string }[];
        invitedPoints: string[];
      };
    };
    expect(session.title).toBe('Hội nghị giao ban trực tuyến');
    expect(session.timeZone).toBe(zone);
    // The inputs were read in the province's zone: the start is this very minute.
    expect(Math.abs(session.startsAt - now)).toBeLessThan(90_000);
    expect(session.endsAt - session.startsAt).toBe(3600_000);
    expect(session.agenda.map((i) => i.title)).toEqual(agendaTitles);
    expect([...session.invitedPoints].sort()).toEqual(['an-binh', 'tan-phu']);
  });

  it('attaches a PDF to the second agenda item and refuses a file that is not one', async () => {
    await operator.getByTestId('document-item').selectOption({ index: 2 });
    await operator.getByTestId('document-upload').setInputFiles({ name: 'ke-hoach.pdf', mimeType: 'application/pdf', buffer: tinyPdf() });
    await operator.getByTestId('document-row-0').waitFor({ timeout: 10_000 });
    expect(await operator.getByTestId('document-row-0').textContent()).toContain('ke-hoach.pdf');
    expect(await operator.getByTestId('document-row-0').textContent()).toContain(agendaTitles[1]);

    await operator
      .getByTestId('document-upload')
      .setInputFiles({ name: 'ghi-chu.txt', mimeType: 'text/plain', buffer: Buffer.from('không phải PDF') });
    await operator.getByTestId('document-error').waitFor({ timeout: 10_000 });
    expect(await operator.getByTestId('document-error').textContent()).toContain('ghi-chu.txt');
    expect(await operator.getByTestId('document-row-1').count()).toBe(0);
  });

  it('shows one invitation link per invited point', async () => {
    for (const id of ['tan-phu', 'an-binh']) {
      const input = operator.getByTestId(`invitation-link-${id}`);
      await input.waitFor({ timeout: 10_000 });
      links[id] = await input.inputValue();
      expect(links[id]).toMatch(/\/point\?token=[\w-]+\.[\w-]+\.[\w-]+$/);
    }
    expect(links['tan-phu']).not.toBe(links['an-binh']);
  });

  it('both points join with their links', async () => {
    pointA = await newPage(browser, server.url);
    pointB = await newPage(browser, server.url);
    await pointA.goto(onServer(links['tan-phu']));
    await pointB.goto(onServer(links['an-binh']));
    await pointA.getByTestId('join').click();
    await pointB.getByTestId('join').click();
    for (const page of [pointA, pointB]) {
      await waitFor(
        'point connected',
        async () => (await page.getByTestId('connection-state').getAttribute('data-state')) === 'live',
        30_000,
      );
    }
    // The scheduler opened the session at its start, in pre-show: the points wait, nothing is on air yet.
    await expect.poll(() => server.sessions.get(sid).status, { timeout: 20_000 }).toBe('waiting');
    expect(await pointA.getByTestId('session-status').getAttribute('data-status')).toBe('waiting');
  });

  it('the control room roll call shows both points present with their link figures', async () => {
    await operator.goto(`${server.url}/console/sessions/${sid}/live`);
    for (const id of ['tan-phu', 'an-binh']) {
      const row = operator.getByTestId(`rollcall-row-${id}`);
      await row.waitFor({ timeout: 20_000 });
      await waitFor(`${id} present`, async () => (await row.getAttribute('data-state')) === 'present', 20_000);
      await waitFor(`${id} sends media`, async () => (await numberAttr(operator, `rollcall-bitrate-in-${id}`)) > 0, 20_000);
      expect(['good', 'fair', 'poor', 'unknown']).toContain(await row.getAttribute('data-grade'));
      await operator.getByTestId(`rollcall-give-floor-${id}`).waitFor();
      await operator.getByTestId(`rollcall-mute-${id}`).waitFor();
      await operator.getByTestId(`rollcall-remove-${id}`).waitFor();
    }
    // Once figures come in, the round trip is measured too (RTCP or the browser's report).
    await waitFor('rtt measured', async () => (await numberAttr(operator, 'rollcall-rtt-tan-phu')) >= 0, 20_000);
    expect(await operator.getByTestId('rollcall-present-count').textContent()).toContain('2/2');
    // Everyone is ready: the operator puts the session on air.
    await operator.getByTestId('go-live').click();
    for (const page of [pointA, pointB]) {
      await waitFor(
        'session on air',
        async () => (await page.getByTestId('session-status').getAttribute('data-status')) === 'live',
        20_000,
      );
    }
  });

  it('the operator moves to agenda item 2 and the points see it', async () => {
    const select = operator.getByTestId('agenda-current');
    await select.selectOption({ label: `2. ${agendaTitles[1]}` });
    for (const page of [pointA, pointB]) {
      await expect
        .poll(
          () =>
            page
              .getByTestId('current-agenda')
              .textContent()
              .catch(() => ''),
          { timeout: 15_000 },
        )
        .toContain(agendaTitles[1]);
    }
    await expect.poll(() => select.inputValue(), { timeout: 10_000 }).not.toBe('');
  });

  it('the operator mutes a point from the roll call and gives it its voice back', async () => {
    const mute = operator.getByTestId('rollcall-mute-tan-phu');
    await mute.click();
    await expect.poll(() => mute.getAttribute('data-muted'), { timeout: 10_000 }).toBe('true');
    const room = await server.sessions.room(sid);
    expect(room.snapshot().peers.find((p) => p.identity === 'tan-phu')?.muted).toBe(true);
    await mute.click();
    await expect.poll(() => mute.getAttribute('data-muted'), { timeout: 10_000 }).toBe('false');
  });

  it('a point opens the session document: a PDF', async () => {
    const link = pointA.getByTestId('document-link-0');
    await link.waitFor({ timeout: 15_000 });
    expect(await link.textContent()).toContain('ke-hoach.pdf');
    expect(await link.getAttribute('target')).toBe('_blank');
    const href = await link.getAttribute('href');
    expect(href).toMatch(/^\/api\/documents\/[^?]+\?token=/);
    // The point's own tab: no operator cookie, only its invitation token in the link.
    const res = await pointA.request.get(new URL(href!, server.url).toString());
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('application/pdf');
    expect((await res.body()).subarray(0, 5).toString('latin1')).toBe('%PDF-');
  });

  it('the admin creates an observer in the Accounts page; the observer signs in and sees the control room without action buttons', async () => {
    await operator.goto(`${server.url}/console`);
    await operator.getByTestId('nav-accounts').click();
    await operator.waitForURL((url) => url.pathname === '/console/accounts', { timeout: 10_000 });
    await operator.getByTestId('account-row-dieu-hanh').waitFor({ timeout: 10_000 });
    await operator.getByTestId('account-add').click();
    await operator.getByTestId('account-display-name').fill('Thanh tra tỉnh');
    // The username follows the display name, without accents.
    await expect.poll(() => operator.getByTestId('account-username').inputValue(), { timeout: 5000 }).toBe('thanh-tra-tinh');
    await operator.getByTestId('account-username').fill('thanh-tra');
    await operator.getByTestId('account-role-option-observer').check();
    await operator.getByTestId('account-password-generate').check();
    await operator.getByTestId('account-save').click();
    const shown = operator.getByTestId('account-created-password');
    await shown.waitFor({ timeout: 10_000 });
    const password = (await shown.textContent())!.trim();
    expect(password.length).toBeGreaterThanOrEqual(16);
    const row = operator.getByTestId('account-row-thanh-tra');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-role')).toBe('observer');
    expect(await row.getAttribute('data-disabled')).toBe('false');
    await operator.getByTestId('account-created-done').click();
    expect(await shown.count()).toBe(0);

    await operator.getByTestId('sign-out').click();
    await operator.waitForURL((url) => url.pathname === '/console/sign-in', { timeout: 10_000 });
    await operator.getByTestId('sign-in-username').fill('thanh-tra');
    await operator.getByTestId('sign-in-password').fill(password);
    await operator.getByTestId('sign-in-submit').click();
    await operator.waitForURL((url) => url.pathname === '/console', { timeout: 10_000 });
    await expect.poll(() => operator.getByTestId('operator-role').textContent(), { timeout: 10_000 }).toContain('Quan sát');
    // The observer's navigation: no accounts, no points, no new session.
    await operator.getByTestId('nav-schedule').waitFor();
    for (const hidden of ['nav-accounts', 'nav-points', 'nav-new-session'])
      expect(await operator.getByTestId(hidden).count(), hidden).toBe(0);

    await operator.getByTestId(`session-live-${sid}`).click();
    await operator.waitForURL((url) => url.pathname === `/console/sessions/${sid}/live`, { timeout: 10_000 });
    await operator.getByTestId('read-only').waitFor({ timeout: 15_000 });
    await waitFor(
      'observer connected',
      async () => (await operator.getByTestId('connection-state').getAttribute('data-state')) === 'live',
      30_000,
    );
    const present = operator.getByTestId('rollcall-row-tan-phu');
    await present.waitFor({ timeout: 20_000 });
    await waitFor('tan-phu present for the observer', async () => (await present.getAttribute('data-state')) === 'present', 20_000);
    await waitFor('figures for the observer', async () => (await numberAttr(operator, 'rollcall-bitrate-in-tan-phu')) > 0, 20_000);
    expect(await operator.getByTestId('session-title').textContent()).toContain('Hội nghị giao ban trực tuyến');
    for (const action of [
      'rollcall-give-floor-tan-phu',
      'rollcall-take-floor-tan-phu',
      'rollcall-mute-tan-phu',
      'rollcall-remove-tan-phu',
      'go-live',
      'end-session',
      'recording-start',
      'recording-stop',
      'agenda-current',
      'agenda-next',
      'live-editor-link',
    ]) {
      expect(await operator.getByTestId(action).count(), action).toBe(0);
    }

    // The admin takes the control room back for the rest of the session.
    await operator.getByTestId('sign-out').click();
    await operator.waitForURL((url) => url.pathname === '/console/sign-in', { timeout: 10_000 });
    await operator.getByTestId('sign-in-username').fill('dieu-hanh');
    await operator.getByTestId('sign-in-password').fill('mat-khau-dieu-hanh');
    await operator.getByTestId('sign-in-submit').click();
    await operator.waitForURL((url) => url.pathname === '/console', { timeout: 10_000 });
    await operator.goto(`${server.url}/console/sessions/${sid}/live`);
    await operator.getByTestId('rollcall-give-floor-tan-phu').waitFor({ timeout: 20_000 });
    await operator.getByTestId('end-session').waitFor({ timeout: 10_000 });
  });

  it('a point that closes its page is shown as having left', async () => {
    await pointB.close();
    const row = operator.getByTestId('rollcall-row-an-binh');
    await waitFor('an-binh left', async () => (await row.getAttribute('data-state')) === 'left', 30_000);
    expect(await operator.getByTestId('rollcall-row-tan-phu').getAttribute('data-state')).toBe('present');
  });

  it('the operator ends the session; the attendance report lists both points with their times', async () => {
    // Attendance times have a one-second resolution: keep the two departures apart.
    await sleep(1500);
    operator.once('dialog', (d) => void d.accept());
    await operator.getByTestId('end-session').click();
    await operator.getByTestId('live-ended').waitFor({ timeout: 15_000 });
    await waitFor(
      'tan-phu left',
      async () => (await operator.getByTestId('rollcall-row-tan-phu').getAttribute('data-state')) === 'left',
      20_000,
    );

    const res = await operator.request.get(`${server.url}/api/sessions/${sid}/attendance.csv`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('text/csv');
    const rows = csvRecords(await res.text());
    const byId = Object.fromEntries(rows.map((r) => [r.identity, r]));
    for (const id of ['tan-phu', 'an-binh']) {
      const r = byId[id];
      expect(r, `${id} in the report`).toBeDefined();
      const joined = Date.parse(r.first_joined);
      const left = Date.parse(r.last_left);
      expect(Number.isFinite(joined)).toBe(true);
      expect(Number.isFinite(left)).toBe(true);
      expect(joined).toBeLessThan(left);
      // A few seconds of presence: a small number, rounded.
      expect(Number(r.minutes_present)).toBeGreaterThanOrEqual(0);
      expect(r.intervals).toContain('/');
    }
    expect(byId['tan-phu'].name).toBe('Xã Tân Phú');
    expect(Date.parse(byId['an-binh'].last_left)).toBeLessThan(Date.parse(byId['tan-phu'].last_left));
  });

  it('the operator leaves the control room of the ended session; no page threw an error all along', async () => {
    await operator.getByTestId('nav-schedule').click();
    await operator.waitForURL((url) => url.pathname === '/console/schedule', { timeout: 10_000 });
    await expect.poll(() => operator.evaluate(() => document.querySelector('[data-testid="live-ended"]') === null)).toBe(true);
    for (const page of [operator, pointA]) expect(errorsOf(page)).toEqual([]);
  });
});
