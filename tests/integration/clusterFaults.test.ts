/**
 * Redis killed outright (SIGKILL) and started again on the same port under
 * two nodes, while a session runs on node A with participants joined: once
 * with the append-only file the README asks for (Redis comes back with all
 * it acknowledged), once without persistence (Redis comes back empty).
 *
 * What users observe: neither node exits or leaves a fault unhandled; the
 * live meeting keeps its media and its participants throughout; during the
 * outage the API answers at once with a typed 503 `unavailable` in JSON; once
 * Redis is back, both nodes reconnect by themselves, node B still sends
 * browsers to node A, writes on either node reach the other, and operator
 * actions and revocations travel over pub/sub again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { startRedis, type RedisPersistence, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer } from '../helpers/server.js';
import { SignalingProbe, type Closed } from '../helpers/signalingProbe.js';

type Node = Awaited<ReturnType<typeof startServer>>;

const tokenSecret = 'a-secret-both-nodes-share-0123456789abcdef';
/**
 * "At once", by order: a refusal must come before this many in-memory
 * answers (GET /health on the same node, asked one after another from when
 * the refused request is sent). One refused without waiting lets by only the
 * one or two whose turn came while its token was checked (1–2 seen, loaded
 * machine or not); one that waits for anything (node-redis's offline queue,
 * a command timeout, a reconnect) lets dozens by first (50 are asked at most),
 * on a slow machine as on a fast one.
 */
const refusedBeforeHealthChecks = 10;

/** Faults nobody handled while the test ran: each would end a real node (see sfu/main.ts). */
const unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
});
afterAll(() => {
  process.off('unhandledRejection', record);
  process.off('uncaughtException', record);
});

interface Answer {
  status: number;
  type: string;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  ms: number;
}

/** Waits for the close of a socket, or says it did not come within `ms`. */
function closedWithin(probe: SignalingProbe, ms: number): Promise<Closed | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), ms)));
  return Promise.race([probe.closed, late]).finally(() => clearTimeout(timer));
}

