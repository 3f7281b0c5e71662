import { LowLatencyRequestError } from './errors.js';

/** What a player asks of a live playlist (RFC 8216bis §6.2.5): a blocking reload and/or a delta update. */
export interface PlaylistRequest {
  /** _HLS_msn: hold the answer until segment `msn` (or its part `part`) exists. */
  msn?: number;
  /** _HLS_part: with `msn` only. */
  part?: number;
  /** _HLS_skip=YES (or v2): the segments older than CAN-SKIP-UNTIL are replaced by EXT-X-SKIP. */
  skip?: boolean;
}

const INTEGER = /^(0|[1-9]\d{0,14})$/;

/** Reads the query of a playlist URL (as Express gives it) strictly: anything odd is a 400, never a guess. */
export function parsePlaylistRequest(query: Record<string, unknown>): PlaylistRequest {
  const read = (key: string): number | undefined => {
    const value = query[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !INTEGER.test(value))
      throw new LowLatencyRequestError('bad-query', `${key} must be a non-negative integer`);
    return Number(value);
  };
  const msn = read('_HLS_msn');
  const part = read('_HLS_part');
  const skipValue = query._HLS_skip;
  if (skipValue !== undefined && skipValue !== 'YES' && skipValue !== 'v2') {
    throw new LowLatencyRequestError('bad-query', '_HLS_skip must be YES or v2');
  }
  if (part !== undefined && msn === undefined) throw new LowLatencyRequestError('part-without-msn', '_HLS_part needs _HLS_msn');
  return { msn, part, skip: skipValue !== undefined };
}
