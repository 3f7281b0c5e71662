/**
 * The encoder ingest attacked from outside, on loopback: a whole server with
 * RTMP, RTMPS (a self-signed certificate) and SRT, real sockets and real
 * ffmpeg encoders. Hostile TLS clients (floods past the connection limit,
 * half a ClientHello, renegotiation, garbage after the handshake, a client
 * trickling its RTMP handshake), hostile requests to the backup setting, the
 * backup switched off while one connects, SRT callers with a wrong
 * passphrase, and srt-live-transmit or its relay ffmpeg killed by pid. Each
 * time what an operator would see: the server answers /api/health, a real
 * encoder goes on air, bad requests get the protocol's JSON error, and no
 * process, studio or statistics pipe is left behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorBodySchema, httpStatusOf, type IngestAddress, type SessionIngest } from '../../protocol/index.js';
import type { Room } from '../../sfu/room/Room.js';
import { rawRequest, type RawResponse } from '../helpers/attackClient.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { apiFetch, readIngest } from '../helpers/ingestApi.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'tan-cong-ingest';
let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
let room: Room;
let certDir: string;
/** The statistics pipes' folders (diemcau-srt-*) there were before this file's server started: another test's are not ours. */
let fifoDirsBefore: Set<string>;
const pushes: EncoderPush[] = [];
const sockets: net.Socket[] = [];

function push(target: string): EncoderPush {
  const p = pushEncoder(target);
  pushes.push(p);
  return p;
}

const ingest = () => readIngest(server.url, sid, operator);
const rtmpTarget = (i: SessionIngest, secure = false) => {
  const a = i.addresses.find((x) => x.protocol === 'rtmp' && (x.tls ?? false) === secure)!;
  return `${a.url}/${a.streamKey}`;
};
const srtAddress = (i: SessionIngest): IngestAddress => i.addresses.find((a) => a.protocol === 'srt')!;

/** The server answers its health check (within 5 s: a server whose event loop is held does not). */
async function healthy(): Promise<boolean> {
  const res = await fetch(`${server.url}/api/health`, { signal: AbortSignal.timeout(5000) });
  return res.status === 200;
}

/** This process's children by command name, the test's own encoders left out (Linux: /proc). */
function serverChildren(name: 'ffmpeg' | 'srt-live-transm'): number[] {
  const ours = new Set(pushes.map((p) => p.process.pid));
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || ours.has(Number(entry))) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z' && stat.includes(`(${name})`)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const fifoDirs = () => fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('diemcau-srt-'));

/** A raw TCP client of a port that swallows errors and what it is sent; destroyed after the file. */
function rawSocket(port: number, localAddress = '127.0.0.1'): net.Socket {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  socket.resume();
  sockets.push(socket);
  return socket;
}

function closedWithin(socket: net.Socket, ms: number, what: string): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A TLS client of the RTMPS port, resolved once its handshake is done. */
function tlsClient(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
  socket.on('error', () => {});
  // What the server answers is not read, only whether it hangs up (a paused socket would not see its end).
  socket.resume();
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('close', () => reject(new Error('the TLS handshake did not complete')));
  });
}

/** The first bytes of a TLS 1.2 ClientHello (a record header announcing 512 bytes, then only part of them). */
const halfClientHello = Buffer.from('160301020001' + '0001fc0303' + '11'.repeat(40), 'hex');

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-attack-tls-'));
  const certFile = path.join(certDir, 'cert.pem');
  const keyFile = path.join(certDir, 'key.pem');
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
  ], { stdio: 'ignore' });
  fifoDirsBefore = new Set(fifoDirs());
  server = await startServer({ rtmpsPort: 0, tlsCert: certFile, tlsKey: keyFile });
  await server.sessions.create({ id: sid, title: 'Phiên thử tấn công bàn phát' });
  operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
  room = await server.sessions.room(sid);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(pushes.map((p) => p.stop()));
  await server?.stop();
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

