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
