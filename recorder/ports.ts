import fs from 'node:fs';
import dgram from 'node:dgram';

function bind(port: number): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(null));
    socket.bind(port, '127.0.0.1', () => resolve(socket));
  });
}

/**
 * A free even UDP port whose next port is free too (RTP and RTCP for ffmpeg).
 * The ports are released before ffmpeg binds them; a collision makes ffmpeg
 * exit and the recorder start again.
 */
export async function freeRtpPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await bind(0);
    if (!probe) continue;
    let port = probe.address().port;
    probe.close();
    if (port % 2 === 1) port -= 1;
    const a = await bind(port);
    const b = a ? await bind(port + 1) : null;
    a?.close();
    b?.close();
    if (a && b) return port;
  }
  throw new Error('no free UDP port pair for the recorder');
}

/** The UDP ports something on this machine listens on (Linux: /proc/net/udp). */
function listeningUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    if (local) ports.add(Number.parseInt(local.split(':')[1], 16));
  }
  return ports;
}

/**
 * Resolves once every port is bound (by the ffmpeg just started on them), or
 * false after `timeoutMs`. Media sent before that is lost, and a lost first
 * keyframe leaves a run without a picture until the next one.
 */
export async function portsBound(ports: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bound = listeningUdpPorts();
    if (ports.every((p) => bound.has(p))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * An empty RTCP receiver report (RFC 3550 §6.4.2: version 2, no report
 * blocks, sender SSRC 0): a packet ffmpeg reads and ignores.
 */
const emptyReceiverReport = Buffer.from([0x80, 201, 0x00, 0x01, 0, 0, 0, 0]);

/**
 * Wakes an encoder that waits for a packet on its RTCP ports (`rtpPort + 1`):
 * asked to stop while no packet comes (its senders gone or stalled), ffmpeg
 * only acts on the signal once a read returns.
 */
export async function nudge(rtpPorts: readonly number[]): Promise<void> {
  if (!rtpPorts.length) return;
  const socket = dgram.createSocket('udp4');
  try {
    await Promise.all(
      rtpPorts.map((port) => new Promise<void>((resolve) => socket.send(emptyReceiverReport, port + 1, '127.0.0.1', () => resolve()))),
    );
  } finally {
    socket.close();
  }
}
