import dgram from 'node:dgram';

/** A UDP socket that counts the RTP packets it receives, per SSRC. */
export interface RtpSink {
  port: number;
  packets: Map<number, number>;
  count(ssrc: number): number;
  close(): void;
}

export async function rtpSink(): Promise<RtpSink> {
  const socket = dgram.createSocket('udp4');
  const packets = new Map<number, number>();
  socket.on('message', (msg) => {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const payloadType = msg[1] & 0x7f;
    if (payloadType >= 72 && payloadType <= 76) return; // RTCP (200-204 with the marker bit)
    const ssrc = msg.readUInt32BE(8);
    packets.set(ssrc, (packets.get(ssrc) ?? 0) + 1);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: socket.address().port,
    packets,
    count: (ssrc) => packets.get(ssrc) ?? 0,
    close: () => socket.close(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
