/**
 * The two ffmpegs behind one SRT caller. ffmpeg decides its codecs before it
 * has seen the input, so "copy the audio when it is AAC, else convert it"
 * takes two: the receiver listens, probes and relays the caller's MPEG-TS
 * untouched; once its input dump tells the audio codec, the remuxer turns
 * that into FLV with the right audio arguments.
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
/** A caller that connects but sends nothing would hold the port forever: drop it after this long without data (µs). */
const readTimeoutMicros = 5_000_000;

export interface ReceiverArgsOptions {
  host: string;
  port: number;
  passphrase: string;
  latencyMs: number;
}

export function receiverArgs(o: ReceiverArgsOptions): string[] {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const query = new URLSearchParams({
    mode: 'listener',
    // ffmpeg's libsrt options count microseconds, not libsrt's milliseconds.
    latency: String(Math.round(o.latencyMs * 1000)),
    pbkeylen: '16',
    // A caller without the passphrase is refused, not served in the clear.
    enforced_encryption: '1',
    timeout: String(readTimeoutMicros),
  });
  // prettier-ignore
  return [
    '-hide_banner', '-nostdin', '-nostats',
    // verbose: ffmpeg prints the accepted caller's stream id only there.
    '-loglevel', 'verbose',
    '-probesize', probeBytes, '-analyzeduration', probeMicros,
    // The frame rate is not needed to copy: do not wait for 20 frames to guess it.
    '-fpsprobesize', '0',
    // An option, not in the URL: any character may be in it, no escaping to get wrong.
    // (Like any argument, local users can read it in /proc/<pid>/cmdline.)
    '-passphrase', o.passphrase,
    // Encoders send MPEG-TS over SRT; forcing it keeps a caller's garbage from being probed as something else.
    '-f', 'mpegts',
    '-i', `srt://${host}:${o.port}?${query.toString()}`,
    '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy',
    '-f', 'mpegts', '-flush_packets', '1', 'pipe:1',
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
