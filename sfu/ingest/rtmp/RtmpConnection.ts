import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from '../../logger.js';
import { RtmpProtocolError } from './errors.js';
import { Flv, Rtmp } from './library.js';
import { RtmpPublication } from './RtmpPublication.js';
import type { RtmpAuthorization, RtmpLimits, RtmpPublisher, RtmpPublishRequest } from './types.js';

export interface RtmpConnectionOptions {
  limits: RtmpLimits;
  logger: Logger;
  authorize(request: RtmpPublishRequest): Promise<RtmpAuthorization>;
  onPublish(publisher: RtmpPublisher): void;
  onRefused(refusal: RtmpPublishRequest & { reason: string }): void;
}

type State = 'connecting' | 'authorizing' | 'publishing' | 'closed';

/** Longest app or stream name we pass on to the authorizer. */
const maxNameLength = 256;
/** What a refused client is given to read its error before its socket is destroyed. */
const lingerMs = 2000;
/** FLV tag types we pass on: audio, video, script data (AMF0). */
const audioTag = 8;
const videoTag = 9;
const dataTag = 18;
/** AMF0 string "@setDataFrame": RTMP wraps the metadata in it, an FLV file does not. */
const setDataFrame = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame')]);

/**
 * One TCP connection of the RTMP server: node-media-server's parser fed with
 * its bytes, under our limits. Every byte is hostile until the publish is
 * authorized: the bytes before it are counted and the time to it is bounded;
 * the parser throwing (it does on malformed commands) closes this connection
 * alone. Playing is refused.
 *
 * The library answers a publish with "NetStream.Publish.Start" at once; that
 * answer is held back here until the authorizer has decided, so that an
 * encoder does not start sending to a stream it will not get (encoders wait
 * for it before sending media).
 */
export class RtmpConnection extends EventEmitter<{ close: [] }> {
  readonly #socket: Socket;
  readonly #options: RtmpConnectionOptions;
  readonly #limits: RtmpLimits;
  readonly #log: Logger;
  readonly #rtmp: Rtmp;
  #state: State = 'connecting';
  #received = 0;
  #sinceAck = 0;
  #publication: RtmpPublication | null = null;
  /** FLV tags that arrived with the publish command, before the authorizer answered (bounded by maxBytesBeforePublish). */
  readonly #early: Buffer[] = [];
  #request: RtmpPublishRequest | null = null;
  #readerBehind = false;
  #publishTimer: NodeJS.Timeout | null;
  #stallTimer: NodeJS.Timeout | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;

