/** The baseline of the fan-out bench: a minimal mediasoup script, 1 worker, 1 router, N plain SRTP transports. */
import { debug, receiverSrtpParameters, type Closer } from './common.js';
import { feedStarter, type BuiltSetup } from './setup.js';

export async function buildBare(n: number, ports: number[], closers: Closer[], feedFirst: boolean): Promise<BuiltSetup> {
  // Loaded here, not at the top: the receiver process imports none of this.
  const mediasoup = await import('mediasoup');
  const ffmpeg = await import('../../tests/helpers/ffmpeg.js');
  const problems: string[] = [];
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  closers.push(() => worker.close());
  worker.on('died', (e) => problems.push(`worker died: ${e.message}`));
  const router = await worker.createRouter({
    mediaCodecs: [
      { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
      {
        kind: 'video',
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      },
    ],
  });
  const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
  const videoIn = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
  const audioIn = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
  const video = await videoIn.produce({ kind: 'video', rtpParameters: ffmpeg.feedVideoRtpParameters });
  const audio = await audioIn.produce({ kind: 'audio', rtpParameters: ffmpeg.feedAudioRtpParameters });
  const startFeed = await feedStarter({ videoPort: videoIn.tuple.localPort, audioPort: audioIn.tuple.localPort }, closers, feedFirst);

  const t0 = performance.now();
  const transports = [];
  for (let i = 0; i < n; i++) {
    const transport = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, enableSrtp: true });
    await transport.connect({ ip: '127.0.0.1', port: ports[i], srtpParameters: receiverSrtpParameters() });
    transports.push(transport);
    if (i % 200 === 199) debug(`bare: ${i + 1} transports`);
  }
  const t1 = performance.now();
  let videoPt = -1;
  let audioPt = -1;
  let consumers = 0;
  for (const transport of transports) {
    for (const producer of [video, audio]) {
      const c = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
      if (c.kind === 'video') videoPt = c.rtpParameters.codecs[0].payloadType;
      else audioPt = c.rtpParameters.codecs[0].payloadType;
      consumers++;
    }
    if (consumers % 400 === 0) debug(`bare: ${consumers} consumers`);
  }
  const t2 = performance.now();
  return {
    workerPids: [worker.pid],
    receiverWorker: transports.map(() => 0),
    consumersPerWorker: [consumers],
    videoPt,
    audioPt,
    producers: [video, audio],
    probes: [() => worker.getResourceUsage()],
    startFeed,
    transportsSeconds: (t1 - t0) / 1000,
    consumersSeconds: (t2 - t1) / 1000,
    problems,
  };
}
