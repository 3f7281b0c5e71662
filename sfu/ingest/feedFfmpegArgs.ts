import { loudnessKey } from './audioLevel.js';
import { maxTranscodedWidth, type LadderRung } from './feedLadder.js';

/** How the encoder's feed reaches the session: fixed RTP identifiers, as the producers declare them (the top layer's SSRC for the picture). */
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

/**
 * The picture's producer with a ladder: one simulcast encoding per layer,
 * low → high as mediasoup orders them (spatial layer 0 is the smallest), the
 * original on top. Same codec and payload type for every layer.
 */
export function feedLadderRtpParameters(lower: readonly LadderRung[]): typeof feedVideoRtpParameters {
  const ascending = [...lower].sort((a, b) => a.height - b.height);
  return { codecs: feedVideoRtpParameters.codecs, encodings: [...ascending.map((rung) => ({ ssrc: rung.ssrc })), { ssrc: feedVideoSsrc }] };
}

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
  /** Lower layers made beside the picture (feedLadder.ts); none or empty: the picture alone, as before. */
  ladder?: FeedLadderPlan | null;
}

export interface FeedLadderPlan {
  layers: readonly LadderRung[];
  /**
   * The one local UDP port every layer is sent from: a comedia PlainTransport
   * takes the first source address:port it hears as its peer's and drops
   * packets from any other, so three outputs from three ports would leave two
   * layers unheard. Each output binds it with SO_REUSEADDR (which Linux
   * allows for UDP sockets that all set it).
   */
  localPort: number;
  /** The encoder's frame rate, for the lower layers' longest keyframe interval (1 s); null when unknown (25 assumed). */
  fps: number | null;
}

// prettier-ignore
const inputArgs = [
  '-hide_banner', '-loglevel', 'error', '-nostdin',
  // A live input: start from what arrives, without seconds of analysis.
  '-fflags', '+nobuffer', '-analyzeduration', '1000000', '-probesize', '1000000',
  '-f', 'flv', '-i', 'pipe:0',
];

/** A forced keyframe every second (transcoded layers), so that a receiver switching layers waits at most ~1 s. */
const keyframeEverySecond = ['-force_key_frames', 'expr:gte(t,n_forced*1)'];

/**
 * ffmpeg's arguments: FLV on stdin, RTP out. A copied picture gets its SPS
 * and PPS in band before each keyframe (h264_mp4toannexb), so a receiver
 * joining mid-stream can decode from the next keyframe; a transcoded one is
 * Constrained Baseline without B-frames (what the router offers, what every
 * browser decodes) with a keyframe every 2 s, at most 1080 lines. The sound
 * (AAC from encoders) becomes Opus at 48 kHz, stereo.
 */
export function feedFfmpegArgs(plan: FeedFfmpegPlan): string[] {
  if (plan.ladder?.layers.length) return feedLadderFfmpegArgs(plan, plan.ladder);
  // prettier-ignore
  const video = plan.copyVideo
    ? ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb']
    : [
        '-vf', "scale=w='min(1920,iw)':h=-2", '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
        '-crf', '21', '-maxrate', '4000k', '-bufsize', '4000k', '-bsf:v', 'h264_mp4toannexb',
      ];
  // prettier-ignore
  return [
    ...inputArgs,
    '-map', '0:v:0', ...video,
    '-payload_type', String(feedVideoPayloadType), '-ssrc', String(feedVideoSsrc),
    '-f', 'rtp', `rtp://${plan.video.ip}:${plan.video.port}?pkt_size=1200`,
    ...audioArgs(plan.audio),
  ];
}

