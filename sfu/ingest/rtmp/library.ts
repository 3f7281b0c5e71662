/**
 * node-media-server's protocol modules, loaded once: the RTMP chunk parser
 * and the FLV tag reader/writer are its, not ours (a protocol parser written
 * again is a protocol parser debugged again). They are CommonJS files deep
 * inside the package, typed by nodeMediaServer.d.ts beside this file.
 */
import { createRequire } from 'node:module';
import { h264SpsIsBounded, plausiblePictureSize } from './h264SpsBounds.js';

const requireCjs = createRequire(import.meta.url);

export const Rtmp = requireCjs('node-media-server/src/protocol/rtmp.js') as typeof import('node-media-server/src/protocol/rtmp.js');
export type Rtmp = InstanceType<typeof Rtmp>;
export const Flv = requireCjs('node-media-server/src/protocol/flv.js') as typeof import('node-media-server/src/protocol/flv.js');
export type Flv = InstanceType<typeof Flv>;
const spsInfo = requireCjs('node-media-server/src/protocol/sps_info.js') as typeof import('node-media-server/src/protocol/sps_info.js');
/**
 * The picture size an H.264 SPS says, or null: the library's parser, only on
 * an SPS it reads in bounded time and only for a size an encoder can send
 * (h264SpsBounds.ts: a crafted SPS would otherwise hold the event loop).
 */
export function parseH264Sps(sps: Buffer): { width: number; height: number } | null {
  return h264SpsIsBounded(sps) ? plausiblePictureSize(spsInfo.parseH264Sps(sps)) : null;
}

// The library logs with console.log, at debug level, on what a client sends
// (every "releaseStream" of ffmpeg and OBS is an "Unknown command" to it): a
// hostile client would write our stdout. Our own logs say what matters.
const libraryLogger = requireCjs('node-media-server/src/core/logger.js') as typeof import('node-media-server/src/core/logger.js');
libraryLogger.log = () => {};
