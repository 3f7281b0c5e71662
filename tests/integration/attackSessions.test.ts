/**
 * Defaults and operator sessions, attacked from outside over HTTP: the demo's
 * operator link is for this machine only; the sign-in cookie does not work
 * from another site; /api/auth/me does not hand out the HttpOnly token;
 * sign-out and a password change end the tokens signed in before; a token
 * without an expiry is refused; and the session store has a ceiling.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../sfu/http/openapi.js';
import { rawRequest, type RawResponse } from '../helpers/attackClient.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

let server: Awaited<ReturnType<typeof startServer>>;
let host: string;
const secret = 'geheim-'.repeat(6);
const admin = { username: 'chanh-vp', password: 'mat-khau-rat-dai' };
const evil = 'https://hop-truc-tuyen.example';

const call = (method: string, p: string, headers: Record<string, string> = {}, body?: unknown): Promise<RawResponse> =>
  rawRequest(server.url, {
    method,
    path: p,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Signs in from this site; the cookie (name=value) and the token the body returns. */
async function signIn(account = admin): Promise<{ cookie: string; token: string }> {
  const res = await call('POST', '/api/auth/sign-in', { origin: server.url }, account);
  expect(res.status, res.body).toBe(200);
  const setCookie = res.headers['set-cookie']?.[0] ?? '';
  return { cookie: setCookie.split(';')[0], token: (JSON.parse(res.body) as { token: string }).token };
}

const code = (res: RawResponse) => {
  try {
    return (JSON.parse(res.body) as { error?: { code: string } }).error?.code;
  } catch {
    return `not JSON: ${res.body.slice(0, 80)}`;
  }
};

beforeAll(async () => {
  // The demo on, as `npm start` has it; a known secret, to forge what an attacker with a leaked one could.
  server = await startServer({
    workers: 1,
    demo: true,
    tokenSecret: secret,
    adminUser: admin.username,
    adminPassword: admin.password,
    maxSessions: 3,
    maxSignInPerMinute: 100,
  });
  host = new URL(server.url).host;
});

afterAll(async () => {
  await server?.stop();
});

describe('the demo', () => {
  it('gives its links, operator token included, to a browser on this machine only', async () => {
    const local = await call('GET', '/api-demo', { host: `localhost:${new URL(server.url).port}` });
    expect(local.status).toBe(200);
    expect(JSON.parse(local.body)).toMatchObject({ sessionId: 'demo', operator: expect.stringMatching(/token=/) });
    expect((await call('GET', '/api-demo')).status).toBe(200);

    for (const [why, headers] of [
      ['through a reverse proxy on this machine', { 'x-forwarded-for': '203.0.113.7' }],
      ['through a proxy that says Forwarded', { forwarded: 'for=203.0.113.7' }],
      ['from a page whose name was pointed at 127.0.0.1 (DNS rebinding)', { host: 'hop-truc-tuyen.example' }],
      ['by the LAN address', { host: `192.0.2.10:${new URL(server.url).port}` }],
    ] as const) {
      const res = await call('GET', '/api-demo', headers);
      expect(res.status, why).toBe(404);
      expect(code(res), why).toBe('not-found');
      expect(res.body, why).not.toMatch(/token=/);
    }
  });
});

describe('the sign-in cookie from another site (CSRF)', () => {
  const stateChanging = Object.entries(openApiDocument().paths as Record<string, Record<string, unknown>>).flatMap(([template, ops]) =>
    Object.keys(ops)
      .filter((m) => m !== 'get')
      .map((method) => ({ method: method.toUpperCase(), path: template.replace(/\{(\w+)\}/g, 'x-1') })),
  );

  it('refuses every state-changing route with 403 when Origin or Referer is another site, or missing', async () => {
    const { cookie } = await signIn();
    expect(stateChanging.length).toBeGreaterThan(25);
    for (const route of stateChanging) {
      const sources: Record<string, string>[] = [{ origin: evil }, { referer: `${evil}/trang` }, { origin: 'null' }, {}];
      for (const headers of sources) {
        const res = await call(route.method, route.path, { cookie, ...headers }, {});
        expect([res.status, code(res)], `${route.method} ${route.path} with ${JSON.stringify(headers)}`).toEqual([403, 'forbidden']);
      }
    }
    // Nothing was done: the session is still signed in and no point was created.
    const points = await call('GET', '/api/points', { cookie });
    expect(points.status).toBe(200);
    expect(JSON.parse(points.body)).toEqual({ points: [] });
  });

  it('lets this site through (its public URL or the host it was reached at), and bearer tokens whatever their Origin', async () => {
    const { cookie, token } = await signIn();
    const create = (id: string, headers: Record<string, string>) => call('POST', '/api/points', headers, { id, name: id });
    expect((await create('xa-mot', { cookie, origin: server.url })).status).toBe(201);
    expect((await create('xa-hai', { cookie, referer: `http://${host}/console/points` })).status).toBe(201);
    expect((await create('xa-ba', { authorization: `Bearer ${token}`, origin: evil })).status).toBe(201);
    expect((await call('GET', '/api/points', { cookie, origin: evil })).status).toBe(200);
  });

  it('refuses a sign-in posted from another site (login CSRF)', async () => {
    const res = await call('POST', '/api/auth/sign-in', { origin: evil }, admin);
    expect([res.status, code(res)]).toEqual([403, 'forbidden']);
  });
});

