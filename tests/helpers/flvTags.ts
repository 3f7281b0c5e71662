/** One FLV tag, as much of it as the tests look at. */
export interface FlvTag {
  /** 8 audio, 9 video, 18 script data. */
  type: number;
  timestamp: number;
  /** Video: frame type (1 keyframe) and codec id (7 AVC); AVC packet type (0 sequence header, 1 NALUs). */
  keyframe?: boolean;
  videoCodecId?: number;
  /** Audio: sound format (10 AAC); AAC packet type (0 sequence header, 1 raw). */
  soundFormat?: number;
  packetType?: number;
}

/**
 * Reads FLV as it arrives: the 9-byte header, then tags (11-byte header,
 * body, 4-byte previous tag size). A few lines instead of a dependency.
 */
export class FlvTagReader {
  readonly tags: FlvTag[] = [];
  #buffer = Buffer.alloc(0);
  #headerRead = false;

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#headerRead) {
      if (this.#buffer.length < 13) return;
      if (this.#buffer.toString('latin1', 0, 3) !== 'FLV') throw new Error('not FLV');
      const dataOffset = this.#buffer.readUInt32BE(5);
      this.#buffer = this.#buffer.subarray(dataOffset + 4); // header, then PreviousTagSize0
      this.#headerRead = true;
    }
    while (this.#buffer.length >= 11) {
      const size = this.#buffer.readUIntBE(1, 3);
      if (this.#buffer.length < 11 + size + 4) return;
      const type = this.#buffer[0] & 0x1f;
      const timestamp = this.#buffer.readUIntBE(4, 3) | (this.#buffer[7] << 24);
      const body = this.#buffer.subarray(11, 11 + size);
      const tag: FlvTag = { type, timestamp };
      if (type === 9 && body.length >= 2) {
        tag.keyframe = body[0] >> 4 === 1;
        tag.videoCodecId = body[0] & 0x0f;
        tag.packetType = body[1];
      } else if (type === 8 && body.length >= 2) {
        tag.soundFormat = body[0] >> 4;
        tag.packetType = body[1];
      }
      this.tags.push(tag);
      this.#buffer = this.#buffer.subarray(11 + size + 4);
    }
  }
}
