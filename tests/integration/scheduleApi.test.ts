/**
 * The schedule as the operator console sees it: sessions with times, agenda
 * and invitations, checked on the way in; clashes between sessions reported;
 * edits, cancellation and extension; invitation links for every invited
 * point; the current agenda item reaching the room; the calendar as iCalendar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes, type SessionRecord } from '../../protocol/index.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;

const api = (path: string, init: RequestInit & { token?: string; json?: unknown } = {}) =>
  fetch(`${server.url}/api${path}`, {
    ...init,
    body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
  });

const post = (path: string, json: unknown) => api(path, { method: 'POST', token: operator, json });
const patch = (path: string, json: unknown) => api(path, { method: 'PATCH', token: operator, json });

type Listed = SessionRecord & { conflicts: string[]; invitedReach?: number; connectedPoints?: number };
async function listed(query = ''): Promise<Listed[]> {
  const res = await api(`/sessions${query}`, { token: operator });
  expect(res.status).toBe(200);
  return (await res.json()).sessions;
}

const day = Date.parse('2031-03-02T00:00:00+07:00');
const at = (hours: number) => day + hours * 3600_000;

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  operator = await tokenFor(server, '*', 'chanh-vp', 'operator');
  await post('/groups', { id: 'huyen-a', name: 'Huyện A', kind: 'district' });
  await post('/groups', { id: 'huyen-b', name: 'Huyện B', kind: 'district' });
  for (const [id, name, groupIds] of [
    ['xa-1', 'Xã Một', ['huyen-a']],
    ['xa-2', 'Xã Hai', ['huyen-a']],
    ['xa-3', 'Xã Ba', ['huyen-b']],
    ['xa-4', 'Xã Bốn', []],
  ] as const) {
    expect((await post('/points', { id, name, groupIds })).status).toBe(201);
  }
});

afterAll(async () => {
  await server?.stop();
});

describe('creating sessions', () => {
  it.each([
    [
      'an end before the start',
      { startsAt: '2031-03-02T10:00:00+07:00', endsAt: '2031-03-02T09:00:00+07:00' },
      /endsAt: the end must come after the start/,
    ],
    ['an end equal to the start', { startsAt: at(9), endsAt: at(9) }, /endsAt/],
    ['a start that is not a date', { startsAt: 'not-a-date' }, /startsAt/],
    ['a date without an offset', { startsAt: '2031-03-02T08:00:00' }, /startsAt/],
    ['an impossible date', { startsAt: '2031-02-30T08:00:00+07:00' }, /startsAt/],
    ['a negative time', { startsAt: -5 }, /startsAt/],
    ['an unknown time zone', { timeZone: 'Asia/Hanoi_City' }, /timeZone: unknown time zone/],
    ['no title', { title: '' }, /title/],
    ['an agenda item without a title', { agenda: [{ presenter: 'A' }] }, /agenda/],
    [
      'two agenda items with one id',
      {
        agenda: [
          { id: 'a', title: 'A' },
          { id: 'a', title: 'B' },
        ],
      },
      /two items have the id a/,
    ],
    ['an invited point id with a path', { invitedPoints: ['../x'] }, /invitedPoints/],
  ])('refuses %s with 400', async (_name, fields, message) => {
    const res = await post('/sessions', { title: 'Họp', ...fields });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe('bad-request');
    expect(error.message).toMatch(message);
  });

  it('refuses points and groups that are not registered, naming them', async () => {
    const res = await post('/sessions', { title: 'Họp', invitedPoints: ['xa-1', 'xa-ma'], invitedGroups: ['huyen-ma'] });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.message).toContain('invitedPoints: not registered: xa-ma');
    expect(error.message).toContain('invitedGroups: not registered: huyen-ma');
    expect(error.message).not.toContain('xa-1');
  });

  it('creates a scheduled session with an agenda whose items all get ids', async () => {
    const res = await post('/sessions', {
      id: 's-morning',
      title: 'Họp sáng',
      startsAt: '2031-03-02T08:00:00+07:00',
      endsAt: '2031-03-02T10:00:00+07:00',
      agenda: [{ title: 'Khai mạc' }, { id: 'item-1', title: 'Báo cáo', presenter: 'Sở KH-ĐT' }, { title: 'Thảo luận' }],
      invitedPoints: ['xa-1'],
    });
    expect(res.status).toBe(201);
    const session = await res.json();
    expect(session).toMatchObject({
      id: 's-morning',
      status: 'scheduled',
      startsAt: at(8),
      endsAt: at(10),
      timeZone: 'Asia/Ho_Chi_Minh',
      createdBy: 'chanh-vp',
    });
    const ids = session.agenda.map((i: { id: string }) => i.id);
    expect(new Set(ids).size).toBe(3);
    expect(ids[1]).toBe('item-1');
  });

  it('is for operators of every session', async () => {
    const point = await tokenFor(server, 's-morning', 'guest', 'point');
    expect((await api('/sessions', { method: 'POST', token: point, json: { title: 'X' } })).status).toBe(403);
    expect((await api('/sessions', { token: point })).status).toBe(403);
    expect((await api('/sessions')).status).toBe(401);
  });
});

describe('conflicts and the list', () => {
  beforeAll(async () => {
    // xa-1 is in s-morning directly (08-10) and in huyen-a, invited 09-11 by s-overlap-group.
    expect(
      (await post('/sessions', { id: 's-overlap-group', title: 'Huyện A', startsAt: at(9), endsAt: at(11), invitedGroups: ['huyen-a'] }))
        .status,
    ).toBe(201);
    // Same time, other points: no clash.
    expect(
      (
        await post('/sessions', {
          id: 's-other-points',
          title: 'Huyện B',
          startsAt: at(9),
          endsAt: at(10),
          invitedGroups: ['huyen-b'],
          invitedPoints: ['xa-4'],
        })
      ).status,
    ).toBe(201);
    // Same points, right after: touching is not overlapping.
    expect(
      (await post('/sessions', { id: 's-after', title: 'Chiều', startsAt: at(11), endsAt: at(12), invitedPoints: ['xa-2'] })).status,
    ).toBe(201);
    // A clash that was cancelled is no clash.
    expect(
      (await post('/sessions', { id: 's-cancelled', title: 'Hủy', startsAt: at(8), endsAt: at(12), invitedPoints: ['xa-1', 'xa-2'] }))
        .status,
    ).toBe(201);
    expect((await post('/sessions/s-cancelled/cancel', {})).status).toBe(200);
  });

  it('reports sessions that overlap and share a point, directly or through a group', async () => {
    const byId = new Map((await listed()).map((s) => [s.id, s]));
    expect(byId.get('s-morning')!.conflicts).toEqual(['s-overlap-group']);
    expect(byId.get('s-overlap-group')!.conflicts).toEqual(['s-morning']);
    expect(byId.get('s-other-points')!.conflicts).toEqual([]);
    expect(byId.get('s-after')!.conflicts).toEqual([]);
    expect(byId.get('s-cancelled')!.conflicts).toEqual([]);
  });

  it('filters by a time window', async () => {
    const ids = (await listed(`?from=${encodeURIComponent('2031-03-02T10:30:00+07:00')}&to=${at(11) + 1}`)).map((s) => s.id);
    expect(ids).toContain('s-overlap-group');
    expect(ids).toContain('s-after');
    expect(ids).toContain('s-cancelled');
    expect(ids).not.toContain('s-morning');
    expect(ids).not.toContain('s-other-points');
  });

  it.each([['?from=yesterday'], [`?from=${at(10)}&to=${at(9)}`], ['?to=2031-03-02']])('refuses a bad window %s', async (query) => {
    const res = await api(`/sessions${query}`, { token: operator });
    expect(res.status).toBe(400);
  });
});

describe('changing sessions', () => {
  it('changes some fields and keeps the rest', async () => {
    const res = await patch('/sessions/s-after', { title: 'Họp chiều', description: 'Nội dung', public: false });
    expect(res.status).toBe(200);
    const s = await res.json();
    expect(s).toMatchObject({
      id: 's-after',
      title: 'Họp chiều',
      description: 'Nội dung',
      public: false,
      startsAt: at(11),
      endsAt: at(12),
      status: 'scheduled',
    });
  });

  it.each([
    ['an end before the existing start', { endsAt: at(10) }, /endsAt: the end must come after the start/],
    ['a start after the existing end', { startsAt: at(13) }, /endsAt/],
    ['a bad date', { endsAt: 'tomorrow' }, /endsAt/],
    ['an unknown time zone', { timeZone: 'Mars/Olympus' }, /timeZone/],
    ['unknown points', { invitedPoints: ['xa-ma'] }, /xa-ma/],
  ])('refuses %s with 400 and changes nothing', async (_name, body, message) => {
    const res = await patch('/sessions/s-after', body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(message);
    expect(server.sessions.get('s-after')).toMatchObject({ startsAt: at(11), endsAt: at(12), invitedPoints: ['xa-2'] });
  });

  it('moves both times at once', async () => {
    const res = await patch('/sessions/s-after', { startsAt: at(13), endsAt: at(14) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ startsAt: at(13), endsAt: at(14) });
  });

  it('refuses to change, cancel or extend a cancelled session with 409', async () => {
    expect((await patch('/sessions/s-cancelled', { title: 'Lại' })).status).toBe(409);
    expect((await post('/sessions/s-cancelled/cancel', {})).status).toBe(409);
    expect((await post('/sessions/s-cancelled/extend', { minutes: 10 })).status).toBe(409);
  });

  it('refuses to change an ended session with 409', async () => {
    await post('/sessions', { id: 's-done', title: 'Xong' });
    await (await server.sessions.room('s-done')).end();
    await expect.poll(() => server.sessions.get('s-done').status).toBe('ended');
    expect((await patch('/sessions/s-done', { title: 'Lại' })).status).toBe(409);
    expect((await post('/sessions/s-done/cancel', {})).status).toBe(409);
  });

  it('cancels a scheduled session: it never opens, and the calendar says so', async () => {
    await post('/sessions', { id: 's-to-cancel', title: 'Sẽ hủy', startsAt: Date.now() + 1500, endsAt: Date.now() + 60_000 });
    const res = await post('/sessions/s-to-cancel/cancel', {});
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 2500));
    expect(server.sessions.get('s-to-cancel').status).toBe('cancelled');
  });

  it('the schedule counts the points invited (groups included) and, while a session is open, those connected', async () => {
    await post('/sessions', { id: 's-counted', title: 'Đếm điểm cầu', invitedPoints: ['xa-1'], invitedGroups: ['huyen-a'] });
    const counted = async () => (await listed()).find((s) => s.id === 's-counted')!;
    // xa-1 directly and through huyen-a counts once; nobody connected yet, and no room open.
    const before = await counted();
    expect(before.invitedReach).toBe(new Set(['xa-1', ...server.points.members('huyen-a').map((p) => p.id)]).size);
    expect(before.connectedPoints).toBeUndefined();
    const room = await server.sessions.room('s-counted');
    const token = await tokenFor(server, 's-counted', 'khach-dem', 'point');
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    await client.opened();
    expect((await client.request('join', { rtpCapabilities: room.rtpCapabilities })).ok).toBe(true);
    expect((await counted()).connectedPoints).toBe(1);
    client.close();
    await expect.poll(async () => (await counted()).connectedPoints).toBe(0);
  });

  it('cancelling a session people wait in sends them away, and it stays cancelled', async () => {
    await post('/sessions', { id: 's-waiting', title: 'Đang chờ' });
    const room = await server.sessions.room('s-waiting');
    const token = await tokenFor(server, 's-waiting', 'xa-khach', 'point');
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    await client.opened();
    expect((await client.request('join', { rtpCapabilities: room.rtpCapabilities })).ok).toBe(true);
    const res = await post('/sessions/s-waiting/cancel', {});
    expect(res.status).toBe(200);
    expect((await client.closed).code).toBe(closeCodes.sessionEnded);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sessions.get('s-waiting').status).toBe('cancelled');
    expect(await server.sessions.runningRoom('s-waiting')).toBeUndefined();
  });

  it('extends a session on air: the scheduler keeps it open past its old end', async () => {
    const now = Date.now();
    await post('/sessions', { id: 's-extend', title: 'Kéo dài', startsAt: now - 1000, endsAt: now + 2500, autoOnAir: true });
    await expect.poll(() => server.sessions.get('s-extend').status, { timeout: 5000 }).toBe('live');
    expect((await post('/sessions/s-extend/cancel', {})).status).toBe(409);
    expect((await post('/sessions/s-extend/extend', { minutes: 0 })).status).toBe(400);
    expect((await post('/sessions/s-extend/extend', { minutes: 'ten' })).status).toBe(400);
    const res = await post('/sessions/s-extend/extend', { minutes: 15 });
    expect(res.status).toBe(200);
    expect((await res.json()).endsAt).toBe(now + 2500 + 15 * 60_000);
    await new Promise((r) => setTimeout(r, 3500));
    expect(server.sessions.get('s-extend').status).toBe('live');
    // Moving the end back into the past closes it at the next look.
    await patch('/sessions/s-extend', { endsAt: Date.now() - 10 });
    await expect.poll(() => server.sessions.get('s-extend').status, { timeout: 5000 }).toBe('ended');
  });

  it('refuses to extend a session without a scheduled end', async () => {
    await post('/sessions', { id: 's-open', title: 'Không giờ kết thúc' });
    const res = await post('/sessions/s-open/extend', { minutes: 10 });
    expect(res.status).toBe(409);
  });
});

describe('invitations', () => {
  it('gives a link to every invited point, directly and through groups, once each', async () => {
    await post('/sessions', {
      id: 's-invite',
      title: 'Mời',
      startsAt: at(15),
      endsAt: at(16),
      invitedPoints: ['xa-4', 'xa-1'],
      invitedGroups: ['huyen-a'],
    });
    const asked = Date.now();
    const res = await api('/sessions/s-invite/invitations', { token: operator });
    const answered = Date.now();
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.points.map((p: { pointId: string }) => p.pointId).sort()).toEqual(['xa-1', 'xa-2', 'xa-4']);
    expect(body.studio.url).toMatch(/\/studio\?token=/);
    const studio = await server.tokens.verify(new URL(body.studio.url).searchParams.get('token'));
    expect(studio).toMatchObject({ sid: 's-invite', role: 'studio' });
    for (const link of body.points as { pointId: string; name: string; url: string; expiresAt: number }[]) {
      expect(link.url.startsWith(`${server.url}/point?token=`)).toBe(true);
      const claims = await server.tokens.verify(new URL(link.url).searchParams.get('token'));
      expect(claims).toEqual({ sid: 's-invite', sub: link.pointId, role: 'point', name: link.name, ver: 0 });
      // Through the session and 12 hours after it (it is years away): to the second (a token's
      // times are whole seconds), plus however long the server took to sign, which the request spans.
      expect(link.expiresAt).toBeGreaterThan(at(16) + 12 * 3600_000 - 1000);
      expect(link.expiresAt).toBeLessThan(at(16) + 12 * 3600_000 + (answered - asked) + 1000);
    }
  });

  it('a link for a session soon over lasts as long as the server is configured to give links (DIEMCAU_TOKEN_TTL_HOURS)', async () => {
    await post('/sessions', {
      id: 's-soon',
      title: 'Sắp xong',
      startsAt: Date.now() + 60_000,
      endsAt: Date.now() + 120_000,
      invitedPoints: ['xa-3'],
    });
    const asked = Date.now();
    const { points } = await (await api('/sessions/s-soon/invitations', { token: operator })).json();
    const answered = Date.now();
    expect(points).toHaveLength(1);
    // The configured lifetime from when it was signed, which happened during the request (to the second: a token's times are whole seconds).
    const lifetime = server.config.tokenTtlHours * 3600_000;
    expect(lifetime).toBeGreaterThan(24 * 3600_000);
    expect(points[0].expiresAt).toBeGreaterThan(asked + lifetime - 1000);
    expect(points[0].expiresAt).toBeLessThanOrEqual(answered + lifetime);
  });

  it('members added to a group later are invited too', async () => {
    await post('/points', { id: 'xa-5', name: 'Xã Năm', groupIds: ['huyen-a'] });
    const { points } = await (await api('/sessions/s-invite/invitations', { token: operator })).json();
    expect(points.map((p: { pointId: string }) => p.pointId)).toContain('xa-5');
  });

  it('a point may not list invitations', async () => {
    const token = await tokenFor(server, 's-invite', 'guest', 'point');
    expect((await api('/sessions/s-invite/invitations', { token })).status).toBe(403);
  });
});

describe('the current agenda item', () => {
  it('reaches the room and the record; null clears it', async () => {
    await post('/sessions', {
      id: 's-agenda',
      title: 'Chương trình',
      agenda: [
        { id: 'mo-dau', title: 'Mở đầu' },
        { id: 'bao-cao', title: 'Báo cáo' },
      ],
    });
    const room = await server.sessions.room('s-agenda');
    const res = await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token: operator, json: { itemId: 'bao-cao' } });
    expect(res.status).toBe(200);
    expect((await res.json()).currentAgendaItem).toBe('bao-cao');
    expect((await server.sessions.room('s-agenda')).snapshot().agendaItem).toEqual({ id: 'bao-cao', title: 'Báo cáo' });
    expect(room.snapshot().agendaItem?.id).toBe('bao-cao');

    const bad = await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token: operator, json: { itemId: 'khong-co' } });
    expect(bad.status).toBe(400);
    expect((await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token: operator, json: {} })).status).toBe(400);

    await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token: operator, json: { itemId: null } });
    expect(room.snapshot().agendaItem).toBeNull();
    expect(server.sessions.get('s-agenda').currentAgendaItem).toBeUndefined();
  });

  it('an item removed from the agenda stops being current', async () => {
    await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token: operator, json: { itemId: 'mo-dau' } });
    const res = await patch('/sessions/s-agenda', { agenda: [{ id: 'bao-cao', title: 'Báo cáo' }, { title: 'Kết luận' }] });
    expect(res.status).toBe(200);
    const s = await res.json();
    expect(s.agenda.map((i: { id: string }) => i.id)).toEqual(['bao-cao', 'item-1']);
    expect(s.currentAgendaItem).toBeUndefined();
    expect((await server.sessions.room('s-agenda')).snapshot().agendaItem).toBeNull();
  });

  it('is refused to a point', async () => {
    const token = await tokenFor(server, 's-agenda', 'guest', 'point');
    expect((await api('/sessions/s-agenda/agenda/current', { method: 'PUT', token, json: { itemId: null } })).status).toBe(403);
  });
});

/** Unfolds and splits an iCalendar text into its events' properties. */
function parseIcs(text: string): { calendar: Record<string, string>; events: Record<string, string>[] } {
  const lines = text
    .replace(/\r\n[ \t]/g, '')
    .split('\r\n')
    .filter(Boolean);
  const calendar: Record<string, string> = {};
  const events: Record<string, string>[] = [];
  let current: Record<string, string> | null = null;
  const depth: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    if (name === 'BEGIN') {
      depth.push(value);
      if (value === 'VEVENT') events.push((current = {}));
    } else if (name === 'END') {
      expect(depth.pop()).toBe(value);
      if (value === 'VEVENT') current = null;
    } else (current ?? calendar)[name] = value;
  }
  expect(depth).toEqual([]);
  return { calendar, events };
}

