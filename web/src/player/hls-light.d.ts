/**
 * hls.js's light build: everything this player uses (HLS over MPEG-TS/fMP4,
 * ABR, live) without subtitles, alternate audio, DRM and CMCD, about a third
 * smaller for viewers on phones. It has the API of the full build.
 */
declare module 'hls.js/light' {
  export * from 'hls.js';
  export { default } from 'hls.js';
}
