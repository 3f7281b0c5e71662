/**
 * One attack of the soak (tests/soak/run.ts), run in its own process until a
 * given time. Argument: JSON { name, until, url, pointTokens }. Prints one line
 * saying what it did.
 */
import WebSocket from 'ws';
import { frame, opcodes, RawWebSocket, textFrame } from '../helpers/rawWebSocket.js';

const { name, until, url, pointTokens } = JSON.parse(process.argv[2] ?? '{}') as {
  name: string;
  until: number;
  url: string;
  pointTokens: string[];
};
const wsUrl = url.replace('http', 'ws');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Attack = (until: number) => Promise<string>;

/**
 * Ten clients that never read their replies once their socket is open: five
 * send small requests as fast as the server takes them (the request rate lets
 * them go), five stay under the rate and answer the heartbeat with pongs of
 * their own (their unread replies let them go). Each waits for its first
 * reply, so that what follows reaches the connection, not the token check.
 */
const unreadReplies: Attack = async (until) => {
  const request = (n: number) => textFrame(JSON.stringify({ id: n, method: 'router.capabilities', data: {} }));
  const madeUpPong = frame({ opcode: opcodes.pong, payload: 'still here' });
  const closedAfterMs: number[] = [];
  let sent = 0;
  await Promise.all(
    pointTokens.slice(0, 10).map(async (token, i) => {
      const socket = new RawWebSocket(`${wsUrl}/ws?token=${token}`);
      await socket.write(request(0));
      if (!(await socket.until(() => socket.messages().length > 0, 15_000))) return socket.destroy();
      socket.stopReading();
      const started = Date.now();
      // Not reading, it sees the server's close only when a write fails: every loop below keeps writing.
      socket.socket.once('close', () => Date.now() < until && closedAfterMs.push(Date.now() - started));
      if (i < 5) {
        while (Date.now() < until && !socket.socket.destroyed) {
          await socket.flood(request, 2000);
          sent += 2000;
        }
      } else {
        for (let n = 1; Date.now() < until && !socket.socket.destroyed; n++) {
          await socket.write(n % 25 === 0 ? Buffer.concat([request(n), madeUpPong]) : request(n));
          sent++;
          await sleep(40);
        }
      }
      socket.destroy();
    }),
  );
  const slowest = closedAfterMs.length ? `, the last after ${(Math.max(...closedAfterMs) / 1000).toFixed(1)} s` : '';
  return `${sent} requests sent, ${closedAfterMs.length}/10 sockets closed by the server${slowest}`;
};

/** Frames no WebSocket library would send, over and over, from fresh connections. */
const malformedFrames: Attack = async (until) => {
  const bad = [
    frame({ opcode: opcodes.text, payload: Buffer.from([0xc3, 0x28]) }),
    frame({ opcode: opcodes.text, payload: 'x', mask: false }),
    frame({ opcode: 0x3, payload: 'reserved' }),
    frame({ opcode: opcodes.text, payload: 'x', rsv: 0b100 }),
    frame({ opcode: opcodes.continuation, payload: 'orphan' }),
    frame({ opcode: opcodes.binary, announcedLength: 2n ** 62n }),
    frame({ opcode: opcodes.ping, payload: Buffer.alloc(200) }),
    frame({ opcode: opcodes.close, payload: Buffer.from([0x03]) }),
  ];
  let connections = 0;
  while (Date.now() < until) {
    await Promise.all(
      bad.map(async (bytes) => {
        const socket = new RawWebSocket(`${wsUrl}/ws?token=${pointTokens[11]}`, bytes);
        await socket.connected.catch(() => undefined);
        await sleep(50);
        socket.socket.destroy();
      }),
    );
    connections += bad.length;
  }
  return `${connections} connections with malformed frames`;
};

/** Wrong passwords from four addresses, sixteen at a time. */
const signInFlood: Attack = async (until) => {
  let attempts = 0;
  let limited = 0;
  const addresses = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      while (Date.now() < until) {
        const res = await fetch(`${url}/api/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: url, 'x-forwarded-for': addresses[worker % 4] },
          body: JSON.stringify({ username: 'admin', password: `wrong-${attempts}` }),
        }).catch(() => undefined);
        attempts++;
        if (res?.status === 429) limited++;
        await res?.text();
      }
    }),
  );
  return `${attempts} attempts, ${limited} answered 429`;
};

/** Points that join, ask for transports and vanish before the answers come. */
const vanishingTransports: Attack = async (until) => {
  let rounds = 0;
  while (Date.now() < until) {
    const token = pointTokens[rounds % 10];
    const ws = new WebSocket(`${wsUrl}/ws?token=${token}`);
    await new Promise((resolve) => ws.once('open', resolve).once('error', resolve).once('close', resolve));
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ id: 1, method: 'router.capabilities', data: {} }));
      const capabilities = await new Promise<unknown>((resolve) =>
        ws.once('message', (raw) => resolve((JSON.parse((raw as Buffer).toString('utf8')) as { data?: unknown }).data)),
      );
      ws.send(JSON.stringify({ id: 2, method: 'join', data: { rtpCapabilities: capabilities } }));
      for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ id: 3 + i, method: 'transport.create', data: { direction: 'recv' } }));
      ws.terminate();
    }
    rounds++;
  }
  return `${rounds} points vanished while their transports were made`;
};

const attacks: Record<string, Attack> = {
  'replies nobody reads': unreadReplies,
  'malformed frames': malformedFrames,
  'sign-in flood': signInFlood,
  'vanishing transports': vanishingTransports,
};
const attack = attacks[name];
if (!attack) throw new Error(`no attack named ${name}`);
console.log(await attack(until));
process.exit(0);
