/**
 * The Diemcau side of the duel: a whole server (2 media workers, signaling,
 * HTTP) in the bench's process, inside the duel's namespace, WebRTC on
 * 127.0.0.1 (werift reaches mediasoup's ICE-lite candidate there). A session
 * on air whose studio is a plain RTP peer fed by the clip, as a hardware
 * encoder in the provincial hall sends; the viewers join over the real
 * signaling socket with signed `viewer` tokens. Recording is off: Janus does
 * not record either.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FeedTarget } from './feed.js';

const sessionId = 'duel';

/** The server, its session and the studio's ingest ports. */
export class DiemcauSide {
  #server: import('../../sfu/Server.js').Server | undefined;
  readonly #dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-duel-'));
  #feed: FeedTarget | undefined;

  /** Starts the server and puts the session on air with the studio's two plain send transports. */
  async start(): Promise<void> {
    const [{ Server }, { createLogger }, ffmpeg, { loopbackConfig }] = await Promise.all([
      import('../../sfu/Server.js'),
      import('../../sfu/logger.js'),
      import('../../tests/helpers/ffmpeg.js'),
      import('../../tests/helpers/server.js'),
    ]);
    // The test servers' loopback config (2 workers, WebRTC on 127.0.0.1), no recording, no cap below the duel's N.
    const config = loopbackConfig(this.#dataDir, { autoRecord: false, maxStreamsPerWorker: 100_000, maxPeersPerNode: 10_000 });
    const server = await new Server(config, createLogger('error')).start();
    this.#server = server;
    await server.sessions.create({ id: sessionId, title: 'Duel' });
    const room = await server.sessions.room(sessionId);
    const studio = room.join({ identity: 'studio', name: 'Studio', role: 'studio', plain: true, rtpCapabilities: room.rtpCapabilities });
    const videoIn = await room.createPlainTransport(studio, 'send');
    const audioIn = await room.createPlainTransport(studio, 'send');
    await room.produce(studio, videoIn.id, 'video', ffmpeg.feedVideoRtpParameters, 'camera');
    await room.produce(studio, audioIn.id, 'audio', ffmpeg.feedAudioRtpParameters, 'mic');
    room.goLive();
    await room.settled();
    this.#feed = {
      videoPort: videoIn.tuple.localPort,
      audioPort: audioIn.tuple.localPort,
      videoPt: ffmpeg.videoPayloadType,
      audioPt: ffmpeg.audioPayloadType,
      videoSsrc: ffmpeg.videoSsrc,
      audioSsrc: ffmpeg.audioSsrc,
    };
  }

  /** Where the clip goes (the studio's plain transports, comedia). */
  get feed(): FeedTarget {
    if (!this.#feed) throw new Error('the Diemcau side is not started');
    return this.#feed;
  }

  /** The signaling socket's URL. */
  get signalingUrl(): string {
    return `${this.#server!.url.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
  }

  /** The server's own processes: this Node process and its mediasoup workers. */
  get pids(): number[] {
    return [process.pid, ...this.#server!.pool.slots.map((s) => s.worker.pid)];
  }

  /** One signed viewer token per receiver. */
  tokens(count: number): Promise<string[]> {
    const server = this.#server!;
    return Promise.all(
      Array.from({ length: count }, (_, i) => server.tokens.sign({ sid: sessionId, sub: `v${i}`, role: 'viewer', name: `v${i}` })),
    );
  }

  async close(): Promise<void> {
    await this.#server?.close();
    this.#server = undefined;
    fs.rmSync(this.#dataDir, { recursive: true, force: true });
  }
}
