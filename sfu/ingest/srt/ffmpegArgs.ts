/**
 * The two ffmpegs behind one SRT caller (srt-live-transmit receives it:
 * srtLiveTransmit.ts). ffmpeg decides its codecs before it has seen the
 * input, so "copy the audio when it is AAC, else convert it" takes two: the
 * receiver probes and relays the caller's MPEG-TS untouched; once its input
 * dump tells the audio codec, the remuxer turns that into FLV with the right
 * audio arguments.
 */

/**
 * Probing window. Debian's ffmpeg 5.1 reads MPEG-TS for the whole window
 * (streams may appear at any time), so the window is the start-up delay:
 * 1 s holds the PMT's streams, and for the remuxer, whose input starts at
 * the first keyframe (stream copy drops what comes before) and arrives as a
 * burst of the receiver's probed second, the SPS and the first AAC frames.
 */
const probeBytes = '4000000';
const probeMicros = '1000000';

/**
 * The receiver holds nothing back. By default ffmpeg holds a packet until it
 * has one of every stream to interleave, and its MPEG-TS muxer packs ~0.25 s
 * of AAC into each PES, so the picture waited for the sound: SRT measured
 * 964 ms glass to glass where RTMP measured 34 ms (bench/ingestLatency.ts);
 * with these, 703 ms. (The FLV muxer of the remuxer refuses to write
 * without interleaving: it keeps ffmpeg's default.)
 */
const noWaiting = ['-max_interleave_delta', '1'];
const onePesPerFrame = ['-pes_payload_size', '0'];

/**
 * The receiver: probes the caller's MPEG-TS, which srt-live-transmit writes
 * to its stdin, and relays it untouched.
 */
export function receiverArgs(): string[] {
  // prettier-ignore
  return [
    '-hide_banner', '-nostdin', '-nostats',
    // info: the input dump names the codecs.
    '-loglevel', 'info',
    '-probesize', probeBytes, '-analyzeduration', probeMicros,
    // The frame rate is not needed to copy: do not wait for 20 frames to guess it.
    '-fpsprobesize', '0',
    // Encoders send MPEG-TS over SRT; forcing it keeps a caller's garbage from being probed as something else.
    '-f', 'mpegts', '-i', 'pipe:0',
    '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy',
    ...noWaiting, '-f', 'mpegts', ...onePesPerFrame, '-flush_packets', '1', 'pipe:1',
  ];
}

/** The audio the remuxer writes: the caller's AAC as it is, anything else converted, or none. */
export type AudioPlan = 'copy' | 'convert' | 'none';

export function audioPlan(codec: string | undefined): AudioPlan {
  if (codec === undefined) return 'none';
  // Only ADTS AAC ('aac') goes into FLV as it is; LATM AAC ('aac_latm'), MP2, AC-3, Opus are converted.
  return codec === 'aac' ? 'copy' : 'convert';
}

export function remuxerArgs(audio: AudioPlan): string[] {
  // prettier-ignore
  const audioArgs =
    audio === 'none' ? [] :
    audio === 'copy' ? ['-map', '0:a:0', '-c:a', 'copy'] :
    ['-map', '0:a:0', '-c:a', 'aac', '-b:a', '160k', '-ac', '2', '-ar', '48000'];
  // prettier-ignore
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning',
    '-probesize', probeBytes, '-analyzeduration', probeMicros, '-fpsprobesize', '0',
    '-f', 'mpegts', '-i', 'pipe:0',
    '-map', '0:v:0', '-c:v', 'copy', ...audioArgs,
    // A pipe cannot be rewritten: no duration/size header update (and no warning about it); every tag leaves at once.
    '-f', 'flv', '-flvflags', 'no_duration_filesize', '-flush_packets', '1', 'pipe:1',
  ];
}
