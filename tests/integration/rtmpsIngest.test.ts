/**
 * RTMPS: where the server has a certificate, an encoder may send the
 * session's program over RTMP in TLS (`rtmps://`), with the same stream key.
 * A real ffmpeg pushes to a whole server started with a self-signed
 * certificate (openssl), and a plain-RTP point in the session checks that the
 * studio's picture and sound reach it; a wrong key over RTMPS is refused and
 * audited; clients that never complete TLS (garbage, plain RTMP, silence) are
 * cut off while the encoder keeps going. A certificate that cannot be read
 * costs RTMPS alone.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, IngestAddress, SessionIngest } from '../../protocol/index.js';
import { RtmpServer } from '../../sfu/ingest/rtmp/RtmpServer.js';
import { pushEncoder, type EncoderPush } from '../helpers/encoderPush.js';
import { joinPlain, type PlainParticipant } from '../helpers/plainPeer.js';
import { waitFor } from '../helpers/rtp.js';
import { startServer, tokenFor } from '../helpers/server.js';

const sid = 'hop-bao-mat';
let server: Awaited<ReturnType<typeof startServer>>;
let operator: string;
let certDir: string;
let certFile: string;
let keyFile: string;
const pushes: EncoderPush[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-rtmps-'));
  certFile = path.join(certDir, 'cert.pem');
  keyFile = path.join(certDir, 'key.pem');
  makeCertificate('127.0.0.1');
  server = await startServer({ rtmpsPort: 0, tlsCert: certFile, tlsKey: keyFile });
  await server.sessions.create({ id: sid, title: 'Họp bảo mật' });
  operator = await tokenFor(server, sid, 'dieu-hanh', 'operator');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await Promise.all(pushes.map((p) => p.stop()));
  await server?.stop();
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

/** A self-signed certificate and its key, written over the files the server reads. */
function makeCertificate(commonName: string): void {
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${commonName}`,
  ], { stdio: 'ignore' });
}

/** The certificate a new TLS connection to the port is served. */
async function servedCertificate(port: number): Promise<tls.PeerCertificate> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getPeerCertificate()));
      socket.once('error', reject);
    });
  } finally {
    socket.destroy();
  }
}

function push(target: string): EncoderPush {
  const p = pushEncoder(target);
  pushes.push(p);
  return p;
}

async function ingestOf(on: typeof server, sessionId: string, token: string): Promise<SessionIngest> {
  const res = await fetch(`${on.url}/api/sessions/${sessionId}/ingest`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as SessionIngest;
}

const rtmpAddress = (i: SessionIngest, secure: boolean): IngestAddress =>
  i.addresses.find((a) => a.protocol === 'rtmp' && (a.tls ?? false) === secure)!;

async function refusals(): Promise<AuditEntry[]> {
  return (await server.audit.read({ sessionId: sid })).filter((e) => e.action === 'ingest.refused');
}

/**
 * A raw TCP client of the RTMPS port, and when the server hung up on it:
 * within `timeoutMs` of connecting, or the case fails.
 */
function rawClient(port: number, timeoutMs: number): { socket: net.Socket; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume(); // what the server answers is not read, only whether it hangs up
  cleanups.push(() => void socket.destroy());
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server kept a connection without TLS open for ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { socket, closed };
}

/** C0 and C1 of RTMP's handshake: an encoder set up with rtmp:// on the RTMPS port. */
const plainRtmpHandshake = () => Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1)]);

describe('RTMPS ingest', () => {
  it('lists RTMPS beside RTMP, with the same stream key', async () => {
    const body = await ingestOf(server, sid, operator);
    const plain = rtmpAddress(body, false);
    const secure = rtmpAddress(body, true);
    expect(plain).toMatchObject({ available: true, url: `rtmp://127.0.0.1:${server.ingest.rtmpPort}/live` });
    expect(secure).toMatchObject({ available: true, tls: true, url: `rtmps://127.0.0.1:${server.ingest.rtmpsPort}/live` });
    expect(server.ingest.rtmpsPort).not.toBe(server.ingest.rtmpPort);
    expect(secure.streamKey).toBe(plain.streamKey);
    // The console's first RTMP entry stays the plain one.
    expect(body.addresses.find((a) => a.protocol === 'rtmp')).toBe(plain);
  });

  it('refuses a wrong key over RTMPS and writes it to the audit log', async () => {
    const secure = rtmpAddress(await ingestOf(server, sid, operator), true);
    const wrong = push(`${secure.url}/${sid}~wrongwrongwrongwrongwrong`);
    expect(await wrong.exited).not.toBe(0);
    await waitFor('the refusal in the audit log', async () => (await refusals()).length === 1, 10_000);
    expect((await refusals())[0].details).toMatchObject({ protocol: 'rtmp', reason: 'wrong or revoked stream key' });
    expect((await ingestOf(server, sid, operator)).feed).toBeNull();
    expect((await server.sessions.runningRoom(sid))?.peer('encoder')).toBeUndefined();
  });

  it("makes an RTMPS encoder the studio: its picture and sound reach the session's points, through hostile clients", async () => {
    const room = await server.sessions.room(sid);
    const point: PlainParticipant = await joinPlain(room, { identity: 'diem-1', role: 'point', receive: true });
    cleanups.push(() => point.stop());
    room.goLive('dieu-hanh');
    const secure = rtmpAddress(await ingestOf(server, sid, operator), true);
    const encoder = push(`${secure.url}/${secure.streamKey}`);

    await waitFor('the encoder in the session', () => !!room.peer('encoder')?.producerOf('video'), 20_000);
    const studio = room.peer('encoder')!;
    expect(studio.role).toBe('studio');
    expect(room.snapshot().programSource).toBe('encoder');
    const video = () => point.sink!.count(point.ssrcOf(studio.producerOf('video')?.id ?? '') ?? -1);
    const audio = () => point.sink!.count(point.ssrcOf(studio.producerOf('audio')?.id ?? '') ?? -1);
    await waitFor('the program picture and sound at the point', () => video() > 100 && audio() > 50, 20_000);
    await waitFor('the feed read', async () => (await ingestOf(server, sid, operator)).feed?.stats?.width === 640, 20_000);
    expect((await ingestOf(server, sid, operator)).feed).toMatchObject({ protocol: 'rtmp', stats: { width: 640, height: 360 } });

    // Clients that never complete TLS: cut off (garbage and plain RTMP at once, silence within the handshake's 5 s).
    const port = server.ingest.rtmpsPort!;
    const garbage = rawClient(port, 3000);
    garbage.socket.write(Buffer.alloc(100_000, 0x5a));
    const plainRtmp = rawClient(port, 3000);
    plainRtmp.socket.write(plainRtmpHandshake());
    const silent = rawClient(port, 8000);
    await Promise.all([garbage.closed, plainRtmp.closed, silent.closed]);

    const packets = video();
    await waitFor('the program still flowing', () => video() > packets + 50, 10_000);
    expect(encoder.process.exitCode).toBeNull();
    expect((await ingestOf(server, sid, operator)).feed).toMatchObject({ protocol: 'rtmp' });
  });

  it('bounds clients still in (or just past) their TLS handshake by time and by the connection limit', async () => {
    const own = await RtmpServer.listen({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
      limits: { maxConnections: 2, tlsHandshakeTimeoutMs: 1000, publishTimeoutMs: 2500 },
      authorize: async () => ({ ok: false, reason: 'no' }),
    });
    cleanups.push(() => own.close());
    expect(own.secure).toBe(true);
    // One never starts TLS; one completes it and then sends nothing RTMP.
    const silent = rawClient(own.port, 5000);
    const idle = tls.connect({ port: own.port, host: '127.0.0.1', rejectUnauthorized: false });
    idle.on('error', () => {});
    cleanups.push(() => void idle.destroy());
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      idle.once('secureConnect', () => resolve());
      idle.once('close', () => reject(new Error('the TLS handshake did not complete')));
    });
    await waitFor('two connections', () => own.connectionCount === 2, 5000);
    // The limit counts a connection from its TCP accept, the handshake included: a third is closed at once.
    const third = rawClient(own.port, 1000);
    await third.closed;
    await silent.closed;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      idleClosed,
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('an idle TLS client was kept past its time to publish')), 5000)),
      ),
    ]).finally(() => clearTimeout(timer));
    await waitFor('the server to forget them', () => own.connectionCount === 0, 5000);
  });

  it('starts without RTMPS when its certificate cannot be read; RTMP still works', async () => {
    const other = await startServer({ workers: 1, rtmpsPort: 0, tlsCert: path.join(certDir, 'khong-co.pem'), tlsKey: keyFile });
    try {
      await other.sessions.create({ id: 'khong-chung-chi', title: 'Không chứng chỉ' });
      const body = await ingestOf(other, 'khong-chung-chi', await tokenFor(other, 'khong-chung-chi', 'op', 'operator'));
      expect(rtmpAddress(body, true)).toMatchObject({ available: false, tls: true });
      expect(rtmpAddress(body, true).url).toMatch(/^rtmps:\/\/127\.0\.0\.1:\d+\/live$/);
      expect(rtmpAddress(body, false).available).toBe(true);
      expect(other.ingest.rtmpsPort).toBeNull();
    } finally {
      await other.stop();
    }
  });

  it('serves a renewed certificate to new connections without a restart; a broken renewal keeps the current one', async () => {
    const port = server.ingest.rtmpsPort!;
    const before = await servedCertificate(port);
    expect(before.subject.CN).toBe('127.0.0.1');
    expect(await server.ingest.reloadCertificate()).toBe(false);

    fs.writeFileSync(certFile, 'khong phai chung chi');
    expect(await server.ingest.reloadCertificate()).toBe(false);
    expect((await servedCertificate(port)).fingerprint256).toBe(before.fingerprint256);

    makeCertificate('ingest.diemcau.test');
    expect(await server.ingest.reloadCertificate()).toBe(true);
    expect((await servedCertificate(port)).subject.CN).toBe('ingest.diemcau.test');
  });
});
