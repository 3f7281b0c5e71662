/**
 * The ladder of an encoder's feed with no media: which lower layers a
 * picture gets, the producer's simulcast encodings, and ffmpeg's arguments.
 */
import { describe, expect, it } from 'vitest';
import { feedFfmpegArgs, feedLadderRtpParameters, feedVideoSsrc } from '../../sfu/ingest/feedFfmpegArgs.js';
import { ladderRungs, lowerLayers, topLayerHeight } from '../../sfu/ingest/feedLadder.js';

const video = { ip: '127.0.0.1', port: 40000 };
const audio = { ip: '127.0.0.1', port: 40002 };

describe('lowerLayers', () => {
  it('makes only layers smaller than the original, low to high', () => {
    expect(lowerLayers(1080).map((r) => r.height)).toEqual([180, 360]);
    expect(lowerLayers(720).map((r) => r.height)).toEqual([180, 360]);
    expect(lowerLayers(360).map((r) => r.height)).toEqual([180]);
    expect(lowerLayers(240).map((r) => r.height)).toEqual([180]);
    expect(lowerLayers(180)).toEqual([]);
    expect(lowerLayers(null).map((r) => r.height)).toEqual([180, 360]);
  });

  it('takes the transcode size for the top layer when the feed is transcoded', () => {
    expect(topLayerHeight({ width: 3840, height: 2160 }, true)).toBe(1080);
    expect(topLayerHeight({ width: 3840, height: 2160 }, false)).toBe(2160);
    expect(topLayerHeight({ width: 1280, height: 720 }, true)).toBe(720);
    expect(topLayerHeight({ width: null, height: null }, true)).toBeNull();
  });
});

describe('feedLadderRtpParameters', () => {
  it('declares one encoding per layer, low to high, the original last, one codec', () => {
    const parameters = feedLadderRtpParameters([...ladderRungs]);
    expect(parameters.encodings).toEqual([{ ssrc: 31313180 }, { ssrc: 31313360 }, { ssrc: feedVideoSsrc }]);
    expect(parameters.codecs).toHaveLength(1);
    expect(parameters.codecs[0].parameters['profile-level-id']).toBe('42e01f');
  });
});

describe('feedFfmpegArgs with a ladder', () => {
  it('copies the original first, encodes the lower layers on its keyframes, all from one local port', () => {
    const args = feedFfmpegArgs({ copyVideo: true, video, audio, ladder: { layers: lowerLayers(720), localPort: 45000, fps: 30 } });
    const codecs = args.flatMap((a, i) => (a === '-c:v' ? [args[i + 1]] : []));
    expect(codecs).toEqual(['copy', 'libx264', 'libx264']);
    const joined = args.join(' ');
    expect(joined).toContain('-vf scale=-2:360');
    expect(joined).toContain('-vf scale=-2:180');
    expect(joined).toContain('-force_key_frames source -g 30 -sc_threshold 0');
    expect(joined).toContain('-profile:v baseline -pix_fmt yuv420p -bf 0');
    expect(joined).toContain('-b:v 500k');
    expect(joined).toContain('-b:v 150k');
    const outputs = args.filter((a) => a.startsWith('udp://'));
    expect(outputs).toEqual(Array(3).fill('udp://127.0.0.1:40000?localport=45000&reuse=1&pkt_size=1200'));
    const ssrcs = args.flatMap((a, i) => (a === '-ssrc' ? [Number(args[i + 1])] : []));
    expect(ssrcs).toEqual([feedVideoSsrc, 31313360, 31313180, 32323232]);
    expect(args.filter((a) => a === '-payload_type').length).toBe(4);
    expect(joined).toContain('rtp://127.0.0.1:40002?pkt_size=1200');
  });

  it('transcodes the top layer too when the feed is not copyable, every layer keyed each second', () => {
    const args = feedFfmpegArgs({
      copyVideo: false,
      video,
      audio: null,
      ladder: { layers: lowerLayers(360), localPort: 45000, fps: null },
    });
    const codecs = args.flatMap((a, i) => (a === '-c:v' ? [args[i + 1]] : []));
    expect(codecs).toEqual(['libx264', 'libx264']);
    expect(args.filter((a) => a === 'expr:gte(t,n_forced*1)')).toHaveLength(2);
    expect(args).not.toContain('source');
    expect(args.join(' ')).not.toContain('libopus');
  });

  it('sends the picture alone as before without lower layers', () => {
    const plain = feedFfmpegArgs({ copyVideo: true, video, audio });
    expect(feedFfmpegArgs({ copyVideo: true, video, audio, ladder: { layers: [], localPort: 45000, fps: 25 } })).toEqual(plain);
    expect(plain.join(' ')).toContain('rtp://127.0.0.1:40000?pkt_size=1200');
  });
});
