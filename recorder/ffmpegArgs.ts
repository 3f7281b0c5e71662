import { fmp4Options } from './lowLatency/fmp4Output.js';
import type { RunPlan } from './runPlan.js';
import type { SdpStream } from './sdp.js';

// ffmpeg's options are kept as option/value pairs, unformatted.
// prettier-ignore
const x264 = (preset: string, segmentSeconds: number) => [
  '-c:v', 'libx264', '-preset', preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
  '-profile:v', 'main', '-b:v', '2500k', '-maxrate', '3000k', '-bufsize', '3000k',
  '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`, '-sc_threshold', '0',
];

/**
 * The ffmpeg command line of one encoder run: the program's RTP streams read
 * through an SDP file (a slate and silence stand in for what is not on air),
 * H.264/AAC out, cut into HLS segments of about `segmentSeconds` whose clock
 * continues the archive's at `offsetSeconds`.
 */
export function ffmpegArgs(o: {
  plan: RunPlan;
  sdpPath: string | undefined;
  streams: SdpStream[];
  segmentSeconds: number;
  offsetSeconds: number;
  segmentPattern: string;
  playlist: string;
  /**
   * Also write the program as fragmented MP4 to stdout (one fragment every
   * ~200 ms and at each keyframe), from the same encode: what the server
   * cuts into Low-Latency HLS parts. The archive's HLS is written as before.
   */
  lowLatency?: boolean;
}): string[] {
  const args = ['-hide_banner', '-loglevel', 'warning', '-y'];
  let nextInput = 0;
  let rtpInput = -1;
  if (o.sdpPath) {
    // prettier-ignore
    args.push(
      '-protocol_whitelist', 'file,udp,rtp',
      '-analyzeduration', '3000000', '-probesize', '5000000',
      '-reorder_queue_size', '256', '-fflags', '+genpts+discardcorrupt',
      // A sender that stalls (a weak link) for less than this keeps its run: the
      // picture freezes and goes on. A run asked to stop is woken by a packet (ports.ts).
      '-listen_timeout', '20',
      '-f', 'sdp', '-i', o.sdpPath,
    );
    rtpInput = nextInput++;
  }
  const maps: string[] = [];
  let filter = '';
  if (o.plan.video === 'slate') {
    args.push('-re', '-f', 'lavfi', '-i', 'color=c=0x0b1a2e:s=1280x720:r=25');
    maps.push('-map', `${nextInput++}:v:0`);
  } else {
    maps.push('-map', `${rtpInput}:v:0`);
  }
  if (o.plan.audio === 0) {
    args.push('-re', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo');
    maps.push('-map', `${nextInput++}:a:0`);
  } else if (o.plan.audio === 1) {
    maps.push('-map', `${rtpInput}:a:0`);
  } else {
    const inputs = Array.from({ length: o.plan.audio }, (_, i) => `[${rtpInput}:a:${i}]`).join('');
    filter = `${inputs}amix=inputs=${o.plan.audio}:normalize=0:dropout_transition=0[aout]`;
    maps.push('-map', '[aout]');
  }
  if (filter) args.push('-filter_complex', filter);
  args.push(...maps);
  if (o.plan.video === 'copy') args.push('-c:v', 'copy');
  else args.push(...x264(o.plan.video === 'slate' ? 'ultrafast' : 'veryfast', o.segmentSeconds));
  // Opus → AAC-LC: what every HLS player, iPhones included, plays.
  args.push('-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2');
  // Continue the archive's clock so the whole recording has rising timestamps.
  args.push('-output_ts_offset', o.offsetSeconds.toFixed(3));
  const hls: [string, string][] = [
    ['hls_time', String(o.segmentSeconds)],
    ['hls_list_size', '0'],
    ['hls_flags', 'independent_segments+program_date_time+temp_file'],
    ['hls_segment_type', 'mpegts'],
    ['hls_segment_filename', o.segmentPattern],
  ];
  if (!o.lowLatency) {
    args.push('-f', 'hls', ...hls.flatMap(([name, value]) => [`-${name}`, value]), o.playlist);
    return args;
  }
  // One encode, two writers (the tee muxer): the archive's HLS, and the
  // fragments on stdout. A reader that goes away costs the archive nothing
  // (onfail=ignore). MP4 wants the picture's parameter sets in its header
  // (global_header); MPEG-TS wants them in band before each keyframe (dump_extra).
  const fragments: [string, string][] = [...fmp4Options(), ['onfail', 'ignore']];
  args.push('-flags', '+global_header');
  args.push('-f', 'tee', `${teeSlave([['f', 'hls'], ['bsfs/v', 'dump_extra'], ...hls], o.playlist)}|${teeSlave(fragments, 'pipe:1')}`);
  return args;
}

/** One output of ffmpeg's tee muxer: `[name=value:…]target`, with the characters the tee syntax reserves escaped. */
export function teeSlave(options: [string, string][], target: string): string {
  const escape = (text: string) => text.replace(/[\\:|[\]]/g, (c) => `\\${c}`);
  return `[${options.map(([name, value]) => `${name}=${escape(value)}`).join(':')}]${escape(target)}`;
}