  constructor(socket: Socket, options: RtmpConnectionOptions) {
    super();
    this.#socket = socket;
    this.#options = options;
    this.#limits = options.limits;
    this.#log = options.logger.child({ rtmpClient: `${socket.remoteAddress}:${socket.remotePort}` });
    this.#rtmp = this.#createParser();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('error', (error) => this.#log.debug({ err: error }, 'rtmp socket error'));
    socket.on('timeout', () => this.close('the encoder sent nothing for too long'));
    socket.once('close', () => {
      this.close('the encoder disconnected');
      if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
      this.emit('close');
    });
    this.#publishTimer = setTimeout(() => this.close('no publish in time'), this.#limits.publishTimeoutMs);
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Closes the connection; what the reader has not read yet stays readable.
   * `linger` lets the client read what was last written (a refusal) first.
   */
  close(reason: string, { linger = false }: { linger?: boolean } = {}): void {
    if (this.#state === 'closed') return;
    const wasPublishing = this.#state === 'publishing';
    this.#state = 'closed';
    if (this.#publishTimer) clearTimeout(this.#publishTimer);
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#publishTimer = this.#stallTimer = null;
    this.#early.length = 0;
    if (linger && !this.#socket.destroyed) {
      this.#socket.end();
      // Read (and ignore) what it still sends, so that its hanging up is seen before the timer.
      this.#socket.resume();
      this.#lingerTimer = setTimeout(() => this.#socket.destroy(), lingerMs);
    } else {
      this.#socket.destroy();
    }
    this.#log[wasPublishing ? 'info' : 'debug']({ reason, app: this.#request?.app }, 'rtmp connection closed');
    this.#publication?.ended(reason);
  }

  /** Closes at once, without letting a refused client read its answer (the server is closing). */
  destroy(reason: string): void {
    this.close(reason);
    this.#socket.destroy();
  }

  #createParser(): Rtmp {
    const rtmp = new Rtmp();
    rtmp.onOutputCallback = (bytes) => {
      if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(bytes);
    };
    rtmp.onPushCallback = () => this.#onPublishCommand();
    rtmp.onPlayCallback = () => this.#onPlayCommand();
    rtmp.onPacketCallback = (packet) => this.#onMessage(packet.codec_type, packet.dts, packet.data, packet.size);
    // The parser allocates a message's whole length as soon as it reads its
    // header (up to 16 MiB, on any of thousands of chunk streams): checked
    // first, against what this connection may send in its state.
    const allocate = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      const packet = rtmp.parserPacket;
      if (packet.capacity < packet.header.length) {
        const limit = this.#state === 'publishing' ? this.#limits.maxMessageBytes : this.#limits.maxBytesBeforePublish;
        if (packet.header.length > limit) throw new RtmpProtocolError(`a message of ${packet.header.length} bytes`);
        if (rtmp.inPackets.size > this.#limits.maxChunkStreams) throw new RtmpProtocolError('too many chunk streams');
        // Messages half-received on several chunk streams at once: together no more than two of the largest.
        let held = packet.header.length;
        for (const other of rtmp.inPackets.values()) if (other !== packet) held += other.capacity;
        if (held > 2 * limit) throw new RtmpProtocolError(`${held} bytes of messages held at once`);
      }
      allocate();
    };
    // Held until the authorizer answers (see the class comment); a play is never answered.
    rtmp.respondPublish = () => {};
    rtmp.respondPlay = () => {};
    // An encoder that stops publishing but keeps its connection would otherwise stay "connected" until the idle timeout.
    rtmp.onDeleteStream = () => {
      if (this.#state === 'publishing') this.close('the encoder stopped publishing');
    };
    return rtmp;
  }

  #onData(data: Buffer): void {
    if (this.#state === 'closed') return;
    this.#received += data.length;
    if (this.#state !== 'publishing' && this.#received > this.#limits.maxBytesBeforePublish) {
      this.close('too many bytes before publishing');
      return;
    }
    try {
      const error = this.#rtmp.parserData(data);
      if (error) throw new RtmpProtocolError(error);
      // A chunk size of 0 would stall the parser; chunk streams are created by headers alone.
      if (!(this.#rtmp.inChunkSize >= 1)) throw new RtmpProtocolError(`chunk size ${this.#rtmp.inChunkSize}`);
      if (this.#rtmp.inPackets.size > this.#limits.maxChunkStreams) throw new RtmpProtocolError('too many chunk streams');
    } catch (error) {
      this.close(`protocol error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 200));
      return;
    }
    this.#acknowledge(data.length);
  }

  /** RTMP's flow control: some encoders stop sending when the bytes they sent are not acknowledged (the library does not). */
  #acknowledge(bytes: number): void {
    const windowSize = this.#rtmp.ackSize;
    if (this.#state === 'closed' || !windowSize || windowSize <= 0) return;
    this.#sinceAck += bytes;
    if (this.#sinceAck < windowSize) return;
    this.#sinceAck = 0;
    this.#rtmp.sendACK(this.#received % 2 ** 32);
  }

  #onPlayCommand(): void {
    if (this.#state === 'closed') return;
    const request = this.#requestOf();
    const reason = 'playing is not offered: this server only takes publishers';
    this.#rtmp.sendStatusMessage(this.#rtmp.streamId ?? 0, 'error', 'NetStream.Play.Failed', reason);
    if (request) this.#options.onRefused({ ...request, reason });
    this.close('play refused', { linger: true });
  }

  #onPublishCommand(): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'connecting') {
      this.close('a second publish on one connection');
      return;
    }
    const request = this.#requestOf();
    if (!request) {
      this.close('malformed publish');
      return;
    }
    this.#request = request;
    this.#state = 'authorizing';
    // Encoders wait for our answer; anything more is held in the socket meanwhile.
    this.#socket.pause();
    this.#options
      .authorize(request)
      .then(
        (authorization) => this.#decide(request, authorization),
        (error: unknown) => {
          this.#log.error({ err: error }, 'rtmp authorization failed');
          this.#decide(request, { ok: false, reason: 'authorization failed' });
        },
      )
      // A listener of ours that throws must not become an unhandled rejection (which ends the process).
      .catch((error: unknown) => {
        this.#log.error({ err: error }, 'rtmp publish could not be started');
        this.close('internal error');
      });
  }

  #requestOf(): RtmpPublishRequest | null {
    const { streamApp: app, streamName: name } = this.#rtmp;
    if (typeof app !== 'string' || typeof name !== 'string') return null;
    if (app.length > maxNameLength || name.length > maxNameLength) return null;
    return { app, name, remoteAddress: this.#socket.remoteAddress ?? '' };
  }

  #decide(request: RtmpPublishRequest, authorization: RtmpAuthorization): void {
    if (this.#state !== 'authorizing') return; // closed meanwhile (timeout, disconnect)
    if (!authorization.ok) {
      // The client is told no more than that: the reason (which session, which key) is for our audit log.
      this.#rtmp.sendStatusMessage(this.#rtmp.streamId ?? 0, 'error', 'NetStream.Publish.Unauthorized', 'publishing refused');
      this.#options.onRefused({ ...request, reason: authorization.reason });
      this.close(`refused: ${authorization.reason}`, { linger: true });
      return;
    }
    this.#state = 'publishing';
    if (this.#publishTimer) clearTimeout(this.#publishTimer);
    this.#publishTimer = null;
    Rtmp.prototype.respondPublish.call(this.#rtmp);
    const publication = new RtmpPublication({
      request,
      feedId: authorization.feedId,
      highWaterMark: this.#limits.flvBufferBytes,
      onRead: () => this.#readerCaughtUp(),
      closeConnection: (reason) => this.close(reason),
    });
    this.#publication = publication;
    publication.push(Flv.createHeader(true, true));
    for (const tag of this.#early.splice(0)) this.#forward(tag);
    this.#socket.setTimeout(this.#limits.idleTimeoutMs);
    this.#log.info({ app: request.app, feedId: authorization.feedId }, 'rtmp publish accepted');
    this.#options.onPublish(publication);
    if (!this.#readerBehind && this.#state === 'publishing') this.#socket.resume();
  }

  /** An audio, video or data message, as an FLV tag. */
  #onMessage(type: number, timestamp: number, data: Buffer, size: number): void {
    if (this.#state !== 'publishing' && this.#state !== 'authorizing') return;
    if (type !== audioTag && type !== videoTag && type !== dataTag) return;
    let payload = data.subarray(0, size);
    if (type === dataTag && payload.subarray(0, setDataFrame.length).equals(setDataFrame)) payload = payload.subarray(setDataFrame.length);
    // createMessage copies: the parser reuses its buffer for the next message.
    const tag = Flv.createMessage({ codec_type: type, dts: timestamp, size: payload.length, data: payload });
    if (this.#state === 'authorizing') this.#early.push(tag);
    else this.#forward(tag);
  }

  #forward(tag: Buffer): void {
    if (!this.#publication || this.#publication.push(tag) || this.#readerBehind) return;
    // The reader is behind: the encoder waits (TCP) until it catches up, for a while.
    this.#readerBehind = true;
    this.#socket.pause();
    this.#stallTimer = setTimeout(() => this.close('the reader of the stream is too slow'), this.#limits.stalledReaderMs);
  }

  #readerCaughtUp(): void {
    if (!this.#readerBehind) return;
    this.#readerBehind = false;
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
    if (this.#state === 'publishing') this.#socket.resume();
  }
}