describe('the backup setting (PUT /api/sessions/:sid/ingest/backup) attacked', () => {
  const errorShape = z.object({ error: errorBodySchema.strict() }).strict();

  /** Why an answer is not the protocol's JSON error with the status its code says, or undefined when it is. */
  function problemWith(res: RawResponse, status: number): string | undefined {
    if (res.status !== status) return `status ${res.status}, not ${status}: ${res.body.slice(0, 120)}`;
    if (!/^application\/json/.test(res.headers['content-type'] ?? '')) return `content-type ${res.headers['content-type']}`;
    const parsed = errorShape.safeParse(JSON.parse(res.body || 'null'));
    if (!parsed.success) return `not { error: { code, message } }: ${res.body.slice(0, 120)}`;
    const { code } = parsed.data.error;
    const expected = code === 'bad-request' && [413, 415].includes(res.status) ? res.status : httpStatusOf[code];
    return res.status === expected ? undefined : `status ${res.status} for code ${code}`;
  }

  const put = (token: string | null, body: string | Buffer, session = sid, contentType = 'application/json') =>
    rawRequest(server.url, {
      method: 'PUT',
      path: `/api/sessions/${session}/ingest/backup`,
      headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });

  it('refuses the anonymous, the wrong roles, other sessions and bad bodies with a typed error, and changes nothing', async () => {
    const viewer = await tokenFor(server, sid, 'khan-gia', 'viewer');
    const point = await tokenFor(server, sid, 'diem-xa', 'point');
    const otherSession = await tokenFor(server, 'phien-khac', 'dieu-hanh', 'operator');
    const allow = JSON.stringify({ allow: true });
    const cases: { why: string; res: Promise<RawResponse>; status: number }[] = [
      { why: 'no token', res: put(null, allow), status: 401 },
      { why: 'a forged token', res: put('abc.def.ghi', allow), status: 401 },
      { why: 'a viewer', res: put(viewer, allow), status: 403 },
      { why: 'a point', res: put(point, allow), status: 403 },
      { why: "another session's operator", res: put(otherSession, allow), status: 403 },
    ];
    const badBodies = [
      '{"allow":"true"}',
      '{"allow":1}',
      '{"allow":null}',
      '{}',
      '[true]',
      'true',
      '"allow"',
      '{"allow":',
      '{"allow":[true]}',
    ];
    for (const body of badBodies) cases.push({ why: `body ${body}`, res: put(operator, body), status: 400 });
    cases.push({ why: 'a 2 MB body', res: put(operator, `{"allow":true,"x":"${'a'.repeat(2 * 1024 * 1024)}"}`), status: 413 });
    cases.push({ why: 'not JSON', res: put(operator, 'allow=true', sid, 'application/x-www-form-urlencoded'), status: 400 });
    const unknown = await tokenFor(server, 'khong-co', 'dieu-hanh', 'operator');
    cases.push({ why: 'an unknown session', res: put(unknown, allow, 'khong-co'), status: 404 });
    const problems: string[] = [];
    for (const c of cases) {
      const problem = problemWith(await c.res, c.status);
      if (problem) problems.push(`${c.why}: ${problem}`);
    }
    expect(problems).toEqual([]);
    expect((await ingest()).allowBackup).toBe(false);
    // Extra keys are ignored, not taken: the setting is the boolean alone.
    const res = await put(operator, '{"allow":false,"sessionId":"phien-khac","__proto__":{"allow":true}}');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as SessionIngest).allowBackup).toBe(false);
    expect(await healthy()).toBe(true);
  });

  it('switched off while a backup is connecting: no ghost studio, no ffmpeg left, the main stays on air', async () => {
    const target = rtmpTarget(await ingest());
    const main = push(target);
    await waitFor('the main encoder on air', () => !!room.peer('encoder')?.producerOf('video'), 30_000);
    // Its feed's ffmpeg is started just after its picture's producer (and is named setpriv until it execs ffmpeg).
    await waitFor("the main's feed converting", () => serverChildren('ffmpeg').length >= 1, 10_000);
    const feedsOfMain = serverChildren('ffmpeg').length;
    try {
      await toggleRounds(target, feedsOfMain);
      expect(main.process.exitCode).toBeNull();
      expect(room.peer('encoder')?.producerOf('video')).toBeTruthy();
      expect((await ingest()).feed).toMatchObject({ protocol: 'rtmp' });
    } finally {
      // Whatever failed above, the next cases find the session free.
      await main.stop();
      await waitFor('the main encoder gone', async () => (await ingest()).feed === null, 20_000);
    }
    await waitFor('no feed ffmpeg left', () => serverChildren('ffmpeg').length === 0, 10_000);
  });

  async function toggleRounds(target: string, feedsOfMain: number): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const on = await apiFetch(server.url, `/api/sessions/${sid}/ingest/backup`, operator, {
        method: 'PUT',
        body: JSON.stringify({ allow: true }),
      });
      expect(on.status).toBe(200);
      const backup = push(target);
      // Held and connecting (on a quick machine perhaps already a silent studio): the moment to switch it off.
      await waitFor('the backup connecting', () => server.ingest.backupStatus(sid) !== null || backup.process.exitCode !== null, 20_000);
      const allowBackup = (allow: boolean) =>
        apiFetch(server.url, `/api/sessions/${sid}/ingest/backup`, operator, { method: 'PUT', body: JSON.stringify({ allow }) });
      // Off and on at once (either may be handled first), then off: the last request decides,
      // and a backup let in meanwhile is cut off by it.
      for (const res of await Promise.all([allowBackup(false), allowBackup(true)])) expect(res.status).toBe(200);
      expect((await allowBackup(false)).status).toBe(200);
      expect((await ingest()).allowBackup).toBe(false);
      await waitFor('the backup cut off', async () => (await ingest()).backup === null && backup.process.exitCode !== null, 20_000);
      await waitFor('no ghost studio', () => room.peer('encoder-backup') === undefined, 10_000);
      await waitFor('no ffmpeg of the backup left', () => serverChildren('ffmpeg').length <= feedsOfMain, 10_000);
    }
  }
});

