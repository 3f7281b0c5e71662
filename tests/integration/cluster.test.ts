/**
 * Two nodes sharing one Redis (started here): a session's Room runs on one
 * node; the other sends browsers there and forwards the operator's actions,
 * and both see the same schedule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes } from '../../protocol/index.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { RawSignaling } from '../helpers/wsClient.js';

let redis: RedisServer;
let nodeA: Awaited<ReturnType<typeof startServer>>;
let nodeB: Awaited<ReturnType<typeof startServer>>;
let operatorToken: string;
const participants: PlainParticipant[] = [];
const sid = 'lien-tinh';
const tokenSecret = 'a-secret-both-nodes-share-0123456789abcdef';

const api = (node: typeof nodeA, method: string, path: string, body?: unknown) =>
  fetch(`${node.url}/api${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  redis = await startRedis();
  nodeA = await startServer({ workers: 1, redisUrl: redis.url, tokenSecret, nodeId: 'node-a' });
  nodeB = await startServer({ workers: 1, redisUrl: redis.url, tokenSecret, nodeId: 'node-b' });
  operatorToken = await nodeA.tokens.sign({ sid: '*', sub: 'chanh-vp', role: 'operator', name: 'Chánh văn phòng' });
});

afterAll(async () => {
  await Promise.all(participants.map((p) => p.stop()));
  await nodeB?.stop();
  await nodeA?.stop();
  await redis?.stop();
});

describe('two nodes on one Redis', () => {
  it('share the schedule: a session created on one node is known to the other', async () => {
    const res = await api(nodeA, 'POST', '/sessions', {
      id: sid,
      title: 'Hội nghị liên tỉnh',
      agenda: [{ title: 'Khai mạc' }, { title: 'Thảo luận' }],
    });
    expect(res.status).toBe(201);
    await waitFor('node B knows the session', () => nodeB.sessions.has(sid));
  });

  it('run a session on one node only and send browsers there', async () => {
    const room = await nodeA.sessions.room(sid);
    participants.push(await joinPlain(room, { identity: 'studio', role: 'studio', send: {} }));
    participants.push(await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars' } }));
    await expect(nodeB.sessions.room(sid)).rejects.toMatchObject({ code: 'moved', url: nodeA.url });
    const token = await nodeB.tokens.sign({ sid, sub: 'xa-b', role: 'point', name: 'Xã B' });
    const client = new RawSignaling(`${nodeB.url.replace('http', 'ws')}/ws?token=${token}`);
    expect(await client.closed).toEqual({ code: closeCodes.moved, reason: nodeA.url });
  });

  it("carry out the operator's actions on the node that runs the session", async () => {
    const room = await nodeA.sessions.room(sid);
    expect((await api(nodeB, 'POST', `/sessions/${sid}/live`)).status).toBe(204);
    expect(room.status).toBe('live');
    expect((await api(nodeB, 'PUT', `/sessions/${sid}/floor`, { identity: 'xa-a' })).status).toBe(204);
    expect(room.floor).toBe('xa-a');
    const refused = await api(nodeB, 'PUT', `/sessions/${sid}/floor`, { identity: 'nobody' });
    expect(refused.status).toBe(404);
    expect((await refused.json()).error.code).toBe('not-found');
    expect((await api(nodeB, 'POST', `/sessions/${sid}/peers/xa-a/mute`, { muted: true })).status).toBe(204);
    expect(room.snapshot().peers.find((p) => p.identity === 'xa-a')?.muted).toBe(true);
    expect((await api(nodeB, 'PUT', `/sessions/${sid}/agenda/current`, { itemId: 'item-2' })).status).toBe(200);
    await waitFor('agenda on the room', () => room.snapshot().agendaItem?.id === 'item-2');
  });

  it('show the roll call of a session running on the other node', async () => {
    const res = await api(nodeB, 'GET', `/sessions/${sid}/rollcall`);
    expect(res.status).toBe(200);
    const { points } = (await res.json()) as { points: { identity: string; state: string }[] };
    expect(points.find((p) => p.identity === 'xa-a')?.state).toBe('present');
  });

  it('let the other node take over once the first one stops', async () => {
    await Promise.all(participants.splice(0).map((p) => p.stop()));
    await nodeA.stop();
    const room = await nodeB.sessions.room(sid);
    expect(room.closed).toBe(false);
  });
});
