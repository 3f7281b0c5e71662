/**
 * Encoder secrets: derived, not stored. Each is an HMAC of the server's
 * secret over the session, the protocol and a generation number kept per
 * session; a new generation (the operator's "new secret") makes every older
 * secret wrong at once, with nothing to delete.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IngestProtocol } from '../../protocol/index.js';

/** 24 characters of base64url (144 bits): fits SRT's 10–79 character passphrase and an RTMP stream key. */
const secretLength = 24;

/** The secret an encoder of this protocol needs for this session, at this generation. */
export function ingestSecret(serverSecret: string, sessionId: string, protocol: IngestProtocol, generation: number): string {
  return createHmac('sha256', serverSecret)
    .update(`diemcau-ingest\0${protocol}\0${sessionId}\0${generation}`)
    .digest('base64url')
    .slice(0, secretLength);
}

/** Compares in constant time: an attacker learns nothing from how long a wrong secret takes. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The RTMP stream key: the session and its secret, as encoders take it in one field. */
export function rtmpStreamKey(sessionId: string, secret: string): string {
  return `${sessionId}~${secret}`;
}

/** The session and secret in an RTMP stream key; null for anything else ('~' never occurs in a session id). */
export function parseRtmpStreamKey(key: string): { sessionId: string; secret: string } | null {
  if (key.length > 256) return null;
  const at = key.lastIndexOf('~');
  if (at <= 0 || at === key.length - 1) return null;
  return { sessionId: key.slice(0, at), secret: key.slice(at + 1) };
}

/**
 * SRT's stream id for a session: the session id itself. SRT's access-control
 * syntax (`#!::r=…,m=publish`) starts a URL fragment, which encoders' URL
 * fields and ffmpeg 5.1 (no URL decoding of the stream id) do not agree on.
 */
export function srtStreamId(sessionId: string): string {
  return sessionId;
}