describe('the RTMPS port attacked', () => {
  it('survives floods, half handshakes, renegotiation, garbage and tricklers while a real encoder goes on air', async () => {
    const port = server.ingest.rtmpsPort!;
    expect(port).toBeGreaterThan(0);
    // A flood past the connection limit (32): half ClientHellos held open, then full handshakes done and dropped.
    const flood: net.Socket[] = [];
    for (let i = 0; i < 48; i++) {
      const s = rawSocket(port);
      s.write(halfClientHello);
      flood.push(s);
    }
    expect(await healthy()).toBe(true);
    // Held open half way: cut off by the handshake's 5 s bound.
    await Promise.all(flood.map((s, i) => closedWithin(s, 12_000, `flood connection ${i}`)));
    for (let i = 0; i < 40; i++) (await tlsClient(port)).destroy();
    expect(await healthy()).toBe(true);

    // Garbage after a completed handshake: cut off.
    const garbage = await tlsClient(port);
    garbage.write(Buffer.alloc(70_000, 0xfe));
    await closedWithin(garbage, 10_000, 'a TLS client writing garbage');

    // TLS 1.2 renegotiation, asked again and again: refused or cut off, never the server's end.
    const reneg = await tlsClient(port, { maxVersion: 'TLSv1.2' });
    for (let i = 0; i < 5 && !reneg.destroyed; i++) {
      await new Promise<void>((resolve) => {
        const asked = reneg.renegotiate({ rejectUnauthorized: false }, () => resolve());
        if (!asked) resolve();
      });
    }
    reneg.destroy();

    // A trickler: TLS done, its RTMP handshake a byte at a time, then a real encoder meanwhile.
    const trickler = await tlsClient(port);
    const c0c1 = Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 7)]);
    let sent = 0;
    const trickle = setInterval(() => {
      if (trickler.destroyed || sent >= c0c1.length) return clearInterval(trickle);
      trickler.write(c0c1.subarray(sent, sent + 1));
      sent++;
    }, 50);
    const tricklerClosed = closedWithin(trickler, 20_000, 'a client trickling its RTMP handshake');

    const encoder = push(rtmpTarget(await ingest(), true));
    await waitFor('the RTMPS encoder on air', () => !!room.peer('encoder')?.producerOf('video'), 30_000);
    expect(await healthy()).toBe(true);
    await tricklerClosed;
    clearInterval(trickle);
    expect(encoder.process.exitCode).toBeNull();
    expect((await ingest()).feed).toMatchObject({ protocol: 'rtmp' });
    await encoder.stop();
    await waitFor('the RTMPS encoder gone', async () => (await ingest()).feed === null, 20_000);
    await waitFor('no feed ffmpeg left', () => serverChildren('ffmpeg').length === 0, 10_000);
  });

  it('keeps room for the encoder while another address holds the port full of half handshakes, again and again', async () => {
    const port = server.ingest.rtmpsPort!;
    // The attacker (127.0.0.2) reopens each connection the server drops, for as long as the encoder tries.
    let flooding = true;
    const open = new Set<net.Socket>();
    const refill = () => {
      while (flooding && open.size < 48) {
        const s = rawSocket(port, '127.0.0.2');
        s.write(halfClientHello);
        open.add(s);
        s.once('close', () => {
          open.delete(s);
          setImmediate(refill);
        });
      }
    };
    refill();
    try {
      const encoder = push(rtmpTarget(await ingest(), true));
      await waitFor('the RTMPS encoder on air through the flood', () => !!room.peer('encoder')?.producerOf('video'), 30_000);
      expect(await healthy()).toBe(true);
      await encoder.stop();
      await waitFor('the RTMPS encoder gone', async () => (await ingest()).feed === null, 20_000);
    } finally {
      flooding = false;
      for (const s of open) s.destroy();
    }
  });
});