describe('operator sessions', () => {
  it('/api/auth/me does not return the HttpOnly token', async () => {
    const { cookie, token } = await signIn();
    const me = await call('GET', '/api/auth/me', { cookie });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({
      username: admin.username,
      displayName: expect.any(String),
      role: 'operator',
      accountRole: 'admin',
    });
    expect(me.body).not.toContain(token);
    expect(me.body).not.toContain(cookie.split('=')[1]);
  });

  it('sign-out ends every token of the account signed in so far, cookie and bearer', async () => {
    const first = await signIn();
    const second = await signIn();
    // The console's control room mints its own link for a session with the cookie: it ends with the sign-in too.
    const mint = await call(
      'POST',
      '/api/sessions/demo/invitations',
      { cookie: first.cookie, origin: server.url },
      {
        role: 'operator',
        identity: admin.username,
        name: 'Chánh văn phòng',
      },
    );
    expect(mint.status, mint.body).toBe(201);
    const ownLink = (JSON.parse(mint.body) as { token: string }).token;
    expect((await call('GET', '/api/sessions/demo', { authorization: `Bearer ${ownLink}` })).status).toBe(200);
    const works = async (headers: Record<string, string>) => (await call('GET', '/api/points', headers)).status;
    expect(await works({ cookie: first.cookie })).toBe(200);
    expect(await works({ authorization: `Bearer ${second.token}` })).toBe(200);
    const out = await call('POST', '/api/auth/sign-out', { cookie: first.cookie, origin: server.url });
    expect(out.status).toBe(204);
    expect(await works({ cookie: first.cookie })).toBe(401);
    expect(await works({ authorization: `Bearer ${first.token}` })).toBe(401);
    expect(await works({ authorization: `Bearer ${second.token}` })).toBe(401);
    expect((await call('GET', '/api/sessions/demo', { authorization: `Bearer ${ownLink}` })).status).toBe(401);
    expect(await works({ authorization: `Bearer ${(await signIn()).token}` })).toBe(200);
  });

  it('a password change ends every earlier token; the browser that made it gets a fresh cookie', async () => {
    const account = { username: 'thu-ky', password: 'mat-khau-thu-ky' };
    await server.accounts.create({ ...account, displayName: 'Thư ký' });
    const here = await signIn(account);
    const elsewhere = await signIn(account);
    const change = await call(
      'POST',
      '/api/auth/password',
      { cookie: here.cookie, origin: server.url },
      { current: account.password, next: 'mat-khau-moi-dai' },
    );
    expect(change.status, change.body).toBe(204);
    const status = async (headers: Record<string, string>) => (await call('GET', '/api/points', headers)).status;
    expect(await status({ authorization: `Bearer ${elsewhere.token}` })).toBe(401);
    expect(await status({ authorization: `Bearer ${here.token}` })).toBe(401);
    expect(await status({ cookie: here.cookie })).toBe(401);
    const fresh = (change.headers['set-cookie']?.[0] ?? '').split(';')[0];
    expect(fresh).toMatch(/^diemcau_operator=.+/);
    expect(await status({ cookie: fresh })).toBe(200);
  });

  it('refuses a token without an expiry, over HTTP and on the signaling socket', async () => {
    const forge = (claims: Record<string, unknown>, sub: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setIssuer('diemcau')
        .setIssuedAt()
        .sign(new TextEncoder().encode(secret));
    const forever = await forge({ sid: '*', role: 'operator', name: 'Mãi mãi' }, 'mai-mai');
    const res = await call('GET', '/api/points', { authorization: `Bearer ${forever}` });
    expect([res.status, code(res)]).toEqual([401, 'unauthorized']);
    // The same claims with an expiry pass: it is the missing `exp` that is refused.
    expect(
      (await call('GET', '/api/points', { authorization: `Bearer ${await tokenFor(server, '*', 'mai-mai', 'operator')}` })).status,
    ).toBe(200);

    const point = await forge({ sid: 'demo', role: 'point', name: 'Xã Mãi Mãi' }, 'xa-mai-mai');
    const ws = new RawSignaling(`${server.url.replace(/^http/, 'ws')}/ws?token=${point}`);
    await ws.opened();
    // Sent at once (held until the token is checked): a connection that was let in answers it.
    ws.ws.send(JSON.stringify({ id: 1, method: 'khong-co', data: {} }));
    const outcome = await Promise.race([
      ws.closed.then((c) => `closed ${c.code}`),
      new Promise<string>((resolve) => ws.ws.once('message', () => resolve('answered'))),
    ]);
    ws.close();
    expect(outcome).toBe('closed 4401');
  });
});

describe('the session store', () => {
  it('refuses a session past maxSessions with 503 busy', async () => {
    const operator = await tokenFor(server, '*', 'thu-ky', 'operator');
    const create = (id: string) => call('POST', '/api/sessions', { authorization: `Bearer ${operator}` }, { id, title: id });
    // The demo session is one of the three.
    expect((await create('hop-1')).status).toBe(201);
    expect((await create('hop-2')).status).toBe(201);
    const refused = await Promise.all([create('hop-3'), create('hop-4')]);
    for (const res of refused) expect([res.status, code(res)]).toEqual([503, 'busy']);
    expect(JSON.parse((await call('GET', '/api/sessions', { authorization: `Bearer ${operator}` })).body).sessions).toHaveLength(3);
  });
});
