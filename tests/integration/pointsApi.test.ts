/**
 * Connection points and groups: the operator registers them, invites them,
 * disables and revokes them; a point's link stops working the moment its
 * point is disabled, revoked or removed — at the API and at the socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes, type TokenClaims } from '../../protocol/index.js';
import type { AuditEntry } from '../../sfu/audit/AuditLog.js';
import { PointRegistry } from '../../sfu/registry/PointRegistry.js';
import { RedisStore } from '../../sfu/store/RedisStore.js';
import { startRedis } from '../helpers/redis.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;

const api = (path: string, init: RequestInit & { token?: string; json?: unknown } = {}) =>
  fetch(`${server.url}/api${path}`, {
    ...init,
    body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    headers: {
      'content-type': 'application/json',
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.headers ?? {}),
    },
  });

const ws = (token: string) => new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);

/** Opens a socket with the token; resolves with the close event if refused, else with the open client. */
async function connect(token: string): Promise<{ client: RawSignaling; refused?: { code: number; reason: string } }> {
  const client = ws(token);
  await client.opened();
  // The server checks the token after the upgrade: a refused one is closed at once.
  const verdict = await Promise.race([
    client.closed,
    client.request('router.capabilities', {}).then(
      () => undefined,
      () => undefined,
    ),
  ]);
  return verdict ? { client, refused: verdict } : { client };
}

async function invitationUrl(sid: string, pointId: string): Promise<string> {
  const res = await api(`/sessions/${sid}/invitations`, { token: operator });
  expect(res.status).toBe(200);
  const { points } = (await res.json()) as { points: { pointId: string; url: string }[] };
  const link = points.find((p) => p.pointId === pointId);
  expect(link, `an invitation for ${pointId}`).toBeDefined();
  return link!.url;
}

const tokenOfUrl = (url: string) => new URL(url).searchParams.get('token')!;

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  operator = await tokenFor(server, '*', 'chanh-vp', 'operator');
});

afterAll(async () => {
  await server?.stop();
});

