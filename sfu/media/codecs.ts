import type { types } from 'mediasoup';

/**
 * Codecs every session router offers. H.264 first: it is what phones play in
 * HLS, so a program sent in H.264 can be recorded without re-encoding; VP8
 * stays for browsers or encoders that only send VP8.
 */
export const mediaCodecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 800,
    },
  },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 800 } },
];