describe('the calendar', () => {
  beforeAll(async () => {
    await post('/sessions', {
      id: 's-ics',
      title: 'Họp HĐND; kỳ họp thứ 7, phiên bế mạc — tổng kết công tác năm và kế hoạch năm sau của toàn tỉnh',
      description: 'Dòng một\nDòng hai',
      startsAt: '2031-03-03T08:30:00+07:00',
      endsAt: '2031-03-03T11:00:00+07:00',
      public: true,
    });
    await post('/sessions', { id: 's-private', title: 'Họp kín', startsAt: at(30), endsAt: at(31), public: false });
  });

  it('gives operators every session, cancelled ones marked, as valid iCalendar', async () => {
    const res = await fetch(`${server.url}/api/calendar.ics?token=${operator}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/calendar; charset=utf-8/);
    const text = await res.text();
    // CRLF everywhere, and no line longer than 75 octets.
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);

    const { calendar, events } = parseIcs(text);
    expect(calendar).toMatchObject({ VERSION: '2.0', 'X-WR-TIMEZONE': 'Asia/Ho_Chi_Minh' });
    const byUid = new Map(events.map((e) => [e.UID, e]));
    const ics = byUid.get('s-ics@diemcau')!;
    expect(ics).toMatchObject({ DTSTART: '20310303T013000Z', DTEND: '20310303T040000Z', STATUS: 'CONFIRMED' });
    expect(ics.SUMMARY).toBe('Họp HĐND\\; kỳ họp thứ 7\\, phiên bế mạc — tổng kết công tác năm và kế hoạch năm sau của toàn tỉnh');
    expect(ics.DESCRIPTION).toContain('Dòng một\\nDòng hai');
    expect(byUid.get('s-morning@diemcau')).toMatchObject({ DTSTART: '20310302T010000Z', SUMMARY: 'Họp sáng' });
    expect(byUid.get('s-cancelled@diemcau')!.STATUS).toBe('CANCELLED');
    expect(byUid.has('s-private@diemcau')).toBe(true);
    // Sessions without a start are not events.
    expect(byUid.has('s-open@diemcau')).toBe(false);
  });

  it('folds long lines without cutting a character in two', async () => {
    const text = await (await fetch(`${server.url}/api/calendar.ics?token=${operator}`)).text();
    const bytes = Buffer.from(text, 'utf8');
    expect(bytes.toString('utf8')).toBe(text);
    expect(text).toMatch(/\r\n [^\r\n]/);
  });

  it('publishes public sessions without a token', async () => {
    const res = await fetch(`${server.url}/api/calendar/public.ics`);
    expect(res.status).toBe(200);
    const { events } = parseIcs(await res.text());
    const uids = events.map((e) => e.UID);
    expect(uids).toContain('s-ics@diemcau');
    expect(uids).not.toContain('s-private@diemcau');
    expect(uids).not.toContain('s-after@diemcau'); // made private above
  });

  it('needs an operator token for the full calendar, in the query, a cookie or a bearer', async () => {
    expect((await fetch(`${server.url}/api/calendar.ics`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/calendar.ics?token=nonsense`)).status).toBe(401);
    const point = await tokenFor(server, 's-ics', 'guest', 'point');
    expect((await fetch(`${server.url}/api/calendar.ics?token=${point}`)).status).toBe(403);
    expect((await fetch(`${server.url}/api/calendar.ics`, { headers: { authorization: `Bearer ${operator}` } })).status).toBe(200);
    expect((await fetch(`${server.url}/api/calendar.ics`, { headers: { cookie: `diemcau_operator=${operator}` } })).status).toBe(200);
  });
});

describe('audit', () => {
  it('records session changes with the operator as actor', async () => {
    const entries = await server.audit.read();
    const seen = entries.filter((e) => e.actor === 'chanh-vp').map((e) => `${e.action} ${e.sessionId ?? ''}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'session.create s-morning',
        'session.update s-after',
        'session.cancel s-cancelled',
        'session.extend s-extend',
        'agenda.current s-agenda',
      ]),
    );
    const extend = entries.find((e) => e.action === 'session.extend');
    expect(extend?.details).toMatchObject({ minutes: 15 });
  });
});
