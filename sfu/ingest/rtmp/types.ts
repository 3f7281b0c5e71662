import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/** What an encoder asked to publish to, and from where. */
export interface RtmpPublishRequest {
  /** The application part of the URL (rtmp://host/<app>/<name>). */
  app: string;
  /** The stream name (the "stream key"), without any `?query`. */
  name: string;
  remoteAddress: string;
}

/** RTMPS: the server's certificate (its chain first) and private key, PEM. */
export interface RtmpTls {
  cert: string | Buffer;
  key: string | Buffer;
}

export type RtmpAuthorization = { ok: true; feedId: string } | { ok: false; reason: string };

/** An encoder whose publish was accepted. */
export interface RtmpPublisher extends EventEmitter<{ close: [reason: string] }> {
  readonly request: RtmpPublishRequest;
  readonly feedId: string;
  /** An FLV byte stream: the header, then one tag per RTMP audio, video or data message. */
  readonly flv: Readable;
  close(reason?: string): void;
  readonly closed: boolean;
}

/** What one connection may cost before it is closed. */
export interface RtmpLimits {
  /** Connections open at once; more are closed on arrival. */
  maxConnections: number;
  /**
   * Connections open at once from one address: a client flooding the port
   * (half-open TLS handshakes, again and again) leaves the other addresses'
   * encoders room; a desk pushing several sessions from one address fits.
   */
  maxConnectionsPerAddress: number;
  /** Bytes a client may send before its publish is accepted (the handshake and commands take ~4 KiB). */
  maxBytesBeforePublish: number;
  /** Time from connect to an accepted publish, authorization included. */
  publishTimeoutMs: number;
  /** Largest RTMP message once publishing (a keyframe of a 4K picture fits). */
  maxMessageBytes: number;
  /** Chunk streams one connection may use (encoders use 3 to 6). */
  maxChunkStreams: number;
  /** FLV bytes held for a slow reader before the socket is paused. */
  flvBufferBytes: number;
  /** How long a publisher may stay paused by a reader that does not read before it is closed. */
  stalledReaderMs: number;
  /** How long a publisher may send nothing before it is closed. */
  idleTimeoutMs: number;
  /** RTMPS: time from connect to a completed TLS handshake (a real encoder needs a round trip or two). */
  tlsHandshakeTimeoutMs: number;
}

export const defaultRtmpLimits: RtmpLimits = {
  maxConnections: 32,
  maxConnectionsPerAddress: 16,
  maxBytesBeforePublish: 64 * 1024,
  publishTimeoutMs: 10_000,
  maxMessageBytes: 8 * 1024 * 1024,
  maxChunkStreams: 16,
  flvBufferBytes: 4 * 1024 * 1024,
  stalledReaderMs: 10_000,
  idleTimeoutMs: 30_000,
  tlsHandshakeTimeoutMs: 5_000,
};
