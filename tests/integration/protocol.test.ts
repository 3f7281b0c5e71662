/**
 * Every signaling message is checked at the edge: malformed or unauthorised
 * requests get a typed error, the socket stays open and everyone else keeps
 * working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes, type Role } from '../../protocol/index.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

let server: Awaited<ReturnType<typeof startServer>>;
let rtpCapabilities: unknown;
const sid = 'proto';

async function connect(role: Role, sub = `${role}-1`, session = sid): Promise<RawSignaling> {
  const token = await tokenFor(server, session, sub, role);
  const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
  await client.opened();
  return client;
}

beforeAll(async () => {
  server = await startServer({ workers: 1 });
  await server.sessions.create({ id: sid, title: 'Protocol' });
  rtpCapabilities = (await server.sessions.room(sid)).rtpCapabilities;
});

afterAll(async () => {
  await server?.stop();
});

describe('malformed and unauthorised messages', () => {
  const cases: { name: string; role: Role; frame: string | (() => string); id: number; code: string; join?: boolean }[] = [
    { name: 'text that is not JSON', role: 'point', frame: '{nope', id: -1, code: 'bad-request' },
    { name: 'JSON without an id', role: 'point', frame: '{"method":"join"}', id: -1, code: 'bad-request' },
    { name: 'a negative id', role: 'point', frame: '{"id":-5,"method":"join"}', id: -1, code: 'bad-request' },
    { name: 'an unknown method', role: 'point', frame: '{"id":1,"method":"format.disk"}', id: 1, code: 'unknown-method' },
    { name: 'a method name that is an object key', role: 'point', frame: '{"id":2,"method":"__proto__"}', id: 2, code: 'unknown-method' },
    { name: 'join without capabilities', role: 'point', frame: '{"id":3,"method":"join","data":{}}', id: 3, code: 'bad-request' },
    {
      name: 'join with a bogus receive mode',
      role: 'point',
      frame: () => JSON.stringify({ id: 4, method: 'join', data: { rtpCapabilities, receiveMode: 'hd-please' } }),
      id: 4,
      code: 'bad-request',
    },
    {
      name: 'a transport before joining',
      role: 'point',
      frame: '{"id":5,"method":"transport.create","data":{"direction":"send"}}',
      id: 5,
      code: 'not-joined',
    },
    {
      name: 'a transport in a wrong direction',
      role: 'point',
      frame: '{"id":6,"method":"transport.create","data":{"direction":"sideways"}}',
      id: 6,
      code: 'bad-request',
    },
    {
      name: 'a point giving itself the floor',
      role: 'point',
      frame: '{"id":7,"method":"floor.give","data":{"identity":"point-1"}}',
      id: 7,
      code: 'forbidden',
    },
    { name: 'a point taking the floor back', role: 'point', frame: '{"id":8,"method":"floor.take","data":{}}', id: 8, code: 'forbidden' },
    { name: 'a point ending the session', role: 'point', frame: '{"id":9,"method":"session.end"}', id: 9, code: 'forbidden' },
    {
      name: 'a point removing another',
      role: 'point',
      frame: '{"id":10,"method":"peer.remove","data":{"identity":"x"}}',
      id: 10,
      code: 'forbidden',
    },
    { name: 'a viewer producing', role: 'viewer', frame: '{"id":11,"method":"produce","data":{}}', id: 11, code: 'forbidden' },
    {
      name: 'a viewer raising a hand',
      role: 'viewer',
      frame: '{"id":12,"method":"hand.raise","data":{"raised":true}}',
      id: 12,
      code: 'forbidden',
    },
    { name: 'a viewer going live', role: 'viewer', frame: '{"id":13,"method":"session.goLive"}', id: 13, code: 'forbidden' },
    { name: 'an operator producing', role: 'operator', frame: '{"id":14,"method":"produce","data":{}}', id: 14, code: 'forbidden' },
    {
      name: 'an operator raising a hand',
      role: 'operator',
      frame: '{"id":15,"method":"hand.raise","data":{"raised":true}}',
      id: 15,
      code: 'forbidden',
    },
    {
      name: 'the floor to an identity with a path in it',
      role: 'operator',
      frame: '{"id":16,"method":"floor.give","data":{"identity":"../../etc"}}',
      id: 16,
      code: 'bad-request',
    },
    {
      name: 'the floor to someone absent',
      role: 'operator',
      frame: '{"id":17,"method":"floor.give","data":{"identity":"ghost"}}',
      id: 17,
      code: 'not-found',
    },
    {
      name: 'connecting a transport that does not exist',
      role: 'point',
      join: true,
      frame:
        '{"id":18,"method":"transport.connect","data":{"transportId":"t1","dtlsParameters":{"fingerprints":[{"algorithm":"sha-256","value":"AA"}]}}}',
      id: 18,
      code: 'not-found',
    },
    {
      name: 'producing on a transport that does not exist',
      role: 'point',
      join: true,
      frame: '{"id":19,"method":"produce","data":{"transportId":"t1","kind":"video","rtpParameters":{"codecs":[{}]},"source":"camera"}}',
      id: 19,
      code: 'not-found',
    },
    {
      name: 'a stats report with absurd numbers',
      role: 'point',
      join: true,
      frame: '{"id":20,"method":"stats.report","data":{"roundTripTime":-1}}',
      id: 20,
      code: 'bad-request',
    },
  ];

  it.each(cases)('answers $name with $code and keeps serving', async ({ role, frame, id, code, join }) => {
    const client = await connect(role);
    if (join) expect((await client.request('join', { rtpCapabilities })).ok).toBe(true);
    const reply = await client.raw(typeof frame === 'function' ? frame() : frame, id);
    expect(reply).toMatchObject({ id, ok: false, error: { code } });
    // The same socket still answers a valid request.
    const after = await client.request('router.capabilities', {});
    expect(after.ok).toBe(true);
    client.close();
  });

  it("answers what mediasoup refuses with media-error and mediasoup's reason, and keeps serving", async () => {
    const client = await connect('point', 'media-refused');
    expect((await client.request('join', { rtpCapabilities })).ok).toBe(true);
    const created = await client.request('transport.create', { direction: 'send' });
    expect(created.ok).toBe(true);
    const transportId = (created as { data: { id: string } }).data.id;
    // RTP parameters whose codec names no type: refused by mediasoup's own checks.
    const produced = await client.request('produce', { transportId, kind: 'video', rtpParameters: { codecs: [{}] }, source: 'camera' });
    expect(produced).toMatchObject({ ok: false, error: { code: 'media-error', message: expect.stringMatching(/mimeType/) } });
    // DTLS parameters given twice: refused by the worker the second time.
    const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }] };
    expect((await client.request('transport.connect', { transportId, dtlsParameters })).ok).toBe(true);
    const again = await client.request('transport.connect', { transportId, dtlsParameters });
    expect(again).toMatchObject({ ok: false, error: { code: 'media-error' } });
    expect((await client.request('router.capabilities', {})).ok).toBe(true);
    client.close();
  });

  it('answers a binary frame with bad-request', async () => {
    const client = await connect('point');
    const reply = await client.raw(Buffer.from([1, 2, 3]), -1);
    expect(reply).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    client.close();
  });

  it('keeps other participants working while one sends garbage', async () => {
    const good = await connect('point', 'good');
    expect((await good.request('join', { rtpCapabilities })).ok).toBe(true);
    const bad = await connect('point', 'bad');
    for (let i = 0; i < 50; i++) await bad.raw(`garbage ${i}`, -1);
    const reply = await good.request('hand.raise', { raised: true });
    expect(reply.ok).toBe(true);
    const room = await server.sessions.room(sid);
    expect(room.snapshot().handsRaised).toContain('good');
    good.close();
    bad.close();
  });
});

describe('tokens', () => {
  it('closes a socket with a forged token with 4401 and a reason', async () => {
    const token = await tokenFor(server, sid, 'x', 'operator');
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${forged}`);
    expect(await client.closed).toEqual({ code: closeCodes.unauthorized, reason: 'the token is not valid' });
  });

  it('closes a socket without a token', async () => {
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws`);
    expect((await client.closed).code).toBe(closeCodes.unauthorized);
  });

  it('refuses a token for a session that does not exist', async () => {
    const token = await tokenFor(server, 'elsewhere', 'x', 'point');
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    expect((await client.closed).code).toBe(closeCodes.unauthorized);
  });

  it('refuses an expired invitation', async () => {
    const token = await server.tokens.sign({ sid, sub: 'late', role: 'point', name: 'Late' }, -10);
    const client = new RawSignaling(`${server.url.replace('http', 'ws')}/ws?token=${token}`);
    expect(await client.closed).toEqual({ code: closeCodes.unauthorized, reason: 'the invitation has expired' });
  });

  it('closes the older socket with 4409 when the same point joins again', async () => {
    const first = await connect('point', 'twice');
    expect((await first.request('join', { rtpCapabilities })).ok).toBe(true);
    const second = await connect('point', 'twice');
    expect((await second.request('join', { rtpCapabilities })).ok).toBe(true);
    expect((await first.closed).code).toBe(closeCodes.replaced);
    const room = await server.sessions.room(sid);
    expect([...room.peers.keys()].filter((k) => k === 'twice')).toHaveLength(1);
    second.close();
  });
});

describe('HTTP API authorisation', () => {
  const api = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${server.url}/api${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    });

  it('requires a token', async () => {
    const res = await api(`/sessions/${sid}/floor`, { method: 'DELETE' });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('unauthorized');
  });

  it.each(['point', 'viewer', 'studio'] as Role[])('refuses floor control to a %s', async (role) => {
    const token = await tokenFor(server, sid, 'someone', role);
    const res = await api(`/sessions/${sid}/floor`, { method: 'PUT', token, body: JSON.stringify({ identity: 'x' }) });
    expect(res.status).toBe(403);
  });

  it('refuses an operator of another session', async () => {
    const token = await tokenFor(server, 'other', 'op', 'operator');
    const res = await api(`/sessions/${sid}/floor`, { method: 'DELETE', token });
    expect(res.status).toBe(403);
  });

  it('lets the operator create a session and invite a point', async () => {
    const token = await tokenFor(server, '*', 'op', 'operator');
    const created = await api('/sessions', { method: 'POST', token, body: JSON.stringify({ title: 'Họp giao ban' }) });
    expect(created.status).toBe(201);
    const session = await created.json();
    const invited = await api(`/sessions/${session.id}/invitations`, {
      method: 'POST',
      token,
      body: JSON.stringify({ role: 'point', identity: 'xa-tan-phu', name: 'Xã Tân Phú' }),
    });
    expect(invited.status).toBe(201);
    const { token: invitation, url } = await invited.json();
    expect(url).toContain('/point?token=');
    expect(await server.tokens.verify(invitation)).toMatchObject({ sid: session.id, sub: 'xa-tan-phu', role: 'point' });
  });

  it('answers bad bodies with 400', async () => {
    const token = await tokenFor(server, sid, 'op', 'operator');
    const bad = await api(`/sessions/${sid}/floor`, { method: 'PUT', token, body: '{"identity": 5}' });
    expect(bad.status).toBe(400);
    const notJson = await api(`/sessions/${sid}/floor`, { method: 'PUT', token, body: '{' });
    expect(notJson.status).toBe(400);
  });
});