describe('points and groups', () => {
  it('registers groups and points and lists them', async () => {
    const group = await api('/groups', {
      method: 'POST',
      token: operator,
      json: { id: 'huyen-tan-lap', name: 'Huyện Tân Lập', kind: 'district' },
    });
    expect(group.status).toBe(201);
    expect(await group.json()).toMatchObject({ id: 'huyen-tan-lap', name: 'Huyện Tân Lập', kind: 'district' });

    const point = await api('/points', {
      method: 'POST',
      token: operator,
      json: { id: 'xa-tan-phu', name: 'Xã Tân Phú', district: 'Tân Lập', groupIds: ['huyen-tan-lap'] },
    });
    expect(point.status).toBe(201);
    const created = await point.json();
    expect(created).toMatchObject({
      id: 'xa-tan-phu',
      name: 'Xã Tân Phú',
      district: 'Tân Lập',
      groupIds: ['huyen-tan-lap'],
      disabled: false,
      invitationVersion: 0,
    });
    expect(created.createdAt).toBeTypeOf('number');

    const listed = await (await api('/points', { token: operator })).json();
    expect(listed.points.map((p: { id: string }) => p.id)).toContain('xa-tan-phu');
    const groups = await (await api('/groups', { token: operator })).json();
    expect(groups.groups).toEqual([expect.objectContaining({ id: 'huyen-tan-lap' })]);
    const one = await (await api('/groups/huyen-tan-lap', { token: operator })).json();
    expect(one.pointIds).toEqual(['xa-tan-phu']);
    expect(await (await api('/points/xa-tan-phu', { token: operator })).json()).toMatchObject({ id: 'xa-tan-phu' });
  });

  it.each([
    ['an id with a path in it', { id: '../etc', name: 'X' }, /id/],
    ['an id with a space', { id: 'xa tan', name: 'X' }, /id/],
    ['no name', { id: 'xa-a' }, /name/],
    ['an empty name', { id: 'xa-a', name: '   ' }, /name/],
    ['a name too long for an invitation', { id: 'xa-a', name: 'x'.repeat(121) }, /name/],
    ['groups that do not exist', { id: 'xa-a', name: 'A', groupIds: ['khong-co', 'cung-khong'] }, /khong-co, cung-khong/],
    ['groupIds that are not a list', { id: 'xa-a', name: 'A', groupIds: 'huyen-tan-lap' }, /groupIds/],
  ])('refuses a point with %s', async (_name, body, message) => {
    const res = await api('/points', { method: 'POST', token: operator, json: body });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe('bad-request');
    expect(error.message).toMatch(message);
  });

  it('refuses a second point with the same id, and a group of an unknown kind', async () => {
    const again = await api('/points', { method: 'POST', token: operator, json: { id: 'xa-tan-phu', name: 'Again' } });
    expect(again.status).toBe(409);
    const kind = await api('/groups', { method: 'POST', token: operator, json: { id: 'g', name: 'G', kind: 'province' } });
    expect(kind.status).toBe(400);
    expect((await api('/points/khong-co', { token: operator })).status).toBe(404);
    expect((await api('/points/khong-co', { method: 'PATCH', token: operator, json: { name: 'X' } })).status).toBe(404);
  });

  it('changes a point in part and clears a field with null', async () => {
    await api('/points', { method: 'POST', token: operator, json: { id: 'xa-an-binh', name: 'Xã An Bình', organisation: 'UBND' } });
    const res = await api('/points/xa-an-binh', {
      method: 'PATCH',
      token: operator,
      json: { name: 'Xã An Bình (mới)', organisation: null, groupIds: ['huyen-tan-lap'] },
    });
    expect(res.status).toBe(200);
    const point = await res.json();
    expect(point).toMatchObject({ id: 'xa-an-binh', name: 'Xã An Bình (mới)', groupIds: ['huyen-tan-lap'] });
    expect(point).not.toHaveProperty('organisation');
    const bad = await api('/points/xa-an-binh', { method: 'PATCH', token: operator, json: { disabled: 'yes' } });
    expect(bad.status).toBe(400);
  });

  it('is for operators of every session only', async () => {
    expect((await api('/points')).status).toBe(401);
    const point = await tokenFor(server, 'x', 'xa-khach', 'point');
    expect((await api('/points', { token: point })).status).toBe(403);
    const oneSession = await tokenFor(server, 'x', 'op', 'operator');
    expect((await api('/groups', { token: oneSession })).status).toBe(403);
    expect((await api('/groups', { method: 'POST', token: point, json: { id: 'g', name: 'G' } })).status).toBe(403);
  });

  it('deleting a group takes it out of its members', async () => {
    await api('/groups', { method: 'POST', token: operator, json: { id: 'tam-thoi', name: 'Tạm thời' } });
    await api('/points/xa-an-binh', { method: 'PATCH', token: operator, json: { groupIds: ['huyen-tan-lap', 'tam-thoi'] } });
    expect((await api('/groups/tam-thoi', { method: 'DELETE', token: operator })).status).toBe(204);
    expect((await api('/groups/tam-thoi', { token: operator })).status).toBe(404);
    const point = await (await api('/points/xa-an-binh', { token: operator })).json();
    expect(point.groupIds).toEqual(['huyen-tan-lap']);
  });
});

