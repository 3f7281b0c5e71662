/**
 * Operator accounts with roles, against a real server over HTTP and
 * WebSocket: an admin creates an operator and an observer; the observer
 * reads but every acting route refuses it (the list comes from the served
 * OpenAPI document); the operator cannot manage accounts; a disabled,
 * demoted or deleted account's cookie, tokens and open sockets stop working
 * at once; the last enabled admin cannot be removed; every account action is
 * in the audit log with its actor; bad input gets typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes, type Account, type AccountCreated, type AuditEntry } from '../../protocol/index.js';
import { rawRequest, type RawResponse } from '../helpers/attackClient.js';
import { startServer } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

type Operation = {
  'x-diemcau-accounts': string[] | 'anyone';
  'x-diemcau-access': 'public' | 'action' | 'all-sessions' | 'account' | 'token';
  requestBody?: { content: Record<string, unknown> };
};

let server: Awaited<ReturnType<typeof startServer>>;
const admin = { username: 'quan-tri', password: 'mat-khau-quan-tri' };
const sid = 'giao-ban';

interface Credentials {
  token: string;
  /** name=value, for requests made as the console makes them. */
  cookie: string;
}

/** One request over its own connection; a bearer token, or the cookie with this site's Origin (as a browser sends it). */
async function call(
  method: string,
  path: string,
  as?: { token?: string; cookie?: string },
  body?: unknown,
  contentType = 'application/json',
): Promise<RawResponse & { json: () => unknown }> {
  const headers: Record<string, string> = {};
  if (as?.token) headers.authorization = `Bearer ${as.token}`;
  if (as?.cookie) Object.assign(headers, { cookie: as.cookie, origin: server.url });
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await rawRequest(server.url, {
    method,
    path,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { ...res, json: () => JSON.parse(res.body) };
}

const errorCode = (res: RawResponse): string | undefined => (JSON.parse(res.body) as { error?: { code: string } }).error?.code;

async function signIn(username: string, password: string): Promise<Credentials> {
  const res = await call('POST', '/api/auth/sign-in', undefined, { username, password });
  expect(res.status, res.body).toBe(200);
  const cookie = (res.headers['set-cookie']?.[0] ?? '').split(';')[0];
  return { token: (res.json() as { token: string }).token, cookie };
}

async function createAccount(as: Credentials, body: Record<string, unknown>): Promise<AccountCreated> {
  const res = await call('POST', '/api/accounts', as, body);
  expect(res.status, res.body).toBe(201);
  return res.json() as AccountCreated;
}

/** The account's control room socket, joined to the session (as the console opens it). */
async function controlRoomSocket(as: Credentials): Promise<RawSignaling> {
  const minted = await call('POST', '/api/auth/session-token', as, { sessionId: sid });
  expect(minted.status, minted.body).toBe(201);
  const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${(minted.json() as { token: string }).token}`);
  await client.opened();
  const rtpCapabilities = (await server.sessions.room(sid)).rtpCapabilities;
  const joined = await client.request('join', { rtpCapabilities });
  expect(joined.ok, JSON.stringify(joined)).toBe(true);
  return client;
}

let adminCreds: Credentials;
let operatorCreds: Credentials;
let observerCreds: Credentials;
let observerPassword = '';
let documentId = '';

beforeAll(async () => {
  // Several accounts sign in from this one address: more than a browser would.
  server = await startServer({ workers: 1, adminUser: admin.username, adminPassword: admin.password, maxSignInPerMinute: 200 });
  adminCreds = await signIn(admin.username, admin.password);
});

afterAll(async () => {
  await server?.stop();
});

describe('an admin manages operator accounts', () => {
  it('creates an operator with a typed password and an observer with a generated one', async () => {
    const operator = await createAccount(adminCreds, {
      username: 'dieu-hanh',
      displayName: 'Điều hành viên',
      role: 'operator',
      password: 'mat-khau-dieu-hanh',
    });
    expect(operator.password).toBe('mat-khau-dieu-hanh');
    expect(operator.account).toMatchObject({ username: 'dieu-hanh', role: 'operator', disabled: false, createdBy: admin.username });

    const observer = await createAccount(adminCreds, { username: 'thanh-tra', displayName: 'Thanh tra tỉnh', role: 'observer' });
    expect(observer.password.length).toBeGreaterThanOrEqual(16);
    observerPassword = observer.password;

    const listed = await call('GET', '/api/accounts', adminCreds);
    expect(listed.status).toBe(200);
    const accounts = (listed.json() as { accounts: Account[] }).accounts;
    expect(accounts.map((a) => [a.username, a.role, a.disabled])).toEqual([
      [admin.username, 'admin', false],
      ['dieu-hanh', 'operator', false],
      ['thanh-tra', 'observer', false],
    ]);
    // The list never carries a password or its hash.
    expect(listed.body).not.toMatch(/scrypt|passwordHash|mat-khau/);

    operatorCreds = await signIn('dieu-hanh', 'mat-khau-dieu-hanh');
    observerCreds = await signIn('thanh-tra', observerPassword);
    const me = await call('GET', '/api/auth/me', observerCreds);
    expect(me.json()).toMatchObject({ username: 'thanh-tra', displayName: 'Thanh tra tỉnh', role: 'viewer', accountRole: 'observer' });
    expect((await call('GET', '/api/auth/me', adminCreds)).json()).toMatchObject({ role: 'operator', accountRole: 'admin' });

    // The operator schedules the session the rest of the file runs in.
    const created = await call('POST', '/api/sessions', operatorCreds, { id: sid, title: 'Giao ban trực tuyến' });
    expect(created.status, created.body).toBe(201);
    const pdf = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n';
    const uploaded = await call('POST', `/api/sessions/${sid}/documents?filename=bao-cao.pdf`, operatorCreds, pdf, 'application/pdf');
    expect(uploaded.status, uploaded.body).toBe(201);
    documentId = (uploaded.json() as { id: string }).id;
  });

  it('lets the observer read the schedule, roll call, attendance and audit, and refuses it every acting route with 403', async () => {
    const doc = (await call('GET', '/api/openapi.json')).json() as { paths: Record<string, Record<string, Operation>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op['x-diemcau-access'] !== 'public' && op['x-diemcau-access'] !== 'token')
        .map(([method, op]) => ({ method, path, op, observer: (op['x-diemcau-accounts'] as string[]).includes('observer') })),
    );
    const concrete = (path: string) =>
      path
        .replace('{sid}', sid)
        .replace('{identity}', 'xa-a')
        .replace('{username}', 'dieu-hanh')
        // A document that exists: refusing an unknown one would be a 404 before any question of rights.
        .replace('{id}', path.startsWith('/api/documents/') ? documentId : 'khong-co')
        .replace('{file}', 'live.m3u8');
    const send = (method: string, path: string, op: Operation, as: { token?: string; cookie?: string }) =>
      op.requestBody?.content['application/pdf']
        ? call(method.toUpperCase(), concrete(path), as, '%PDF-1.4\n%%EOF\n', 'application/pdf')
        : call(method.toUpperCase(), concrete(path), as, method === 'get' ? undefined : {});

    const reads = routes.filter((r) => r.observer);
    const acting = routes.filter((r) => !r.observer);
    // An observer may read; beyond reading, only its own password and its control-room token.
    for (const r of reads) expect(r.method === 'get' || r.path.startsWith('/api/auth/'), `${r.method} ${r.path}`).toBe(true);
    for (const must of ['get /api/sessions', 'get /api/sessions/{sid}/rollcall', 'get /api/sessions/{sid}/attendance', 'get /api/audit']) {
      expect(reads.map((r) => `${r.method} ${r.path}`)).toContain(must);
    }
    for (const must of [
      'put /api/sessions/{sid}/floor',
      'delete /api/sessions/{sid}/floor',
      'post /api/sessions/{sid}/peers/{identity}/mute',
      'delete /api/sessions/{sid}/peers/{identity}',
      'post /api/sessions/{sid}/live',
      'post /api/sessions/{sid}/end',
      'post /api/sessions/{sid}/recording',
      'put /api/sessions/{sid}/agenda/current',
      'patch /api/sessions/{sid}',
      'post /api/sessions',
      'post /api/points',
      'post /api/webhooks',
      'delete /api/webhooks/{id}',
      'post /api/accounts',
      'patch /api/accounts/{username}',
    ]) {
      expect(acting.map((r) => `${r.method} ${r.path}`)).toContain(must);
    }

    for (const r of acting) {
      for (const as of [{ token: observerCreds.token }, { cookie: observerCreds.cookie }]) {
        const res = await send(r.method, r.path, r.op, as);
        expect(res.status, `${r.method} ${r.path}: ${res.body}`).toBe(403);
        expect(errorCode(res)).toBe('forbidden');
      }
    }
    for (const r of reads) {
      const res = await send(r.method, r.path, r.op, { token: observerCreds.token });
      expect([401, 403], `${r.method} ${r.path}: ${res.body}`).not.toContain(res.status);
      expect(res.status, `${r.method} ${r.path}: ${res.body}`).toBeLessThan(500);
    }
    expect((await call('GET', `/api/sessions/${sid}/rollcall`, observerCreds)).status).toBe(200);
    expect((await call('GET', '/api/audit?limit=5', observerCreds)).status).toBe(200);
    // Nothing acted: the session still waits, unchanged.
    expect(server.sessions.get(sid)).toMatchObject({ title: 'Giao ban trực tuyến', status: 'waiting' });
  });

  it('joins the observer to a session as a viewer: it receives, and the floor is not its to give', async () => {
    const socket = await controlRoomSocket(observerCreds);
    const floor = await socket.request('floor.give', { identity: 'xa-a' });
    expect(floor.ok).toBe(false);
    expect(floor.ok ? undefined : floor.error.code).toBe('forbidden');
    socket.close();
    await socket.closed;
  });

  it('lets an operator run sessions but not manage accounts', async () => {
    expect((await call('GET', `/api/sessions/${sid}/rollcall`, operatorCreds)).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', '/api/accounts', undefined],
      ['POST', '/api/accounts', { username: 'them-quyen', displayName: 'Tự cấp quyền', role: 'admin', password: 'mat-khau-tu-cap' }],
      ['GET', '/api/accounts/quan-tri', undefined],
      ['PATCH', '/api/accounts/dieu-hanh', { role: 'admin' }],
      ['DELETE', '/api/accounts/quan-tri', undefined],
    ] as const) {
      for (const as of [{ token: operatorCreds.token }, { cookie: operatorCreds.cookie }]) {
        const res = await call(method, path, as, body);
        expect(res.status, `${method} ${path}: ${res.body}`).toBe(403);
        expect(errorCode(res)).toBe('forbidden');
      }
    }
    // A token minted for every session without an account (a script's) manages no accounts either.
    const scripted = await server.tokens.sign({ sid: '*', sub: 'kich-ban', role: 'operator', name: 'Kịch bản' });
    expect((await call('GET', '/api/accounts', { token: scripted })).status).toBe(403);
    // Nor does an admin's link for one session (its own control-room token).
    const own = (await call('POST', '/api/auth/session-token', adminCreds, { sessionId: sid })).json() as { token: string };
    expect((await call('GET', '/api/accounts', { token: own.token })).status).toBe(403);
    expect((await call('GET', '/api/accounts', adminCreds)).status).toBe(200);
  });

  it('disabling an account ends its sessions at once: cookie and tokens get 401 on the next request, its socket closes', async () => {
    const socket = await controlRoomSocket(operatorCreds);
    const cookieOnly = { cookie: operatorCreds.cookie };
    expect((await call('GET', '/api/sessions', cookieOnly)).status).toBe(200);

    const disabled = await call('PATCH', '/api/accounts/dieu-hanh', adminCreds, { disabled: true });
    expect(disabled.status, disabled.body).toBe(200);
    expect(disabled.json()).toMatchObject({ username: 'dieu-hanh', disabled: true, role: 'operator' });

    expect([closeCodes.removed, closeCodes.unauthorized]).toContain((await socket.closed).code);
    for (const as of [cookieOnly, { token: operatorCreds.token }]) {
      const res = await call('GET', '/api/sessions', as);
      expect(res.status).toBe(401);
      expect(errorCode(res)).toBe('unauthorized');
    }
    // A new socket with an earlier token is refused as well.
    const late = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${operatorCreds.token}`);
    expect((await late.closed).code).toBe(closeCodes.unauthorized);
    // The right password does not sign a disabled account in.
    const again = await call('POST', '/api/auth/sign-in', undefined, { username: 'dieu-hanh', password: 'mat-khau-dieu-hanh' });
    expect(again.status).toBe(403);
    expect(errorCode(again)).toBe('forbidden');

    const enabled = await call('PATCH', '/api/accounts/dieu-hanh', adminCreds, { disabled: false });
    expect(enabled.json()).toMatchObject({ disabled: false });
    // Enabling does not bring back the tokens disabling ended.
    expect((await call('GET', '/api/sessions', { token: operatorCreds.token })).status).toBe(401);
    operatorCreds = await signIn('dieu-hanh', 'mat-khau-dieu-hanh');
    expect((await call('GET', '/api/sessions', operatorCreds)).status).toBe(200);
  });

  it('a new role ends the sessions signed in under the old one; the next sign-in carries the new role', async () => {
    const socket = await controlRoomSocket(operatorCreds);
    const demoted = await call('PATCH', '/api/accounts/dieu-hanh', adminCreds, { role: 'observer' });
    expect(demoted.status, demoted.body).toBe(200);
    expect([closeCodes.removed, closeCodes.unauthorized]).toContain((await socket.closed).code);
    expect((await call('POST', `/api/sessions/${sid}/live`, operatorCreds)).status).toBe(401);
    const asObserver = await signIn('dieu-hanh', 'mat-khau-dieu-hanh');
    expect((await call('POST', `/api/sessions/${sid}/live`, asObserver)).status).toBe(403);
    const restored = await call('PATCH', '/api/accounts/dieu-hanh', adminCreds, { role: 'operator' });
    expect(restored.status).toBe(200);
    operatorCreds = await signIn('dieu-hanh', 'mat-khau-dieu-hanh');
  });

  it('deleting an account ends its sessions: its token gets 401 and its socket closes', async () => {
    const temp = await createAccount(adminCreds, { username: 'tam-thoi', displayName: 'Tạm thời', role: 'observer' });
    const creds = await signIn('tam-thoi', temp.password);
    const socket = await controlRoomSocket(creds);
    const deleted = await call('DELETE', '/api/accounts/tam-thoi', adminCreds);
    expect(deleted.status, deleted.body).toBe(204);
    expect([closeCodes.removed, closeCodes.unauthorized]).toContain((await socket.closed).code);
    for (const as of [{ token: creds.token }, { cookie: creds.cookie }]) expect((await call('GET', '/api/audit', as)).status).toBe(401);
    expect((await call('GET', '/api/accounts/tam-thoi', adminCreds)).status).toBe(404);
  });

  it('refuses to disable, demote or delete the last enabled admin with 409', async () => {
    const refusals = [
      ['PATCH', `/api/accounts/${admin.username}`, { disabled: true }],
      ['PATCH', `/api/accounts/${admin.username}`, { role: 'operator' }],
      ['PATCH', `/api/accounts/${admin.username}`, { role: 'observer' }],
      ['DELETE', `/api/accounts/${admin.username}`, undefined],
    ] as const;
    for (const [method, path, body] of refusals) {
      const res = await call(method, path, adminCreds, body);
      expect(res.status, `${method} ${JSON.stringify(body)}: ${res.body}`).toBe(409);
      expect(errorCode(res)).toBe('conflict');
    }
    // A disabled admin is no admin: it does not make the last enabled one removable.
    await createAccount(adminCreds, { username: 'pho-quan-tri', displayName: 'Phó quản trị', role: 'admin', password: 'mat-khau-pho-qt' });
    expect((await call('PATCH', '/api/accounts/pho-quan-tri', adminCreds, { disabled: true })).status).toBe(200);
    expect((await call('DELETE', `/api/accounts/${admin.username}`, adminCreds)).status).toBe(409);
    // With a second enabled admin, the first may step down; then the second is the last.
    expect((await call('PATCH', '/api/accounts/pho-quan-tri', adminCreds, { disabled: false })).status).toBe(200);
    const deputy = await signIn('pho-quan-tri', 'mat-khau-pho-qt');
    const stepDown = await call('PATCH', `/api/accounts/${admin.username}`, deputy, { role: 'operator' });
    expect(stepDown.status, stepDown.body).toBe(200);
    expect((await call('GET', '/api/accounts', adminCreds)).status).toBe(401);
    expect((await call('DELETE', '/api/accounts/pho-quan-tri', deputy)).status).toBe(409);
    // Back as it was, for what follows.
    expect((await call('PATCH', `/api/accounts/${admin.username}`, deputy, { role: 'admin' })).status).toBe(200);
    adminCreds = await signIn(admin.username, admin.password);
    const after = (await call('GET', '/api/accounts', adminCreds)).json() as { accounts: Account[] };
    expect(after.accounts.filter((a) => a.role === 'admin')).toHaveLength(2);
  });

  it('writes every account action to the audit log with the admin who did it', async () => {
    expect((await call('PATCH', '/api/accounts/thanh-tra', adminCreds, { displayName: 'Thanh tra Sở Nội vụ' })).status).toBe(200);
    const res = await call('GET', '/api/audit?limit=1000', adminCreds);
    const entries = (res.json() as { entries: AuditEntry[] }).entries.filter((e) => e.action.startsWith('account.'));
    const seen = entries.map((e) => [e.actor, e.action, e.target]);
    for (const expected of [
      [admin.username, 'account.create', 'dieu-hanh'],
      [admin.username, 'account.create', 'thanh-tra'],
      [admin.username, 'account.disable', 'dieu-hanh'],
      [admin.username, 'account.enable', 'dieu-hanh'],
      [admin.username, 'account.role', 'dieu-hanh'],
      [admin.username, 'account.create', 'tam-thoi'],
      [admin.username, 'account.delete', 'tam-thoi'],
      [admin.username, 'account.create', 'pho-quan-tri'],
      ['pho-quan-tri', 'account.role', admin.username],
      [admin.username, 'account.rename', 'thanh-tra'],
    ]) {
      expect(seen).toContainEqual(expected);
    }
    const demotion = entries.find((e) => e.action === 'account.role' && e.target === 'dieu-hanh');
    expect(demotion?.details).toEqual({ from: 'operator', to: 'observer' });
    // Refused changes changed nothing, and so are not in the log as done.
    expect(entries.filter((e) => e.action === 'account.delete' && e.target === admin.username)).toEqual([]);
    // No entry carries a password.
    expect(JSON.stringify(entries)).not.toMatch(/mat-khau|scrypt/);
  });

  it('answers bad input with typed 400, 404 and 409 errors', async () => {
    const cases: [string, string, unknown, number, string, RegExp?][] = [
      ['POST', '/api/accounts', { username: 'moi', displayName: 'Mới', role: 'superadmin' }, 400, 'bad-request', /role/],
      ['POST', '/api/accounts', { username: 'dieu-hanh', displayName: 'Trùng', role: 'operator' }, 409, 'conflict', /taken/],
      ['POST', '/api/accounts', { username: 'Dieu-Hanh', displayName: 'Trùng chữ hoa', role: 'operator' }, 409, 'conflict', /taken/],
      [
        'POST',
        '/api/accounts',
        { username: 'ngan', displayName: 'Ngắn', role: 'operator', password: 'ngan' },
        400,
        'bad-request',
        /password/,
      ],
      ['POST', '/api/accounts', { username: '.an', displayName: 'Ẩn', role: 'operator' }, 400, 'bad-request', /username/],
      ['POST', '/api/accounts', { username: 'có dấu cách', displayName: 'X', role: 'operator' }, 400, 'bad-request', /username/],
      ['POST', '/api/accounts', { username: 'thieu-ten', role: 'operator' }, 400, 'bad-request', /displayName/],
      ['POST', '/api/accounts', '{"username": ', 400, 'bad-request'],
      ['PATCH', '/api/accounts/dieu-hanh', {}, 400, 'bad-request', /nothing to change/],
      ['PATCH', '/api/accounts/dieu-hanh', { role: 'chief' }, 400, 'bad-request', /role/],
      ['PATCH', '/api/accounts/dieu-hanh', { password: 'mat-khau-moi-dai' }, 400, 'bad-request'],
      ['PATCH', '/api/accounts/khong-co', { disabled: true }, 404, 'not-found'],
      ['DELETE', '/api/accounts/khong-co', undefined, 404, 'not-found'],
      ['POST', '/api/auth/session-token', { sessionId: '../etc' }, 400, 'bad-request', /sessionId/],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const res = await call(method, path, adminCreds, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const error = (res.json() as { error: { code: string; message: string } }).error;
      expect(error.code).toBe(code);
      if (message) expect(error.message).toMatch(message);
    }
    // Nothing was created by the refusals.
    const names = ((await call('GET', '/api/accounts', adminCreds)).json() as { accounts: Account[] }).accounts.map((a) => a.username);
    expect(names.sort()).toEqual(['dieu-hanh', 'pho-quan-tri', admin.username, 'thanh-tra'].sort());
  });
});
