import type { types } from 'mediasoup';

export interface SdpStream {
  kind: 'audio' | 'video';
  port: number;
  rtpParameters: types.RtpParameters;
}

/**
 * An SDP file describing plain RTP streams arriving on loopback, which ffmpeg
 * reads as its input. RTCP for each stream arrives on port + 1.
 */
export function buildSdp(streams: SdpStream[]): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=Diemcau program', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const stream of streams) {
    const codec = stream.rtpParameters.codecs[0];
    const pt = codec.payloadType;
    const name = codec.mimeType.split('/')[1];
    lines.push(`m=${stream.kind} ${stream.port} RTP/AVP ${pt}`);
    lines.push(`a=rtcp:${stream.port + 1}`);
    lines.push(`a=rtpmap:${pt} ${name}/${codec.clockRate}${codec.channels ? `/${codec.channels}` : ''}`);
    const fmtp = Object.entries(codec.parameters ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
    lines.push('a=recvonly');
  }
  return lines.join('\r\n') + '\r\n';
}
