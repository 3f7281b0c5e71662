/**
 * The bare receiver page: nothing happens before the click on "join"; then,
 * one step after the other as a minimal mediasoup-client app does it: open
 * the WebSocket, get the router's capabilities, load the device, create the
 * receive transport, consume the publisher's video and audio, resume them and
 * play them in the video element. The performance marks carry the names the
 * product's point page is measured with (join:*), first time only.
 */
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import { BareSignaling } from './signaling.js';

interface TransportInfo {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

interface ConsumerInfo {
  id: string;
  producerId: string;
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
}

const marked = new Set<string>();
function mark(name: string): void {
  if (marked.has(name)) return;
  marked.add(name);
  performance.mark(name);
}

let videoConsumer: types.Consumer | null = null;
let signaling: BareSignaling | null = null;
let joining = false;

const bare = {
  state: 'idle',
  error: null as string | null,
  /** The video consumer's inbound-rtp counters (zeros before it exists). */
  async receiveStats(): Promise<{ packetsReceived: number; framesDecoded: number }> {
    const result = { packetsReceived: 0, framesDecoded: 0 };
    if (!videoConsumer) return result;
    const report = await videoConsumer.getStats();
    report.forEach((s: { type: string; kind?: string; packetsReceived?: number; framesDecoded?: number }) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      result.packetsReceived += s.packetsReceived ?? 0;
      result.framesDecoded += s.framesDecoded ?? 0;
    });
    return result;
  },
};
(window as unknown as { bare: typeof bare }).bare = bare;

async function join(): Promise<void> {
  signaling ??= await BareSignaling.open();
  const channel = signaling;
  mark('join:signaling-open');
  const device = await Device.factory();
  await device.load({ routerRtpCapabilities: await channel.request<types.RtpCapabilities>('caps') });
  mark('join:device-loaded');
  const info = await channel.request<TransportInfo>('createTransport', { direction: 'recv' });
  const transport = device.createRecvTransport(info);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    channel.request('connect', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
  transport.on('connectionstatechange', (state) => {
    if (state === 'connected') mark('join:recv-transport-connected');
  });
  mark('join:recv-transport-created');
  const stream = new MediaStream();
  const element = document.querySelector<HTMLVideoElement>('[data-testid="program-video"]')!;
  for (const kind of ['video', 'audio'] as const) {
    const data = await channel.request<ConsumerInfo>('consume', {
      transportId: transport.id,
      kind,
      rtpCapabilities: device.rtpCapabilities,
    });
    const consumer = await transport.consume({
      id: data.id,
      producerId: data.producerId,
      kind: data.kind,
      rtpParameters: data.rtpParameters,
    });
    if (kind === 'video') {
      videoConsumer = consumer;
      mark('join:program-consumer-created');
    }
    stream.addTrack(consumer.track);
    element.srcObject = stream;
    await channel.request('resume', { consumerId: consumer.id });
  }
  await element.play().catch(() => {});
  bare.state = 'joined';
}

document.querySelector('[data-testid="join"]')!.addEventListener('click', () => {
  if (joining) return;
  joining = true;
  bare.state = 'joining';
  join().catch((error: unknown) => {
    bare.state = 'failed';
    bare.error = String(error);
    console.error('bare receiver:', error);
  });
});
