/**
 * What Diemcau uses of node-media-server's protocol modules (CommonJS, no
 * types of their own): the RTMP chunk parser, the FLV tag reader and writer,
 * the AMF0 encoder (tests craft commands with it), the SPS reader and the
 * shared logger. Only the members we read or hook are declared.
 */

declare module 'node-media-server/src/core/avpacket.js' {
  class AVPacket {
    /** FLV tag type: 8 audio, 9 video, 18 script data. */
    codec_type: number;
    codec_id: number;
    flags: number;
    pts: number;
    dts: number;
    size: number;
    /** The parser's own buffer, reused for the next message: copy before keeping. */
    data: Buffer;
  }
  export = AVPacket;
}

declare module 'node-media-server/src/protocol/rtmp.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';

  interface RtmpChunkPacket {
    header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
    clock: number;
    payload: Buffer;
    capacity: number;
    bytes: number;
  }

  class Rtmp {
    onConnectCallback: (request: { app: unknown; name: unknown; host: unknown; query: unknown }) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    /** Feeds bytes from the socket; throws on some malformed input. */
    parserData(buffer: Buffer): string | null;
    inChunkSize: number;
    /** The peer's window acknowledgement size, once it sent one. */
    ackSize?: number;
    inPackets: Map<number, RtmpChunkPacket>;
    parserPacket: RtmpChunkPacket;
    streamApp?: unknown;
    streamName?: unknown;
    streamId?: number;
    packetAlloc(): void;
    respondPublish(): void;
    respondPlay(): void;
    /** A no-op in the library: the client's deleteStream (it stops publishing). */
    onDeleteStream(command: unknown): void;
    sendACK(size: number): void;
    sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
    static createMessage(packet: AVPacket | { codec_type: number; dts: number; size: number; data: Buffer }): Buffer;
    static chunksCreate(packet: {
      header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
      clock: number;
      payload: Buffer;
    }): Buffer;
  }
  export = Rtmp;
}

declare module 'node-media-server/src/protocol/flv.js' {
  import type AVPacket from 'node-media-server/src/core/avpacket.js';

  class Flv {
    onPacketCallback: (packet: AVPacket) => void;
    /** Splits FLV bytes into tags; returns an error message when the stream is not FLV. */
    parserData(buffer: Buffer): string | null;
    parserTagAlloc(size: number): void;
    static createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
    static createMessage(packet: { codec_type: number; dts: number; size: number; data: Buffer }): Buffer;
  }
  export = Flv;
}

declare module 'node-media-server/src/protocol/amf.js' {
  export function encodeAmf0Cmd(command: Record<string, unknown>): Buffer;
}

declare module 'node-media-server/src/protocol/sps_info.js' {
  export function parseH264Sps(sps: Buffer): { width: number; height: number } | null;
}

declare module 'node-media-server/src/core/logger.js' {
  const logger: { log(message: string, level?: string): void };
  export = logger;
}
