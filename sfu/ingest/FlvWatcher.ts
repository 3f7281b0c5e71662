import { FeedMeter } from './feedInspector.js';
import { Flv } from './rtmp/library.js';

/** The bytes given as FLV are not FLV, or carry a tag larger than we hold. */
export class FlvFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlvFormatError';
  }
}

/** Largest FLV tag held (a 4K keyframe fits). */
const maxTagBytes = 8 * 1024 * 1024;
const signature = Buffer.from('FLV');

/**
 * Reads an FLV byte stream as it passes (node-media-server's tag reader) and
 * measures it (FeedMeter). Bytes from an SRT listener are as hostile as an
 * RTMP client's: the signature is checked, and a tag's size before the
 * reader allocates it.
 */
export class FlvWatcher {
  readonly meter: FeedMeter;
  readonly #parser: Flv;
  #head = Buffer.alloc(0);
  #now = 0;

  constructor(meter = new FeedMeter()) {
    this.meter = meter;
    this.#parser = new Flv();
    this.#parser.onPacketCallback = (packet) =>
      this.meter.add({ type: packet.codec_type, timestamp: packet.dts, payload: packet.data.subarray(0, packet.size) }, this.#now);
    const allocate = this.#parser.parserTagAlloc.bind(this.#parser);
    this.#parser.parserTagAlloc = (size) => {
      if (size > maxTagBytes) throw new FlvFormatError(`an FLV tag of ${size} bytes`);
      allocate(size);
    };
  }

  /** Reads the next bytes of the stream, arrived at `nowMs`; throws FlvFormatError when they are not FLV. */
  write(chunk: Buffer, nowMs = Date.now()): void {
    if (this.#head.length < signature.length) {
      this.#head = Buffer.concat([this.#head, chunk.subarray(0, signature.length - this.#head.length)]);
      if (!signature.subarray(0, this.#head.length).equals(this.#head)) throw new FlvFormatError('not an FLV stream');
    }
    this.#now = nowMs;
    const error = this.#parser.parserData(chunk);
    if (error) throw new FlvFormatError(error);
  }
}
