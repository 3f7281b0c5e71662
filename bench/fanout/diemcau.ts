/** The Diemcau side of the fan-out bench: Server + Room, 2 workers, N plain SRTP viewers. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { debug, receiverSrtpParameters, type Closer } from './common.js';
import { feedStarter, type BuiltSetup } from './setup.js';

/** Logs of level ≥ warn, kept to report them. */
class LogSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      try {
        const o = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        this.lines.push(`${o.msg ?? ''}${o.err?.message ? `: ${o.err.message}` : ''}`);
      } catch {
        this.lines.push(line);
      }
    }
    done();
  }
}

export async function buildDiemcau(n: number, ports: number[], closers: Closer[], feedFirst: boolean): Promise<BuiltSetup> {
  // Loaded here, not at the top: the receiver process imports none of this.
  const [{ default: pino }, { Server }, ffmpeg, { loopbackConfig }] = await Promise.all([
    import('pino'),
    import('../../sfu/Server.js'),
    import('../../tests/helpers/ffmpeg.js'),
    import('../../tests/helpers/server.js'),
  ]);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-bench-'));
  closers.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  // The test servers' loopback config; the bench goes past what a worker can
  // carry on purpose (N = 800 is 800 consumers per worker).
  const config = loopbackConfig(dataDir, { maxStreamsPerWorker: 100_000 });
  const logs = new LogSink();
  const server = new Server(config, pino({ level: 'warn', base: { app: 'diemcau' } }, logs));
  closers.push(() => server.close());
  await server.start();
  const problems: string[] = [];
  for (const slot of server.pool.slots) slot.worker.on('died', (e) => problems.push(`worker ${slot.index} died: ${e.message}`));

  await server.sessions.create({ id: 'bench', title: 'Fan-out bench' });
  const room = await server.sessions.room('bench');
  // The studio as a hardware encoder would send it (as tests/helpers/plainPeer.ts joinPlain does).
  const studio = room.join({ identity: 'studio', name: 'Studio', role: 'studio', plain: true, rtpCapabilities: room.rtpCapabilities });
  const videoIn = await room.createPlainTransport(studio, 'send');
  const audioIn = await room.createPlainTransport(studio, 'send');
  await room.produce(studio, videoIn.id, 'video', ffmpeg.feedVideoRtpParameters, 'camera');
  await room.produce(studio, audioIn.id, 'audio', ffmpeg.feedAudioRtpParameters, 'mic');
  const startFeed = await feedStarter({ videoPort: videoIn.tuple.localPort, audioPort: audioIn.tuple.localPort }, closers, feedFirst);

  const t0 = performance.now();
  const peers = [];
  for (let i = 0; i < n; i++) {
    const peer = room.join({
      identity: `v${i}`,
      name: `viewer ${i}`,
      role: 'viewer',
      plain: true,
      rtpCapabilities: room.rtpCapabilities,
    });
    const transport = await room.createPlainTransport(peer, 'recv', { enableSrtp: true });
    await transport.connect({ ip: '127.0.0.1', port: ports[i], srtpParameters: receiverSrtpParameters() });
    peers.push(peer);
    if (i % 200 === 199) debug(`diemcau: ${i + 1} viewers joined`);
  }
  await room.settled();
  const t1 = performance.now();
  room.goLive();
  await room.settled();
  const t2 = performance.now();

  const workers = server.pool.slots.length;
  const consumersPerWorker = new Array<number>(workers).fill(0);
  for (const p of peers) consumersPerWorker[p.slotIndex] += p.consumers.size;
  const sample = [...(peers[0]?.consumers.values() ?? [])];
  const ptOf = (kind: string) => sample.find((c) => c.kind === kind)?.rtpParameters.codecs[0]?.payloadType ?? -1;
  problems.push(...logs.lines);
  // Later warnings (during the window) land in the same array.
  logs.lines.length = 0;
  closers.push(() => problems.push(...logs.lines.splice(0)));
  return {
    workerPids: server.pool.slots.map((s) => s.worker.pid),
    receiverWorker: peers.map((p) => p.slotIndex),
    consumersPerWorker,
    videoPt: ptOf('video'),
    audioPt: ptOf('audio'),
    producers: [...studio.producers.values()],
    probes: server.pool.slots.map((slot) => () => slot.worker.getResourceUsage()),
    startFeed,
    transportsSeconds: (t1 - t0) / 1000,
    consumersSeconds: (t2 - t1) / 1000,
    problems,
  };
}
