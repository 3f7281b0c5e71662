/**
 * The bare publisher page: sends getUserMedia's camera and mic to the bare
 * SFU as soon as it loads, with the encodings and codec options of the
 * product's studio (web/src/client/ConferenceClient.ts: three simulcast
 * layers, videoGoogleStartBitrate 800; Opus mono with DTX and FEC). The
 * bench reads `window.bare.state` ('publishing' once both producers exist).
 */
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import { BareSignaling } from './signaling.js';

/** A copy of the studio's cameraEncodings (not exported there). */
const cameraEncodings: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, maxFramerate: 15 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, maxFramerate: 30 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000, maxFramerate: 30 },
];

interface TransportInfo {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

const bare = { state: 'starting', error: null as string | null };
(window as unknown as { bare: typeof bare }).bare = bare;

async function publish(): Promise<void> {
  // What the studio asks for when nothing replaces getUserMedia.
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
  const local = document.querySelector<HTMLVideoElement>('[data-testid="local-video"]');
  if (local) local.srcObject = stream;
  const signaling = await BareSignaling.open();
  const device = await Device.factory();
  await device.load({ routerRtpCapabilities: await signaling.request<types.RtpCapabilities>('caps') });
  const info = await signaling.request<TransportInfo>('createTransport', { direction: 'send' });
  const transport = device.createSendTransport(info);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signaling.request('connect', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
  transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
    signaling.request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters }).then(callback, errback);
  });
  const video = stream.getVideoTracks()[0];
  const audio = stream.getAudioTracks()[0];
  if (video) await transport.produce({ track: video, encodings: cameraEncodings, codecOptions: { videoGoogleStartBitrate: 800 } });
  if (audio) await transport.produce({ track: audio, codecOptions: { opusStereo: false, opusDtx: true, opusFec: true } });
  bare.state = 'publishing';
}

publish().catch((error: unknown) => {
  bare.state = 'failed';
  bare.error = String(error);
  console.error('bare publisher:', error);
});
