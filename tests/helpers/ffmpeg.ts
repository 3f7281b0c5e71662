import { spawn, type ChildProcess } from 'node:child_process';

export interface RtpFeed {
  process: ChildProcess;
  stop(): Promise<void>;
}

export const videoSsrc = 11111111;
export const audioSsrc = 22222222;
export const videoPayloadType = 101;
export const audioPayloadType = 100;
export const vp8PayloadType = 102;

/** How each picture codec a feed can send is encoded, with a keyframe every `gop` frames. */
const videoEncoders = {
  h264: {
    payloadType: videoPayloadType,
    // prettier-ignore
    args: (bitrate: string, gop: number) => [
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1',
      '-pix_fmt', 'yuv420p', '-b:v', bitrate, '-g', String(gop), '-bsf:v', 'h264_mp4toannexb',
    ],
  },
  vp8: {
    payloadType: vp8PayloadType,
    args: (bitrate: string, gop: number) => [
      '-c:v',
      'libvpx',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-b:v',
      bitrate,
      '-g',
      String(gop),
    ],
  },
};

/**
 * Sends a test picture (H.264 by default, or VP8; ~1 Mbit/s) and a tone
 * (Opus) as RTP to a PlainTransport, the way a hardware encoder in the
 * studio would.
 */
export function feedRtp(options: {
  videoPort: number;
  audioPort: number;
  pattern?: 'testsrc' | 'smptebars' | 'mandelbrot';
  codec?: keyof typeof videoEncoders;
  bitrate?: string;
  frequency?: number;
  /**
   * Seconds between keyframes (2 by default). ffmpeg cannot answer a keyframe
   * request as a browser does at once: a short interval stands in for that.
   */
  keyframeSeconds?: number;
}): RtpFeed {
  const pattern = options.pattern ?? 'testsrc';
  const video = videoEncoders[options.codec ?? 'h264'];
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `${pattern}=size=640x360:rate=25`,
    '-f', 'lavfi', '-i', `sine=frequency=${options.frequency ?? 440}:sample_rate=48000`,
    '-map', '0:v', ...video.args(options.bitrate ?? '1M', Math.max(1, Math.round((options.keyframeSeconds ?? 2) * 25))),
    '-payload_type', String(video.payloadType), '-ssrc', String(videoSsrc),
    '-f', 'rtp', `rtp://127.0.0.1:${options.videoPort}?pkt_size=1200`,
    '-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ac', '2',
    '-payload_type', String(audioPayloadType), '-ssrc', String(audioSsrc),
    '-f', 'rtp', `rtp://127.0.0.1:${options.audioPort}?pkt_size=1200`,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => {});
  return {
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** RTP parameters matching what feedRtp sends (H.264, the default). */
export const feedVideoRtpParameters = {
  codecs: [
    {
      mimeType: 'video/H264',
      clockRate: 90000,
      payloadType: videoPayloadType,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    },
  ],
  encodings: [{ ssrc: videoSsrc }],
};

/** RTP parameters matching what feedRtp sends with `codec: 'vp8'`. */
export const feedVp8VideoRtpParameters = {
  codecs: [{ mimeType: 'video/VP8', clockRate: 90000, payloadType: vp8PayloadType }],
  encodings: [{ ssrc: videoSsrc }],
};

export const feedAudioRtpParameters = {
  codecs: [{ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: audioPayloadType }],
  encodings: [{ ssrc: audioSsrc }],
};