describe('links of registered points', () => {
  const sid = 'giao-ban';

  beforeAll(async () => {
    await api('/points', { method: 'POST', token: operator, json: { id: 'xa-dong-son', name: 'Xã Đông Sơn' } });
    const res = await api('/sessions', {
      method: 'POST',
      token: operator,
      json: {
        id: sid,
        title: 'Giao ban tuần',
        startsAt: Date.now() + 3600_000,
        endsAt: Date.now() + 7200_000,
        invitedPoints: ['xa-dong-son'],
        invitedGroups: ['huyen-tan-lap'],
      },
    });
    expect(res.status).toBe(201);
  });

  it('carries the point’s claims and current version', async () => {
    const token = tokenOfUrl(await invitationUrl(sid, 'xa-dong-son'));
    const claims: TokenClaims = await server.tokens.verify(token);
    expect(claims).toMatchObject({ sid, sub: 'xa-dong-son', role: 'point', name: 'Xã Đông Sơn', ver: 0 });
  });

  it('a revoked link is refused at the socket with 4401, the connected point is let go, a fresh link works', async () => {
    const old = tokenOfUrl(await invitationUrl(sid, 'xa-dong-son'));
    const first = await connect(old);
    expect(first.refused).toBeUndefined();

    const revoked = await api('/points/xa-dong-son/revoke', { method: 'POST', token: operator });
    expect(revoked.status).toBe(200);
    expect((await revoked.json()).invitationVersion).toBe(1);

    const again = await connect(old);
    expect(again.refused).toEqual({ code: closeCodes.unauthorized, reason: 'this invitation was revoked' });
    // The same link at the HTTP API.
    const http = await api(`/sessions/${sid}`, { token: old });
    expect(http.status).toBe(401);
    expect((await http.json()).error.message).toBe('this invitation was revoked');

    const fresh = tokenOfUrl(await invitationUrl(sid, 'xa-dong-son'));
    expect((await server.tokens.verify(fresh)).ver).toBe(1);
    const ok = await connect(fresh);
    expect(ok.refused).toBeUndefined();
    expect((await ok.client.request('router.capabilities', {})).ok).toBe(true);
    ok.client.close();
    first.client.close();
  });

  it('closes the socket of a point that is joined when its links are revoked', async () => {
    const room = await server.sessions.room(sid);
    const token = tokenOfUrl(await invitationUrl(sid, 'xa-dong-son'));
    const { client } = await connect(token);
    expect((await client.request('join', { rtpCapabilities: room.rtpCapabilities })).ok).toBe(true);
    expect(room.peers.has('xa-dong-son')).toBe(true);
    await api('/points/xa-dong-son/revoke', { method: 'POST', token: operator });
    expect((await client.closed).code).toBe(closeCodes.removed);
    expect(room.peers.has('xa-dong-son')).toBe(false);
  });

  it('a disabled point is refused, and admitted again once enabled', async () => {
    const token = tokenOfUrl(await invitationUrl(sid, 'xa-tan-phu'));
    const disabled = await api('/points/xa-tan-phu', { method: 'PATCH', token: operator, json: { disabled: true } });
    expect((await disabled.json()).disabled).toBe(true);
    const refused = await connect(token);
    expect(refused.refused).toEqual({ code: closeCodes.unauthorized, reason: 'this connection point is disabled' });
    // Disabled points get no links.
    const list = await (await api(`/sessions/${sid}/invitations`, { token: operator })).json();
    expect(list.points.map((p: { pointId: string }) => p.pointId)).not.toContain('xa-tan-phu');
    // Nor ad hoc ones.
    const adHoc = await api(`/sessions/${sid}/invitations`, {
      method: 'POST',
      token: operator,
      json: { role: 'point', identity: 'xa-tan-phu', name: 'Xã Tân Phú' },
    });
    expect(adHoc.status).toBe(409);

    await api('/points/xa-tan-phu', { method: 'PATCH', token: operator, json: { disabled: false } });
    const admitted = await connect(token);
    expect(admitted.refused).toBeUndefined();
    admitted.client.close();
  });

  it('an ad hoc link for a registered point carries its version and works', async () => {
    const res = await api(`/sessions/${sid}/invitations`, {
      method: 'POST',
      token: operator,
      json: { role: 'point', identity: 'xa-an-binh', name: 'Xã An Bình' },
    });
    expect(res.status).toBe(201);
    const { token } = await res.json();
    expect((await server.tokens.verify(token)).ver).toBe(0);
    const ok = await connect(token);
    expect(ok.refused).toBeUndefined();
    ok.client.close();
  });

  it('links for identities that are not registered (ad hoc, demo) still work', async () => {
    const token = await tokenFor(server, sid, 'xa-khach', 'point');
    const ok = await connect(token);
    expect(ok.refused).toBeUndefined();
    ok.client.close();
  });

  it('a deleted point’s links stay dead, even when the id is registered again', async () => {
    await api('/points', { method: 'POST', token: operator, json: { id: 'xa-tam', name: 'Xã Tạm' } });
    await api(`/sessions/${sid}`, { method: 'PATCH', token: operator, json: { invitedPoints: ['xa-dong-son', 'xa-tam'] } });
    const old = tokenOfUrl(await invitationUrl(sid, 'xa-tam'));
    expect((await api('/points/xa-tam', { method: 'DELETE', token: operator })).status).toBe(204);
    expect((await api('/points/xa-tam', { token: operator })).status).toBe(404);
    expect(server.sessions.get(sid).invitedPoints).toEqual(['xa-dong-son']);
    expect((await connect(old)).refused).toEqual({ code: closeCodes.unauthorized, reason: 'this connection point was removed' });

    const again = await api('/points', { method: 'POST', token: operator, json: { id: 'xa-tam', name: 'Xã Tạm' } });
    expect(again.status).toBe(201);
    expect((await again.json()).invitationVersion).toBe(1);
    expect((await connect(old)).refused?.reason).toBe('this invitation was revoked');
  });

  it('keeps the registry in the store across a restart of the registry', async () => {
    const fresh = new PointRegistry(server.store);
    await fresh.load();
    expect(fresh.findPoint('xa-dong-son')).toMatchObject({ name: 'Xã Đông Sơn', invitationVersion: 2 });
    expect(fresh.findGroup('huyen-tan-lap')).toMatchObject({ kind: 'district' });
    expect(fresh.findPoint('xa-tam')).toMatchObject({ invitationVersion: 1 });
    await fresh.close();
  });

  it('writes who did what to the audit log', async () => {
    const entries = await server.audit.read();
    const actions = entries.filter((e: AuditEntry) => e.actor === 'chanh-vp').map((e) => `${e.action} ${e.target}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'group.create huyen-tan-lap',
        'point.create xa-tan-phu',
        'point.update xa-an-binh',
        'group.delete tam-thoi',
        'point.revoke xa-dong-son',
        'point.delete xa-tam',
      ]),
    );
  });
});

describe('several nodes (Redis)', () => {
  it('a revocation or a disabling on one node refuses the link on the other', async () => {
    const redis = await startRedis();
    const [storeA, storeB] = [await RedisStore.connect(redis.url), await RedisStore.connect(redis.url)];
    const [a, b] = [new PointRegistry(storeA), new PointRegistry(storeB)];
    try {
      await a.load();
      await b.load();
      await a.createGroup({ id: 'huyen', name: 'Huyện', kind: 'district' });
      await a.createPoint({ id: 'xa-xa', name: 'Xã Xa', groupIds: ['huyen'] });
      const claims = { sid: 's', sub: 'xa-xa', role: 'point' as const, name: 'Xã Xa', ver: 0 };
      await expect.poll(() => b.findPoint('xa-xa')?.groupIds).toEqual(['huyen']);
      await expect(b.checkClaims(claims)).resolves.toBeUndefined();

      await a.revokePoint('xa-xa');
      await expect
        .poll(() =>
          b.checkClaims(claims).then(
            () => 'admitted',
            (e: Error) => e.message,
          ),
        )
        .toBe('this invitation was revoked');
      await a.updatePoint('xa-xa', { disabled: true });
      await expect
        .poll(() =>
          b.checkClaims({ ...claims, ver: 1 }).then(
            () => 'admitted',
            (e: Error) => e.message,
          ),
        )
        .toBe('this connection point is disabled');
      await a.deleteGroup('huyen');
      await expect.poll(() => b.findGroup('huyen')).toBeUndefined();
      await expect.poll(() => b.findPoint('xa-xa')?.groupIds).toEqual([]);
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
      await redis.stop();
    }
  });
});
