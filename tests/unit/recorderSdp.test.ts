/**
 * The SDP file through which ffmpeg reads the program: one media section per
 * stream the recorder consumes from mediasoup, each on its own loopback port
 * with RTCP on the next one, described from the consumer's RTP parameters.
 */
import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import { buildSdp, type SdpStream } from '../../recorder/sdp.js';

// What mediasoup gives a recorder's consumer for the codecs the SFU offers
// (sfu/media/codecs.ts), RTX left out as the recorder asks.
const h264: types.RtpParameters = {
  mid: '0',
  codecs: [
    {
      mimeType: 'video/H264',
      payloadType: 102,
      clockRate: 90000,
      parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
      rtcpFeedback: [
        { type: 'nack', parameter: '' },
        { type: 'nack', parameter: 'pli' },
        { type: 'ccm', parameter: 'fir' },
      ],
    },
  ],
  headerExtensions: [],
  encodings: [{ ssrc: 111111111 }],
  rtcp: { cname: 'studio', reducedSize: true },
};
const vp8: types.RtpParameters = {
  codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 222222222 }],
};
const opus: types.RtpParameters = {
  codecs: [
    {
      mimeType: 'audio/opus',
      payloadType: 100,
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
    },
  ],
  headerExtensions: [],
  encodings: [{ ssrc: 333333333 }],
};

const lines = (sdp: string) => sdp.split('\r\n').slice(0, -1);
/** The lines of each media section, by its m= line. */
const sections = (sdp: string) =>
  lines(sdp)
    .join('\n')
    .split(/\n(?=m=)/)
    .slice(1)
    .map((s) => s.split('\n'));

describe('the SDP of an encoder run', () => {
  it('describes an H.264 picture and an Opus voice arriving on loopback, RTCP on the port after each', () => {
    const streams: SdpStream[] = [
      { kind: 'video', port: 40000, rtpParameters: h264 },
      { kind: 'audio', port: 40002, rtpParameters: opus },
    ];
    expect(sections(buildSdp(streams))).toEqual([
      [
        'm=video 40000 RTP/AVP 102',
        'a=rtcp:40001',
        'a=rtpmap:102 H264/90000',
        'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
        'a=recvonly',
      ],
      ['m=audio 40002 RTP/AVP 100', 'a=rtcp:40003', 'a=rtpmap:100 opus/48000/2', 'a=fmtp:100 minptime=10;useinbandfec=1', 'a=recvonly'],
    ]);
  });

  it('opens with a session on loopback that ffmpeg accepts, and ends every line with CRLF', () => {
    const sdp = buildSdp([{ kind: 'audio', port: 40002, rtpParameters: opus }]);
    expect(lines(sdp).slice(0, 5)).toEqual(['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=Diemcau program', 'c=IN IP4 127.0.0.1', 't=0 0']);
    expect(sdp.endsWith('\r\n')).toBe(true);
    expect(sdp.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('writes no fmtp line for a codec without parameters, such as VP8', () => {
    const [section] = sections(buildSdp([{ kind: 'video', port: 40010, rtpParameters: vp8 }]));
    expect(section).toEqual(['m=video 40010 RTP/AVP 101', 'a=rtcp:40011', 'a=rtpmap:101 VP8/90000', 'a=recvonly']);
  });

  it('lists the streams in the order the recorder took them, so the second voice is ffmpeg’s a:1', () => {
    const streams: SdpStream[] = [
      { kind: 'video', port: 40000, rtpParameters: h264 },
      { kind: 'audio', port: 40002, rtpParameters: opus },
      { kind: 'audio', port: 40004, rtpParameters: opus },
      { kind: 'audio', port: 40006, rtpParameters: opus },
    ];
    expect(sections(buildSdp(streams)).map((s) => s[0])).toEqual([
      'm=video 40000 RTP/AVP 102',
      'm=audio 40002 RTP/AVP 100',
      'm=audio 40004 RTP/AVP 100',
      'm=audio 40006 RTP/AVP 100',
    ]);
  });

  it('describes a codec by its first entry, the one mediasoup sends', () => {
    const withRtx: types.RtpParameters = {
      ...h264,
      codecs: [...h264.codecs, { mimeType: 'video/rtx', payloadType: 103, clockRate: 90000, parameters: { apt: 102 } }],
    };
    const sdp = buildSdp([{ kind: 'video', port: 40000, rtpParameters: withRtx }]);
    expect(sdp).toContain('m=video 40000 RTP/AVP 102\r\n');
    expect(sdp).not.toContain('rtx');
  });

  it('holds only the session when nothing is on air (a slate run reads no RTP)', () => {
    expect(sections(buildSdp([]))).toEqual([]);
    expect(lines(buildSdp([]))).toHaveLength(5);
  });
});
