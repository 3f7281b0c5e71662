/** How the encoder's feed reaches the session: fixed RTP identifiers, as the producers declare them. */
export const feedVideoSsrc = 31313131;
export const feedAudioSsrc = 32323232;
export const feedVideoPayloadType = 101;
export const feedAudioPayloadType = 100;

/** The producers' RTP parameters: H.264 Constrained Baseline as the router offers it, and Opus. */
export const feedVideoRtpParameters = {
  codecs: [
    {
      mimeType: 'video/H264',
      clockRate: 90000,
      payloadType: feedVideoPayloadType,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
    },
  ],
  encodings: [{ ssrc: feedVideoSsrc }],
};

export const feedAudioRtpParameters = {
  codecs: [{ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: feedAudioPayloadType }],
  encodings: [{ ssrc: feedAudioSsrc }],
};

export interface FeedFfmpegPlan {
  /** Copy the picture as it is (H.264 without B-frames), else transcode it. */
  copyVideo: boolean;
  video: { ip: string; port: number };
  /** Where the sound goes; none when the feed has none. */
  audio: { ip: string; port: number } | null;
}

/**
 * ffmpeg's arguments: FLV on stdin, RTP out. A copied picture gets its SPS
 * and PPS in band before each keyframe (h264_mp4toannexb), so a receiver
 * joining mid-stream can decode from the next keyframe; a transcoded one is
 * Constrained Baseline without B-frames (what the router offers, what every
 * browser decodes) with a keyframe every 2 s, at most 1080 lines. The sound
 * (AAC from encoders) becomes Opus at 48 kHz, stereo.
 */
export function feedFfmpegArgs(plan: FeedFfmpegPlan): string[] {
  // prettier-ignore
  const video = plan.copyVideo
    ? ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb']
    : [
        '-vf', "scale=w='min(1920,iw)':h=-2", '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
        '-crf', '21', '-maxrate', '4000k', '-bufsize', '4000k', '-bsf:v', 'h264_mp4toannexb',
      ];
  // prettier-ignore
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    // A live input: start from what arrives, without seconds of analysis.
    '-fflags', '+nobuffer', '-analyzeduration', '1000000', '-probesize', '1000000',
    '-f', 'flv', '-i', 'pipe:0',
    '-map', '0:v:0', ...video,
    '-payload_type', String(feedVideoPayloadType), '-ssrc', String(feedVideoSsrc),
    '-f', 'rtp', `rtp://${plan.video.ip}:${plan.video.port}?pkt_size=1200`,
  ];
  if (plan.audio) {
    // prettier-ignore
    args.push(
      '-map', '0:a:0', '-c:a', 'libopus', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-payload_type', String(feedAudioPayloadType), '-ssrc', String(feedAudioSsrc),
      '-f', 'rtp', `rtp://${plan.audio.ip}:${plan.audio.port}?pkt_size=1200`,
    );
  }
  return args;
}