describe.each<{ persistence: RedisPersistence; comesBack: string }>([
  { persistence: 'aof', comesBack: 'with its append-only file, as the README asks' },
  { persistence: 'none', comesBack: 'empty (no persistence)' },
])('Redis killed and restarted under two nodes, coming back $comesBack', ({ persistence }) => {
  const sid = `lien-tinh-${persistence}`;
  let redis: RedisServer;
  let nodeA: Node;
  let nodeB: Node;
  let operatorToken: string;
  let room: Room;
  let viewer: PlainParticipant;
  /** A point joined over signaling on node A before the fault. */
  let joinedPoint: SignalingProbe;
  const participants: PlainParticipant[] = [];
  const probes: SignalingProbe[] = [];
  let rtpCapabilities: unknown;
  let unique = 0;

  /** One API request, bounded: a request that hangs fails the test instead of the test hanging. */
  async function api(node: Node, method: string, path: string, body?: unknown): Promise<Answer> {
    const started = Date.now();
    const res = await fetch(`${node.url}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      type,
      body: text && type.includes('json') ? (JSON.parse(text) as Answer['body']) : { text },
      ms: Date.now() - started,
    };
  }

  /** `api`, while health checks on the same node go one after another: how many answered before it did (at most 50). */
  async function apiRacingHealth(node: Node, method: string, path: string, body?: unknown): Promise<Answer & { healthFirst: number }> {
    let answered = false;
    const answer = api(node, method, path, body).finally(() => (answered = true));
    let healthFirst = 0;
    while (!answered && healthFirst < 50) {
      const health = await fetch(`${node.url}/api/health`, { signal: AbortSignal.timeout(30_000) });
      await health.arrayBuffer();
      if (!answered) healthFirst++;
    }
    return { ...(await answer), healthFirst };
  }

  const wsUrl = (node: Node, token: string) => `${node.url.replace('http', 'ws')}/ws?token=${token}`;

  /** A registered point's link for this session, minted by `node` as the console would. */
  async function pointLink(node: Node, identity: string): Promise<string> {
    const res = await api(node, 'POST', `/sessions/${sid}/invitations`, { role: 'point', identity, name: identity });
    expect(res.status).toBe(201);
    return wsUrl(node, res.body.token as string);
  }

  async function joinOver(url: string): Promise<SignalingProbe> {
    const probe = await SignalingProbe.open(url);
    probes.push(probe);
    expect(await probe.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
    return probe;
  }

  /** Where node B sends a browser that asks for the session there ('still open': B admitted it to a Room of its own). */
  async function whereBSends(): Promise<Closed | 'still open'> {
    const token = await nodeB.tokens.sign({ sid, sub: `xa-ghe-${++unique}`, role: 'point', name: 'Xã ghé' });
    const probe = new SignalingProbe(wsUrl(nodeB, token));
    probes.push(probe);
    const outcome = await closedWithin(probe, 10_000);
    if (outcome === 'still open') probe.ws.terminate();
    return outcome;
  }

  /** The program (the studio, or the point with the floor) keeps reaching the viewer: this many more packets arrive. */
  async function mediaFlows(packets: number): Promise<void> {
    const received = () => [...viewer.sink!.packets.values()].reduce((sum, n) => sum + n, 0);
    const from = received();
    await waitFor('the program reaches the viewer', () => received() > from + packets, 20_000);
  }

  function meetingIntact(): void {
    expect(room.closed).toBe(false);
    expect(room.status).toBe('live');
    for (const identity of ['studio', 'xa-a', 'xem', 'xa-moi']) expect(room.peer(identity), identity).toBeDefined();
    expect(joinedPoint.closedWith).toBeUndefined();
  }

  /** A write through `node` that the store took (201), once the nodes reach Redis again. */
  async function writeAccepted(node: Node): Promise<void> {
    await waitFor(
      `${node.directory.node} writes to Redis again`,
      async () => (await api(node, 'POST', '/groups', { id: `nhom-${persistence}-${++unique}`, name: 'Nhóm' })).status === 201,
      30_000,
    );
  }

  beforeAll(async () => {
    redis = await startRedis({ persistence });
    nodeA = await startServer({ workers: 1, redisUrl: redis.url, tokenSecret, nodeId: 'node-a' });
    nodeB = await startServer({ workers: 1, redisUrl: redis.url, tokenSecret, nodeId: 'node-b' });
    operatorToken = await nodeA.tokens.sign({ sid: '*', sub: 'chanh-vp', role: 'operator', name: 'Chánh văn phòng' });
  });

  afterAll(async () => {
    for (const probe of probes) probe.ws.terminate();
    await Promise.all(participants.map((p) => p.stop()));
    await nodeB?.stop();
    await nodeA?.stop();
    await redis?.stop();
  });

  it('before the fault: a live session on node A with its participants; node B sends browsers there', async () => {
    expect((await api(nodeA, 'POST', '/sessions', { id: sid, title: 'Hội nghị liên tỉnh' })).status).toBe(201);
    expect((await api(nodeA, 'POST', '/points', { id: 'xa-moi', name: 'Xã Mới' })).status).toBe(201);
    await waitFor('node B knows the session and the point', () => nodeB.sessions.has(sid) && !!nodeB.points.findPoint('xa-moi'));
    room = await nodeA.sessions.room(sid);
    rtpCapabilities = room.rtpCapabilities;
    const studio = await joinPlain(room, { identity: 'studio', role: 'studio', send: {} });
    participants.push(studio);
    participants.push(await joinPlain(room, { identity: 'xa-a', role: 'point', send: { pattern: 'smptebars' } }));
    viewer = await joinPlain(room, { identity: 'xem', role: 'viewer', receive: true });
    participants.push(viewer);
    expect((await api(nodeB, 'POST', `/sessions/${sid}/live`)).status).toBe(204);
    await room.settled();
    // Before anything fails, the studio's picture is what the viewer receives.
    const studioSsrc = viewer.ssrcOf(studio.videoProducerId!)!;
    await waitFor('the studio’s picture reaches the viewer', () => viewer.sink!.count(studioSsrc) > 30, 20_000);
    joinedPoint = await joinOver(await pointLink(nodeA, 'xa-moi'));
    expect(await whereBSends()).toEqual({ code: closeCodes.moved, reason: nodeA.url });
    expect(unhandled).toEqual([]);
  });

  it('during the outage: nothing exits, the meeting goes on, the API answers 503 unavailable at once', async () => {
    await redis.kill();
    const killedAt = Date.now();

    // Writes are refused with a typed error, on both nodes, without hanging.
    await waitFor(
      'node A refuses writes',
      async () => (await api(nodeA, 'POST', '/groups', { id: `nhom-${persistence}-${++unique}`, name: 'Nhóm' })).status === 503,
    );
    const figures: string[] = [];
    for (const node of [nodeA, nodeB]) {
      const refused = await apiRacingHealth(node, 'POST', '/sessions', { id: `phien-${node.directory.node}`, title: 'Phiên' });
      expect(refused).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
      expect(refused.type).toMatch(/^application\/json/);
      expect(refused.healthFirst, `health checks answered before node ${node.directory.node} refused a write`).toBeLessThan(
        refusedBeforeHealthChecks,
      );
      figures.push(`write on node ${node.directory.node}: ${refused.ms} ms (${refused.healthFirst} health checks first)`);
    }
    // Node B cannot know where the session runs: the operator is told to try again, not left waiting.
    const forwarded = await apiRacingHealth(nodeB, 'POST', `/sessions/${sid}/peers/xa-a/mute`, { muted: true });
    expect(forwarded).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect(forwarded.healthFirst, 'health checks answered before node B refused to forward').toBeLessThan(refusedBeforeHealthChecks);
    figures.push(`forward on node B: ${forwarded.ms} ms (${forwarded.healthFirst} health checks first)`);
    console.log(`refusals while Redis is away (${persistence}): ${figures.join('; ')}`);

    // What lives in memory still answers.
    for (const node of [nodeA, nodeB]) {
      expect((await api(node, 'GET', '/health')).status).toBe(200);
      const list = await api(node, 'GET', '/sessions');
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).toContain(sid);
    }

    // The node that runs the meeting runs it on: the operator's floor, a point that rejoins.
    const floor = await api(nodeA, 'PUT', `/sessions/${sid}/floor`, { identity: 'xa-a' });
    expect(floor.status).toBe(204);
    expect(room.floor).toBe('xa-a');
    const rejoined = await joinOver(wsUrl(nodeA, await nodeA.tokens.sign({ sid, sub: 'xa-lai', role: 'point', name: 'Xã Lại' })));
    expect(room.peer('xa-lai')).toBeDefined();
    rejoined.ws.close();

    // A browser that reaches node B is asked to try again (it retries by itself), not told its link is invalid.
    expect(await whereBSends()).toMatchObject({ code: closeCodes.busy });

    await mediaFlows(50);
    meetingIntact();

    if (persistence === 'aof') {
      // The outage outlasts the time after which a silent node's sessions are taken over:
      // node A was not silent, Redis was, and must not lose its session to node B for it.
      await waitFor('an outage longer than the takeover time', () => Date.now() - killedAt > nodeA.directory.ttlMs + 1000, 60_000);
      await mediaFlows(50);
      meetingIntact();
    }
    expect(unhandled).toEqual([]);
    // The outage lasts longer than the takeover time on purpose: room for that, and for two busy cores.
  }, 120_000);

  it('after Redis returns: both nodes reconnect by themselves and node B still sends browsers to node A', async () => {
    await redis.restart();
    await writeAccepted(nodeB);
    // The first thing node B can do once it reaches Redis: it must not take the session running on A. Right after
    // an emptied Redis, B may not know yet and asks the browser to try again (4503), as the browser then does.
    let sent: Closed | 'still open' | undefined;
    await waitFor(
      'node B tells where the session runs',
      async () => {
        sent = await whereBSends();
        return sent === 'still open' || sent.code !== closeCodes.busy;
      },
      20_000,
    );
    expect(sent).toEqual({ code: closeCodes.moved, reason: nodeA.url });
    expect(await nodeB.sessions.runningRoom(sid)).toBeUndefined();
    await writeAccepted(nodeA);
    expect(await whereBSends()).toEqual({ code: closeCodes.moved, reason: nodeA.url });
    await expect(nodeB.sessions.room(sid)).rejects.toMatchObject({ code: 'moved', url: nodeA.url });
    expect(await nodeA.directory.owner(sid)).toMatchObject({ node: 'node-a', url: nodeA.url });
    expect(nodeA.sessions.has(sid) && nodeB.sessions.has(sid)).toBe(true);
    meetingIntact();
    expect(unhandled).toEqual([]);
  });

  it.runIf(persistence === 'aof')('after Redis returns with its file: nothing written before the fault is lost', async () => {
    expect(await nodeB.store.get('sessions', sid)).toMatchObject({ id: sid, status: 'live' });
    expect(await nodeB.store.get('points', 'xa-moi')).toMatchObject({ id: 'xa-moi', name: 'Xã Mới' });
    const audit = await nodeB.store.readLog<{ action: string; target?: string }>('audit');
    expect(audit.map((e) => `${e.action} ${e.target ?? ''}`)).toEqual(expect.arrayContaining(['point.create xa-moi']));
  });

  it('after Redis returns: writes on either node reach the other, operator actions and revocations travel again', async () => {
    // Sessions and points written on one node are known on the other (store and pub/sub).
    expect((await api(nodeA, 'POST', '/sessions', { id: `sau-${persistence}`, title: 'Phiên sau sự cố' })).status).toBe(201);
    await waitFor('node B knows the new session', () => nodeB.sessions.has(`sau-${persistence}`));
    expect((await api(nodeB, 'POST', '/points', { id: 'xa-sau', name: 'Xã Sau' })).status).toBe(201);
    await waitFor('node A knows the new point', () => !!nodeA.points.findPoint('xa-sau'));
    expect((await api(nodeA, 'GET', '/points/xa-sau')).status).toBe(200);

    // Operator actions on node B are carried to node A, where the session runs.
    expect((await api(nodeB, 'DELETE', `/sessions/${sid}/floor`)).status).toBe(204);
    expect(room.floor).toBeNull();
    expect((await api(nodeB, 'PUT', `/sessions/${sid}/floor`, { identity: 'xa-a' })).status).toBe(204);
    expect(room.floor).toBe('xa-a');
    expect((await api(nodeB, 'POST', `/sessions/${sid}/peers/xa-a/mute`, { muted: true })).status).toBe(204);
    expect(room.snapshot().peers.find((p) => p.identity === 'xa-a')?.muted).toBe(true);
    const rollCall = await api(nodeB, 'GET', `/sessions/${sid}/rollcall`);
    expect(rollCall.status).toBe(200);
    expect((rollCall.body.points as { identity: string; state: string }[]).find((p) => p.identity === 'xa-a')?.state).toBe('present');

    // A point revoked on node B is removed from the meeting on node A at once (channel 'points'), not at a later heartbeat.
    const revocable = await joinOver(await pointLink(nodeA, 'xa-sau'));
    expect(room.peer('xa-sau')).toBeDefined();
    expect((await api(nodeB, 'POST', '/points/xa-sau/revoke')).status).toBe(200);
    expect(await closedWithin(revocable, 8000)).toEqual({ code: closeCodes.removed, reason: 'removed' });
    expect(room.peer('xa-sau')).toBeUndefined();

    await mediaFlows(50);
    meetingIntact();
    expect(unhandled).toEqual([]);
  });
});
