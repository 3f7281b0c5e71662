/** Operators sign in with a name and password; the console's API needs it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../sfu/auth/OperatorAccounts.js';
import { startServer } from '../helpers/server.js';

let server: Awaited<ReturnType<typeof startServer>>;
// As the console in a browser sends them: a request made with the sign-in cookie names this site as its Origin.
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${server.url}/api${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', origin: server.url, ...(init.headers ?? {}) },
  });

beforeAll(async () => {
  server = await startServer({ workers: 1, adminUser: 'chanh-vp', adminPassword: 'mat-khau-rat-dai' });
});

afterAll(async () => {
  await server?.stop();
});

describe('operator sign-in', () => {
  it('stores passwords as salted scrypt hashes', async () => {
    const a = await hashPassword('mot hai ba bon nam');
    const b = await hashPassword('mot hai ba bon nam');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('mot hai ba bon nam', a)).toBe(true);
    expect(await verifyPassword('sai', a)).toBe(false);
  });

  it('refuses a wrong password and an unknown name alike', async () => {
    for (const body of [
      { username: 'chanh-vp', password: 'sai-mat-khau-roi' },
      { username: 'khong-co', password: 'mat-khau-rat-dai' },
    ]) {
      const res = await api('/auth/sign-in', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(401);
      expect((await res.json()).error).toEqual({ code: 'unauthorized', message: 'wrong name or password' });
    }
  });

  it('signs in with an HttpOnly cookie that opens the operator API, and signs out', async () => {
    const res = await api('/auth/sign-in', {
      method: 'POST',
      body: JSON.stringify({ username: 'chanh-vp', password: 'mat-khau-rat-dai' }),
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/diemcau_operator=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const session = cookie.split(';')[0];
    expect((await api('/sessions')).status).toBe(401);
    const listed = await api('/sessions', { headers: { cookie: session } });
    expect(listed.status).toBe(200);
    const me = await api('/auth/me', { headers: { cookie: session } });
    // The first account is an admin: it runs sessions with the operator's token role and manages accounts.
    expect(await me.json()).toMatchObject({ username: 'chanh-vp', role: 'operator', accountRole: 'admin' });
    const out = await api('/auth/sign-out', { method: 'POST', headers: { cookie: session } });
    expect(out.headers.get('set-cookie')).toMatch(/diemcau_operator=;/);
    // Signing out ends the token itself, not only the browser's copy of it.
    expect((await api('/sessions', { headers: { cookie: session } })).status).toBe(401);
  });

  it('lets a signed-in operator change the password: the old one stops working', async () => {
    const signIn = (password: string) => api('/auth/sign-in', { method: 'POST', body: JSON.stringify({ username: 'chanh-vp', password }) });
    const session = (await signIn('mat-khau-rat-dai')).headers.get('set-cookie')!.split(';')[0];
    const change = (body: unknown, cookie = session) =>
      api('/auth/password', { method: 'POST', headers: { cookie }, body: JSON.stringify(body) });
    expect((await change({ current: 'sai-mat-khau-roi', next: 'mat-khau-moi-dai' })).status).toBe(401);
    expect((await change({ current: 'mat-khau-rat-dai', next: 'ngan' })).status).toBe(400);
    const pointToken = await server.tokens.sign({ sid: 'x', sub: 'xa-a', role: 'point', name: 'Xã A' });
    const byPoint = await api('/auth/password', {
      method: 'POST',
      headers: { authorization: `Bearer ${pointToken}` },
      body: JSON.stringify({ current: 'a', next: 'mat-khau-moi-dai' }),
    });
    expect(byPoint.status).toBe(403);
    expect((await change({ current: 'mat-khau-rat-dai', next: 'mat-khau-moi-dai' })).status).toBe(204);
    expect((await signIn('mat-khau-rat-dai')).status).toBe(401);
    expect((await signIn('mat-khau-moi-dai')).status).toBe(200);
  });
});