describe('the SRT listener attacked', () => {
  it('comes back after wrong passphrases, garbage and its processes killed by pid, and leaves no pipe behind', async () => {
    const srt = srtAddress(await ingest());
    expect(srt.available).toBe(true);
    await waitFor('srt-live-transmit listening', () => serverChildren('srt-live-transm').length === 1, 10_000);

    // Callers with a wrong passphrase, a bounded few: refused, the listener stays.
    const wrong = srt.url.replace(/passphrase=[^&]+/, 'passphrase=pas-la-bon-mot-de-passe');
    for (let i = 0; i < 3; i++) {
      const caller = push(wrong);
      await caller.exited;
    }
    expect(serverChildren('srt-live-transm')).toHaveLength(1);

    // srt-live-transmit killed while it waits: another one listens.
    const [idle] = serverChildren('srt-live-transm');
    process.kill(idle, 'SIGKILL');
    await waitFor('a new srt-live-transmit', () => serverChildren('srt-live-transm').some((pid) => pid !== idle), 15_000);

    // A caller on air, then its srt-live-transmit killed: the feed ends, the next caller goes on air.
    const first = push(srt.url);
    await waitFor('the SRT encoder on air', () => !!room.peer('encoder')?.producerOf('video'), 30_000);
    const [serving] = serverChildren('srt-live-transm');
    process.kill(serving, 'SIGKILL');
    await waitFor('the killed caller off air', async () => (await ingest()).feed === null, 20_000);
    await first.stop();
    const second = push(srt.url);
    await waitFor('the next SRT encoder on air', async () => (await ingest()).feed?.protocol === 'srt', 30_000);

    // Its relay ffmpeg killed (the one reading srt-live-transmit's stdout, whose parent is this process): the same.
    const relays = serverChildren('ffmpeg');
    expect(relays.length).toBeGreaterThan(0);
    for (const pid of relays) process.kill(pid, 'SIGKILL');
    await waitFor('the caller off air after its ffmpegs died', async () => (await ingest()).feed === null, 20_000);
    await second.stop();
    await waitFor('listening again', () => serverChildren('srt-live-transm').length === 1 && serverChildren('ffmpeg').length === 0, 20_000);
    const third = push(srt.url);
    await waitFor('a third SRT encoder on air', async () => (await ingest()).feed?.protocol === 'srt', 30_000);
    expect(await healthy()).toBe(true);
    await third.stop();
    await waitFor('the third caller gone', async () => (await ingest()).feed === null, 20_000);

    // Every statistics pipe is gone, that of the one listening included (its name is removed once it is bound).
    await waitFor('no statistics pipe left', () => fifoDirs().filter((d) => !fifoDirsBefore.has(d)).length === 0, 10_000);
    await server.stop();
    expect(serverChildren('srt-live-transm')).toEqual([]);
    expect(serverChildren('ffmpeg')).toEqual([]);
    expect(fifoDirs().filter((d) => !fifoDirsBefore.has(d))).toEqual([]);
  });
});
