/**
 * A signaling fuzzer: over 10,000 hostile messages and frames from a seeded
 * generator (FUZZ_SEED reproduces a run), over one connection per role and
 * over sockets with no or bad tokens. Every text request with a valid id gets
 * exactly one reply, ok or a protocol error, never a stack trace; every other
 * frame one reply with id -1; the server never goes down, and a real studio
 * and point still join and set up media afterwards.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { can, closeCodes, errorBodySchema, type ReplyMessage, type Role } from '../../protocol/index.js';
import { requiredAction } from '../../sfu/signaling/handlers.js';
import { allMethods, expectedId, hostileFrame, seededRng, type FuzzContext, type Rng } from '../helpers/signalingFuzz.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

const seed = Number(process.env.FUZZ_SEED ?? 20_251_130);
const framesPerConnection = 2100;
/** Frames in flight per connection before it waits for their replies. */
const batch = 300;
/** Methods that would end the session or start an encoder: sent only to roles that may not use them. */
const destructive = new Set(['session.end', 'recording.start']);

let server: Awaited<ReturnType<typeof startServer>>;
let rtpCapabilities: unknown;
const uncaught: unknown[] = [];
const recordUncaught = (error: unknown) => uncaught.push(error);
const wsUrl = (token?: string) =>
  `${server.url.replace('http', 'ws')}/ws${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

beforeAll(async () => {
  process.on('uncaughtException', recordUncaught);
  // The rate limit is tested elsewhere: here every request must reach the handlers.
  server = await startServer({ workers: 1, maxRequestsPerSecond: 10_000 });
  await server.sessions.create({ id: 'fuzz', title: 'Fuzz' });
  rtpCapabilities = (await server.sessions.room('fuzz')).rtpCapabilities;
});

afterAll(async () => {
  await server?.stop();
  process.off('uncaughtException', recordUncaught);
});

/** One fuzzed connection and the replies it is owed. */
class FuzzConnection {
  readonly ws: WebSocket;
  readonly owed = new Map<number, number>();
  readonly answered = new Map<number, number>();
  readonly codes: Record<string, number> = {};
  readonly kinds: Record<string, number> = {};
  readonly problems: string[] = [];
  readonly ctx: FuzzContext;
  readonly closed: Promise<number>;
  readonly opened: Promise<void>;
  #settled: () => void = () => {};
  #nextId = 1;

  constructor(
    token: string,
    readonly role: Role,
    identities: string[],
  ) {
    this.ws = new WebSocket(wsUrl(token));
    this.ws.on('error', () => {});
    this.ctx = {
      rtpCapabilities,
      identities,
      methods: allMethods.filter((m) => !(destructive.has(m) && can(role, requiredAction[m as keyof typeof requiredAction]))),
      transportIds: [],
    };
    this.ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)));
    // Listened for at once: the socket may open before anyone awaits it.
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      void this.closed.then((code) => reject(new Error(`closed with ${code}`)));
    });
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return void this.problems.push('a binary frame from the server');
    const message = JSON.parse(data.toString('utf8')) as ReplyMessage | { notification: string };
    if ('notification' in message) return;
    this.answered.set(message.id, (this.answered.get(message.id) ?? 0) + 1);
    if (message.ok) {
      this.codes.ok = (this.codes.ok ?? 0) + 1;
      const transportId = (message.data as { id?: unknown; iceParameters?: unknown } | undefined)?.id;
      if (typeof transportId === 'string' && (message.data as { iceParameters?: unknown }).iceParameters)
        this.ctx.transportIds.push(transportId);
    } else {
      const error = errorBodySchema.safeParse(message.error);
      if (!error.success) this.problems.push(`reply ${message.id}: not a protocol error: ${JSON.stringify(message.error)}`);
      else {
        this.codes[error.data.code] = (this.codes[error.data.code] ?? 0) + 1;
        if (/\n\s+at /.test(error.data.message)) this.problems.push(`reply ${message.id}: a stack trace`);
      }
    }
    this.#settled();
  }

  /** Sends frames and resolves once each has been answered (or rejects when the socket closes). */
  async send(frames: (string | Buffer)[], timeoutMs = 15_000): Promise<void> {
    for (const frame of frames) {
      const id = typeof frame === 'string' ? expectedId(frame) : -1;
      this.owed.set(id, (this.owed.get(id) ?? 0) + 1);
      this.ws.send(frame);
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = [...this.owed].filter(([id, count]) => (this.answered.get(id) ?? 0) < count).map(([id]) => id);
        reject(new Error(`${this.role}: no reply to ${missing.join(', ')} after ${timeoutMs} ms`));
      }, timeoutMs);
      void this.closed.then((code) => reject(new Error(`${this.role}: closed with ${code}`)));
      this.#settled = () => {
        for (const [id, count] of this.owed) if ((this.answered.get(id) ?? 0) < count) return;
        clearTimeout(timer);
        resolve();
      };
      this.#settled();
    });
  }

  fuzz(rng: Rng): (string | Buffer)[] {
    return Array.from({ length: batch }, () => {
      const { kind, frame } = hostileFrame(rng, () => this.#nextId++, this.ctx);
      this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
      return frame;
    });
  }
}

it(`answers ${framesPerConnection * 5} hostile messages one by one and keeps serving (seed ${seed})`, async () => {
  const started = performance.now();
  const members: [Role, string][] = [
    ['point', 'fz-point-a'],
    ['point', 'fz-point-b'],
    ['studio', 'fz-studio'],
    ['viewer', 'fz-viewer'],
    ['operator', 'fz-operator'],
  ];
  const identities = members.map(([, sub]) => sub);
  const connections = await Promise.all(
    members.map(async ([role, sub]) => new FuzzConnection(await tokenFor(server, 'fuzz', sub, role), role, identities)),
  );
  for (const c of connections) await c.opened;
  // Once the server has taken each socket in (its first reply), the fuzz begins.
  await Promise.all(connections.map((c) => c.send([JSON.stringify({ id: 0, method: 'router.capabilities' })])));

  // Each connection has its own generator, seeded from the run's seed: its frames are the same on every run.
  await Promise.all(
    connections.map(async (c, i) => {
      const rng = seededRng(seed + i);
      for (let sent = 0; sent < framesPerConnection; sent += batch) await c.send(c.fuzz(rng));
    }),
  );

  const total = connections.reduce((n, c) => n + [...c.owed.values()].reduce((a, b) => a + b, 0), 0) - connections.length;
  const codes: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  for (const c of connections) {
    for (const [code, n] of Object.entries(c.codes)) codes[code] = (codes[code] ?? 0) + n;
    for (const [kind, n] of Object.entries(c.kinds)) kinds[kind] = (kinds[kind] ?? 0) + n;
    expect(c.problems).toEqual([]);
    // Exactly one reply per request with a valid id, and one per other frame (id -1).
    for (const [id, count] of c.owed) expect(c.answered.get(id), `replies to ${c.role} request ${id}`).toBe(count);
    for (const id of c.answered.keys()) expect(c.owed.has(id), `an unasked reply ${id}`).toBe(true);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`fuzz seed ${seed}: ${total} frames in ${seconds} s`, { kinds, codes });
  expect(total).toBeGreaterThanOrEqual(10_000);
  expect(codes.internal ?? 0).toBe(0);
  expect(uncaught).toEqual([]);
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  for (const c of connections) c.ws.close();
  await Promise.all(connections.map((c) => c.closed));
});

it('closes sockets without a valid token with 4401, whatever they send first', async () => {
  const rng = seededRng(seed + 100);
  const expired = await server.tokens.sign({ sid: 'fuzz', sub: 'late', role: 'point', name: 'Late' }, -10);
  const tokens: (string | undefined)[] = [
    undefined,
    '',
    'a.b.c',
    'x'.repeat(8000),
    (await tokenFor(server, 'fuzz', 'forged', 'operator')).slice(0, -4) + 'AAAA',
    expired,
    await tokenFor(server, 'no-such-session', 'p', 'point'),
  ];
  const ctx: FuzzContext = { rtpCapabilities, identities: ['x'], methods: allMethods, transportIds: [] };
  let nextId = 1;
  const codes = await Promise.all(
    tokens.map((token) => {
      const ws = new WebSocket(wsUrl(token));
      ws.on('error', () => {});
      const frames = Array.from({ length: 20 }, () => hostileFrame(rng, () => nextId++, ctx).frame);
      ws.once('open', () => {
        for (const frame of frames) ws.send(frame);
      });
      return new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    }),
  );
  // Deep-nesting frames are large: a socket may be closed for sending too much before its token is checked.
  for (const code of codes) expect([closeCodes.unauthorized, closeCodes.flooding]).toContain(code);
  expect(codes.filter((c) => c === closeCodes.unauthorized).length).toBeGreaterThan(0);
  expect(uncaught).toEqual([]);
});

it('still lets a real studio and point join and set up media after the fuzz', async () => {
  expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  const studio = await SignalingProbe.open(wsUrl(await tokenFor(server, 'fuzz', 'real-studio', 'studio')));
  const point = await SignalingProbe.open(wsUrl(await tokenFor(server, 'fuzz', 'real-point', 'point')));
  expect(await studio.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
  const send = await studio.request('transport.create', { direction: 'send' });
  expect(send).toMatchObject({ ok: true });
  const transportId = (send as { data: { id: string } }).data.id;
  const produced = await studio.request('produce', {
    transportId,
    kind: 'video',
    source: 'camera',
    rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 4242 }] },
  });
  expect(produced).toMatchObject({ ok: true });
  const producerId = (produced as { data: { producerId: string } }).data.producerId;
  expect(await studio.request('session.goLive', {})).toMatchObject({ ok: true });

  expect(await point.request('join', { rtpCapabilities })).toMatchObject({ ok: true });
  const program = point.notified('consumer.new', (d) => (d as { producerId: string }).producerId === producerId);
  expect(await point.request('transport.create', { direction: 'recv' })).toMatchObject({ ok: true });
  const consumer = (await program) as { consumerId: string; identity: string; program: boolean };
  expect(consumer).toMatchObject({ identity: 'real-studio', program: true });
  expect(await point.request('consumer.resume', { consumerId: consumer.consumerId })).toMatchObject({ ok: true });
  await studio.close();
  await point.close();
  expect(uncaught).toEqual([]);
});
