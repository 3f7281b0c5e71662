/**
 * The receiving side of the fan-out bench, run as its own process (forked by
 * Receiver) so that the UDP sockets do not share an event loop with
 * mediasoup's control channel. It counts RTP packets and sequence-number gaps
 * per SSRC (the RTP header is not encrypted under SRTP; RTCP is ignored).
 */
import dgram from 'node:dgram';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface StreamState {
  ssrc: number;
  pt: number;
  count: number;
  bytes: number;
  /** Highest extended sequence number seen. */
  maxExt: number;
  markCount: number;
  markExt: number;
  markBytes: number;
}

interface SocketState {
  socket: dgram.Socket;
  port: number;
  streams: Map<number, StreamState>;
  last?: StreamState;
  rtcp: number;
}

/** Per receiver socket: [payloadType, packets, expected (seq span), bytes] per SSRC since the mark. */
export type SocketReport = [pt: number, packets: number, expected: number, bytes: number][];

export type ReceiverRequest =
  | { id: number; type: 'bind'; count: number; recvBufferSize: number }
  | { id: number; type: 'mark' }
  | { id: number; type: 'report' }
  | { id: number; type: 'close' };
function receiverMain(): void {
  const sockets: SocketState[] = [];
  const reply = (id: number, data: unknown) => process.send!({ id, data });

  const onPacket = (s: SocketState, msg: Buffer) => {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const b1 = msg[1];
    if (b1 >= 192 && b1 <= 223) {
      s.rtcp++; // RTCP multiplexed on the same port (SR, SDES, BYE…)
      return;
    }
    const ssrc = msg.readUInt32BE(8);
    let st = s.last;
    if (!st || st.ssrc !== ssrc) {
      st = s.streams.get(ssrc);
      if (!st) {
        const seq0 = msg.readUInt16BE(2);
        // Created after the mark: the window counts it from its first packet.
        st = { ssrc, pt: b1 & 0x7f, count: 0, bytes: 0, maxExt: seq0 - 1, markCount: 0, markExt: seq0 - 1, markBytes: 0 };
        s.streams.set(ssrc, st);
      }
      s.last = st;
    }
    const seq = msg.readUInt16BE(2);
    const delta = (seq - (st.maxExt & 0xffff)) & 0xffff;
    if (delta !== 0 && delta < 0x8000) st.maxExt += delta; // forward; late or duplicate packets do not move it
    st.count++;
    st.bytes += msg.length;
  };

  const onRequest = async (req: ReceiverRequest) => {
    switch (req.type) {
      case 'bind': {
        for (let i = 0; i < req.count; i++) {
          const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: req.recvBufferSize });
          const state: SocketState = { socket, port: 0, streams: new Map(), rtcp: 0 };
          socket.on('message', (msg) => onPacket(state, msg));
          socket.on('error', () => {});
          await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
          socket.setRecvBufferSize(req.recvBufferSize);
          state.port = socket.address().port;
          sockets.push(state);
        }
        reply(
          req.id,
          sockets.map((s) => s.port),
        );
        break;
      }
      case 'mark':
        for (const s of sockets) {
          for (const st of s.streams.values()) {
            st.markCount = st.count;
            st.markExt = st.maxExt;
            st.markBytes = st.bytes;
          }
        }
        reply(req.id, performance.now());
        break;
      case 'report': {
        const report: SocketReport[] = sockets.map((s) =>
          [...s.streams.values()].map((st) => [st.pt, st.count - st.markCount, st.maxExt - st.markExt, st.bytes - st.markBytes]),
        );
        reply(req.id, { at: performance.now(), sockets: report });
        break;
      }
      case 'close':
        for (const s of sockets) s.socket.close();
        reply(req.id, null);
        setTimeout(() => process.exit(0), 50);
        break;
    }
  };
  process.on('message', (req: ReceiverRequest) => void onRequest(req));
  process.on('disconnect', () => process.exit(0));
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) receiverMain();
