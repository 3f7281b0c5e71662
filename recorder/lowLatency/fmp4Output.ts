/**
 * How an encoder run writes the fragmented MP4 that LowLatencyStream reads,
 * on its stdout. Measured with Debian's ffmpeg 5.1:
 *
 * - as a second output (fmp4PipeOutput after the HLS output's arguments,
 *   its own -map/-c), a broken pipe ends the whole run (exit 1, the archive's
 *   HLS stops too), and a transcoded picture (slate, VP8) is encoded twice;
 * - as a slave of the tee muxer (ffmpegArgs.ts), one encode feeds both, and a
 *   failing pipe is dropped while the HLS slave goes on ("continuing with
 *   1/2 slaves"). It needs `-flags +global_header` (avcC for MP4) and
 *   `bsfs/v=dump_extra` on the HLS slave (SPS/PPS in band for MPEG-TS).
 */

/** The output's options: fragments of ≥ 200 ms and one at each keyframe, flushed to the pipe as written. */
export function fmp4Options(fragmentMicroseconds = 200_000): [string, string][] {
  return [
    ['f', 'mp4'],
    ['movflags', '+empty_moov+default_base_moof+frag_keyframe'],
    ['frag_duration', String(fragmentMicroseconds)],
    ['flush_packets', '1'],
  ];
}

/** The same as an output of its own, on stdout. */
export function fmp4PipeOutput(fragmentMicroseconds = 200_000): string[] {
  return [...fmp4Options(fragmentMicroseconds).flatMap(([name, value]) => [`-${name}`, value]), 'pipe:1'];
}
