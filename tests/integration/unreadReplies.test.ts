/**
 * A client that stops reading its replies, played from outside on a raw
 * socket: it keeps asking (well under the request rate) and answers the
 * heartbeat with pongs of its own making, while the kernel's socket buffers
 * would take megabytes before anything waited in the server. The server lets
 * it go as soon as its unread replies pass the limit — not at a heartbeat,
 * not after the kernel is full — and only it: a client that reads keeps its
 * connection however much it is sent, and is served throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Room } from '../../sfu/room/Room.js';
import { frame, opcodes, RawWebSocket, textFrame } from '../helpers/rawWebSocket.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';
import { SignalingProbe } from '../helpers/signalingProbe.js';

type TestServer = Awaited<ReturnType<typeof startServer>>;

let server: TestServer;
let room: Room;
let reader: SignalingProbe;
const sid = 'khong-doc';
/** The smallest limit the configuration allows, so that a few dozen replies pass it. */
const limitKb = 64;

const wsUrl = async (sub: string) => `${server.url.replace('http', 'ws')}/ws?token=${await tokenFor(server, sid, sub, 'point')}`;
const connected = (sub: string) => [...server.signaling.connections].some((c) => c.claims.sub === sub);

/** Resolves when `identity` leaves the room. */
const leaving = (identity: string) =>
  new Promise<void>((resolve) => {
    const onPresence = (who: string, present: boolean) => {
      if (who !== identity || present) return;
      room.off('presence', onPresence);
      resolve();
    };
    room.on('presence', onPresence);
  });

/** `promise`, or a failure naming `what` once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  // A generous request rate: the point is what a client does not read, not how fast it asks.
  server = await startServer({ workers: 1, maxSendBufferKb: limitKb, maxRequestsPerSecond: 1000 });
  await server.sessions.create({ id: sid, title: 'Phiên có người không đọc' });
  room = await server.sessions.room(sid);
  reader = await SignalingProbe.open(await wsUrl('doc-deu'));
  expect(await reader.request('join', { rtpCapabilities: room.rtpCapabilities })).toMatchObject({ ok: true });
});

afterAll(async () => {
  await reader?.close();
  await server?.stop();
});

describe('replies nobody reads', () => {
  it('keeps a client that reads, however many times the limit it is sent', async () => {
    let received = 0;
    while (received < 4 * limitKb * 1024) {
      const reply = await reader.request('router.capabilities', {});
      expect(reply).toMatchObject({ ok: true });
      received += JSON.stringify(reply).length;
    }
    expect(reader.closedWith).toBeUndefined();
    expect(connected('doc-deu')).toBe(true);
  });

  it('lets go of a client that stops reading once its unread replies pass the limit, whatever pongs it makes up', async () => {
    const sleeper = new RawWebSocket(await wsUrl('ngu-gat'));
    await sleeper.write(textFrame(JSON.stringify({ id: 1, method: 'join', data: { rtpCapabilities: room.rtpCapabilities } })));
    expect(await sleeper.until(() => sleeper.messages().some((m) => (m as { id?: number }).id === 1), 15_000)).toBe(true);
    const left = leaving('ngu-gat');

    // From here on it reads nothing; it asks for ~4 KB replies, a few times the limit in all, and pongs unasked.
    sleeper.stopReading();
    const requests = Array.from({ length: 60 }, (_, i) => textFrame(JSON.stringify({ id: 2 + i, method: 'router.capabilities' })));
    await sleeper.write(Buffer.concat([...requests, frame({ opcode: opcodes.pong, payload: 'van dang nghe' })]));

    // Out of the session at once: the kernel would have taken all of it, and the next heartbeat is up to 10 s away.
    await within(left, 3000, 'the client that does not read leaves the session');
    expect(room.peer('ngu-gat')).toBeUndefined();
    // Its socket goes when the close is not answered (5 s).
    await waitFor('its socket to be cut', () => !connected('ngu-gat'), 10_000);
    sleeper.destroy();

    // Everyone else is served as before.
    expect(await reader.request('hand.raise', { raised: true })).toMatchObject({ ok: true });
    expect(reader.closedWith).toBeUndefined();
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });

  it('does not take a pong it made up for an answer: a client that reads nothing is cut at the heartbeat', async () => {
    const idle = new RawWebSocket(await wsUrl('lang-im'));
    await idle.write(textFrame(JSON.stringify({ id: 1, method: 'join', data: { rtpCapabilities: room.rtpCapabilities } })));
    expect(await idle.until(() => idle.messages().some((m) => (m as { id?: number }).id === 1), 15_000)).toBe(true);
    const left = leaving('lang-im');
    idle.stopReading();
    // It asks for nothing and says it is alive every second, never having read the server's pings.
    const madeUp = setInterval(() => void idle.write(frame({ opcode: opcodes.pong, payload: 'van song' })), 1000);
    try {
      // The heartbeat pings every 10 s and cuts a socket that did not answer the one before.
      await within(left, 25_000, 'the client that reads nothing leaves the session');
    } finally {
      clearInterval(madeUp);
      idle.destroy();
    }
    expect(reader.closedWith).toBeUndefined();
  }, 30_000);
});
