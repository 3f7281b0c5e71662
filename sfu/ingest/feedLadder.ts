/**
 * The ladder of an encoder's feed, for weak communes: below the picture the
 * encoder sends, the server makes smaller ones, offered to the points as the
 * lower simulcast layers of the same producer — so the weak-link policy and
 * the 'low' receive mode (onAir.ts preferredSpatialLayer) pick them with no
 * change. Pure: EncoderFeed decides from it, the unit tests check it.
 */

/** A lower layer the server encodes: its height, its bitrate and its SSRC in the producer. */
export interface LadderRung {
  height: number;
  kbps: number;
  ssrc: number;
}

/**
 * The lower layers, high to low: 360 lines at ~500 kbit/s (a commune on a
 * modest ADSL or 4G link), 180 lines at ~150 kbit/s (the weakest links).
 * The SSRCs say the height, for whoever reads a capture.
 */
export const ladderRungs: readonly LadderRung[] = [
  { height: 360, kbps: 500, ssrc: 31313360 },
  { height: 180, kbps: 150, ssrc: 31313180 },
];

/** The largest picture the transcoder makes (feedFfmpegArgs scales a wider one down to this width). */
export const maxTranscodedWidth = 1920;

/**
 * The height of the top layer: the encoder's picture, or the transcode of it
 * (no wider than maxTranscodedWidth); null when the feed did not say its size
 * (a codec whose configuration is not read, such as HEVC).
 */
export function topLayerHeight(picture: { width: number | null; height: number | null }, transcoding: boolean): number | null {
  const { width, height } = picture;
  if (height === null) return null;
  if (transcoding && width !== null && width > maxTranscodedWidth) return Math.round((height * maxTranscodedWidth) / width);
  return height;
}

/**
 * The lower layers worth making below a top layer `topHeight` lines high,
 * ordered low → high as mediasoup orders simulcast encodings: only those
 * smaller than the top (a 360p feed gets a 180p layer only; a 180p one none).
 * A top of unknown size gets every rung: encoders send HD far more often
 * than anything below 360 lines.
 */
export function lowerLayers(topHeight: number | null): LadderRung[] {
  return ladderRungs.filter((rung) => topHeight === null || rung.height < topHeight).sort((a, b) => a.height - b.height);
}
