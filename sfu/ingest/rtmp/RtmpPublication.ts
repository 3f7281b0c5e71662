import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { RtmpPublisher, RtmpPublishRequest } from './types.js';

export interface RtmpPublicationOptions {
  request: RtmpPublishRequest;
  feedId: string;
  /** FLV bytes held for the reader before push() says stop. */
  highWaterMark: number;
  /** The reader wants more: the connection resumes its socket. */
  onRead: () => void;
  /** Closes the connection (whose closing ends this publication). */
  closeConnection: (reason: string) => void;
}

/**
 * The accepted publish of one RTMP connection, as its reader sees it: an FLV
 * byte stream the connection pushes into, bounded by `highWaterMark` (the
 * connection pauses its socket when push() returns false, so a slow reader
 * slows the encoder down through TCP instead of filling our memory).
 */
export class RtmpPublication extends EventEmitter<{ close: [reason: string] }> implements RtmpPublisher {
  readonly request: RtmpPublishRequest;
  readonly feedId: string;
  readonly flv: Readable;
  readonly #closeConnection: (reason: string) => void;
  #closed = false;

  constructor(options: RtmpPublicationOptions) {
    super();
    this.request = options.request;
    this.feedId = options.feedId;
    this.#closeConnection = options.closeConnection;
    this.flv = new Readable({ highWaterMark: options.highWaterMark, read: () => options.onRead() });
    // A reader that destroys the stream has no use for the encoder any more.
    this.flv.once('close', () => {
      if (!this.#closed) this.#closeConnection('the reader closed the stream');
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues FLV bytes for the reader; false once its buffer is full. */
  push(bytes: Buffer): boolean {
    if (this.#closed) return false;
    return this.flv.push(bytes);
  }

  close(reason = 'closed'): void {
    this.#closeConnection(reason);
  }

  /** The connection is gone: what was queued stays readable, then the stream ends. */
  ended(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.flv.destroyed) this.flv.push(null);
    this.emit('close', reason);
  }
}