/**
 * The same with a ladder: one ffmpeg decodes the feed once and sends every
 * layer, each its own SSRC, all from `ladder.localPort` — through the udp
 * protocol rather than rtp, which cannot share its port; the RTP muxer then
 * writes its RTCP sender reports into the same socket, which the transport
 * (rtcpMux) reads: mediasoup needs one from each layer before it switches a
 * receiver to a layer (it lines up the layers' timestamps with them). ffmpeg
 * sends a layer's first report just before its first packet, which mediasoup
 * drops (the layer is not known yet), then one every ~5 s: for the first ~5 s
 * of a feed, receivers stay on the layer they started with.
 *
 * The top layer first (its `-c:v` is the first of the command line): the
 * original copied, its keyframes as the encoder makes them; or the transcode
 * with a keyframe every second. The lower layers are Constrained Baseline
 * without B-frames, a keyframe on each of the original's (`source`, from the
 * decoded frames' key flag: the layers switch together) and at least one a
 * second (x264's `-g`); x264's own scene cuts are off, so as not to add
 * keyframes the other layers lack. A transcoded feed gets every layer's
 * keyframes from the same clock instead.
 */
function feedLadderFfmpegArgs(plan: FeedFfmpegPlan, ladder: FeedLadderPlan): string[] {
  const gop = String(Math.max(1, Math.round(ladder.fps ?? 25)));
  const send = (ssrc: number) => [
    '-payload_type',
    String(feedVideoPayloadType),
    '-ssrc',
    String(ssrc),
    '-f',
    'rtp',
    `udp://${plan.video.ip}:${plan.video.port}?localport=${ladder.localPort}&reuse=1&pkt_size=1200`,
  ];
  // prettier-ignore
  const top = plan.copyVideo
    ? ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb']
    : [
        '-vf', `scale=w='min(${maxTranscodedWidth},iw)':h=-2`, '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0', ...keyframeEverySecond,
        '-crf', '21', '-maxrate', '4000k', '-bufsize', '4000k', '-bsf:v', 'h264_mp4toannexb',
      ];
  const args = [...inputArgs, '-map', '0:v:0', ...top, ...send(feedVideoSsrc)];
  for (const rung of [...ladder.layers].sort((a, b) => b.height - a.height)) {
    const keyframes = plan.copyVideo ? ['-force_key_frames', 'source', '-g', gop, '-sc_threshold', '0'] : keyframeEverySecond;
    // prettier-ignore
    args.push(
      '-map', '0:v:0', '-vf', `scale=-2:${rung.height}`, '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency',
      '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0', ...keyframes,
      '-b:v', `${rung.kbps}k`, '-maxrate', `${rung.kbps}k`, '-bufsize', `${rung.kbps}k`, '-bsf:v', 'h264_mp4toannexb',
      ...send(rung.ssrc),
    );
  }
  return [...args, ...audioArgs(plan.audio)];
}

/** The file descriptor ffmpeg writes the sound's level on (EncoderFeed gives it a pipe there): stdout carries the RTP muxer's SDP. */
export const feedAudioLevelFd = 3;

/**
 * The sound's level, measured on its way to the Opus encoder: ebur128 gives
 * the momentary loudness every 100 ms (~0.2 % of a core for 48 kHz stereo,
 * less than astats' RMS, which computes all its statistics on every sample
 * whichever are asked for) and ametadata prints it, with the frame's
 * timestamp, on `feedAudioLevelFd` for AudioLevelMeter (audioLevel.ts),
 * which averages each second: `direct` writes each line as it comes (not
 * once a 32 KiB buffer is full, a minute later). ebur128's own log is at
 * info level, below ffmpeg's `-loglevel error`. The pipe's ':' is escaped
 * twice: once for the filtergraph, once for the filter's options.
 */
export const feedAudioLevelFilter = `ebur128=metadata=1,ametadata=mode=print:key=${loudnessKey}:direct=1:file=pipe\\\\:${feedAudioLevelFd}`;

function audioArgs(audio: FeedFfmpegPlan['audio']): string[] {
  if (!audio) return [];
  // prettier-ignore
  return [
    '-map', '0:a:0', '-c:a', 'libopus', '-b:a', '128k', '-ar', '48000', '-ac', '2', '-af', feedAudioLevelFilter,
    '-payload_type', String(feedAudioPayloadType), '-ssrc', String(feedAudioSsrc),
    '-f', 'rtp', `rtp://${audio.ip}:${audio.port}?pkt_size=1200`,
  ];
}
