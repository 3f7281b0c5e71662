/**
 * The ffmpeg command line of one encoder run: which inputs it reads (the
 * program's RTP streams through an SDP file; a slate and silence standing in
 * for what is not on air), how the picture and the voices are encoded, and
 * the HLS it writes — segments of the configured length whose clock goes on
 * from the archive's, so the whole recording plays without a gap.
 */
import { describe, expect, it } from 'vitest';
import { ffmpegArgs, teeSlave } from '../../recorder/ffmpegArgs.js';
import { runFiles, type RunPlan } from '../../recorder/runPlan.js';

const files = runFiles('/data/recordings/ky-hop-7', 5);

function argsFor(plan: RunPlan, over: { sdp?: boolean; segmentSeconds?: number; offsetSeconds?: number } = {}): string[] {
  const rtp = over.sdp ?? (plan.video !== 'slate' || plan.audio > 0);
  return ffmpegArgs({
    plan,
    sdpPath: rtp ? files.sdp : undefined,
    streams: [],
    segmentSeconds: over.segmentSeconds ?? 4,
    offsetSeconds: over.offsetSeconds ?? 0,
    segmentPattern: files.segmentPattern,
    playlist: files.playlist,
  });
}

const flags = new Set(['-y', '-hide_banner', '-re']);

/** The command line as ffmpeg reads it: options apply to the next input, those after the last input to the output. */
function read(args: string[]) {
  const inputs: { file: string; options: Map<string, string | true> }[] = [];
  let options = new Map<string, string | true>();
  for (let i = 0; i < args.length - 1; i++) {
    const name = args[i];
    if (name === '-i') {
      inputs.push({ file: args[++i], options });
      options = new Map();
    } else if (flags.has(name)) options.set(name, true);
    else options.set(name, args[++i]);
  }
  const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
  return { inputs, output: options, target: args[args.length - 1], maps };
}

describe('the inputs of an encoder run', () => {
  it('reads the program’s RTP streams through the run’s SDP file, riding out a sender that stalls for a while', () => {
    const { inputs } = read(argsFor({ video: 'copy', audio: 1 }));
    expect(inputs).toHaveLength(1);
    expect(inputs[0].file).toBe(files.sdp);
    expect(Object.fromEntries(inputs[0].options)).toMatchObject({
      '-f': 'sdp',
      '-protocol_whitelist': 'file,udp,rtp',
      '-listen_timeout': '20',
      '-fflags': '+genpts+discardcorrupt',
    });
    // A late packet is put back in order rather than dropped.
    expect(Number(inputs[0].options.get('-reorder_queue_size'))).toBeGreaterThan(0);
  });

  it('shows a slate, paced in real time, while no picture is on air, beside the voices heard', () => {
    const { inputs, maps } = read(argsFor({ video: 'slate', audio: 1 }));
    expect(inputs.map((i) => i.file)).toEqual([files.sdp, 'color=c=0x0b1a2e:s=1280x720:r=25']);
    expect(Object.fromEntries(inputs[1].options)).toEqual({ '-re': true, '-f': 'lavfi' });
    expect(maps).toEqual(['1:v:0', '0:a:0']);
  });

  it('records silence beside the picture when nobody speaks, so every segment has a sound track', () => {
    const { inputs, maps } = read(argsFor({ video: 'copy', audio: 0 }));
    expect(inputs.map((i) => i.file)).toEqual([files.sdp, 'anullsrc=r=48000:cl=stereo']);
    expect(Object.fromEntries(inputs[1].options)).toEqual({ '-re': true, '-f': 'lavfi' });
    expect(maps).toEqual(['0:v:0', '1:a:0']);
  });

  it('records a slate and silence, with no RTP input, when nothing at all is on air', () => {
    const { inputs, maps } = read(argsFor({ video: 'slate', audio: 0 }));
    expect(inputs.map((i) => i.file)).toEqual(['color=c=0x0b1a2e:s=1280x720:r=25', 'anullsrc=r=48000:cl=stereo']);
    expect(maps).toEqual(['0:v:0', '1:a:0']);
    expect(read(argsFor({ video: 'slate', audio: 0 })).inputs.some((i) => i.options.has('-protocol_whitelist'))).toBe(false);
  });

  it('takes one picture and one sound track, each from an input it has, whatever the plan', () => {
    for (const video of ['copy', 'transcode', 'slate'] as const) {
      for (const audio of [0, 1, 2, 5]) {
        const { inputs, maps } = read(argsFor({ video, audio }));
        for (const map of maps.filter((m) => !m.startsWith('['))) {
          const input = Number(map.split(':')[0]);
          expect(input, `${video} with ${audio} voices maps ${map}`).toBeGreaterThanOrEqual(0);
          expect(input).toBeLessThan(inputs.length);
        }
        // One picture and one sound track, always.
        expect(maps).toHaveLength(2);
      }
    }
  });
});

describe('how a run encodes the program', () => {
  it('copies an H.264 picture untouched and turns the one voice into AAC-LC stereo at 48 kHz for every player', () => {
    const args = argsFor({ video: 'copy', audio: 1 });
    const { output, maps } = read(args);
    expect(maps).toEqual(['0:v:0', '0:a:0']);
    expect(Object.fromEntries(output)).toMatchObject({ '-c:v': 'copy', '-c:a': 'aac', '-b:a': '128k', '-ar': '48000', '-ac': '2' });
    expect(args).not.toContain('libx264');
    expect(args).not.toContain('-filter_complex');
  });

  it('mixes several voices into one track, each at its own level, none waiting for another', () => {
    const { output, maps } = read(argsFor({ video: 'copy', audio: 3 }));
    expect(output.get('-filter_complex')).toBe('[0:a:0][0:a:1][0:a:2]amix=inputs=3:normalize=0:dropout_transition=0[aout]');
    expect(maps).toEqual(['0:v:0', '[aout]']);
  });

  it('re-encodes another codec to H.264 with a keyframe at every segment boundary, so each segment starts clean', () => {
    const { output } = read(argsFor({ video: 'transcode', audio: 1 }, { segmentSeconds: 6 }));
    expect(Object.fromEntries(output)).toMatchObject({
      '-c:v': 'libx264',
      '-preset': 'veryfast',
      '-pix_fmt': 'yuv420p',
      '-profile:v': 'main',
      '-force_key_frames': 'expr:gte(t,n_forced*6)',
      '-sc_threshold': '0',
    });
  });

  it('encodes the slate at the lightest preset, with the same keyframe pace', () => {
    const { output } = read(argsFor({ video: 'slate', audio: 1 }));
    expect(output.get('-c:v')).toBe('libx264');
    expect(output.get('-preset')).toBe('ultrafast');
    expect(output.get('-force_key_frames')).toBe('expr:gte(t,n_forced*4)');
  });
});

describe('the HLS a run writes', () => {
  it('cuts segments of the configured length into the run’s files, listing every one until the run ends', () => {
    const { output, target } = read(argsFor({ video: 'copy', audio: 1 }, { segmentSeconds: 6 }));
    expect(Object.fromEntries(output)).toMatchObject({
      '-f': 'hls',
      '-hls_time': '6',
      '-hls_list_size': '0',
      '-hls_segment_type': 'mpegts',
      '-hls_segment_filename': '/data/recordings/ky-hop-7/r0005-%05d.ts',
    });
    expect(target).toBe('/data/recordings/ky-hop-7/r0005.m3u8');
  });

  it('lists a segment only once it is whole, with its wall-clock time, each playable on its own', () => {
    const hlsFlags = read(argsFor({ video: 'copy', audio: 1 })).output.get('-hls_flags');
    expect(String(hlsFlags).split('+').sort()).toEqual(['independent_segments', 'program_date_time', 'temp_file']);
  });

  it('continues the archive’s clock: the run’s first timestamp is where the archive ends, to the millisecond', () => {
    expect(read(argsFor({ video: 'copy', audio: 1 }, { offsetSeconds: 0 })).output.get('-output_ts_offset')).toBe('0.000');
    expect(read(argsFor({ video: 'copy', audio: 1 }, { offsetSeconds: 123.4567 })).output.get('-output_ts_offset')).toBe('123.457');
  });
});

describe('the fragments for Low-Latency HLS, from the same encode', () => {
  const lowLatency = () =>
    ffmpegArgs({
      plan: { video: 'copy', audio: 1 },
      sdpPath: files.sdp,
      streams: [],
      segmentSeconds: 2,
      offsetSeconds: 12.5,
      segmentPattern: files.segmentPattern,
      playlist: files.playlist,
      lowLatency: true,
    });

  it('writes the archive’s HLS and fragmented MP4 on stdout through one tee, encoding once', () => {
    const { output, target } = read(lowLatency());
    expect(output.get('-f')).toBe('tee');
    expect(output.get('-output_ts_offset')).toBe('12.500');
    const [hls, fragments] = target.split('|');
    // Parameter sets in the MP4 header, and in band before each keyframe in the archive's MPEG-TS.
    expect(output.get('-flags')).toBe('+global_header');
    expect(hls).toBe(
      '[f=hls:bsfs/v=dump_extra:hls_time=2:hls_list_size=0:hls_flags=independent_segments+program_date_time+temp_file:hls_segment_type=mpegts:' +
        'hls_segment_filename=/data/recordings/ky-hop-7/r0005-%05d.ts]/data/recordings/ky-hop-7/r0005.m3u8',
    );
    // A fragment every 200 ms and at each keyframe, flushed at once; a reader that goes away does not stop the archive.
    expect(fragments).toBe(
      '[f=mp4:movflags=+empty_moov+default_base_moof+frag_keyframe:frag_duration=200000:flush_packets=1:onfail=ignore]pipe\\:1',
    );
    expect(lowLatency().filter((a) => a === '-c:v')).toHaveLength(1);
  });

  it('escapes what the tee syntax reserves, so a folder name cannot add an output or an option', () => {
    expect(teeSlave([['f', 'hls']], '/data/a|b/c:d[e].m3u8')).toBe('[f=hls]/data/a\\|b/c\\:d\\[e\\].m3u8');
  });

  it('writes plain HLS, no tee, when Low-Latency HLS is not asked for', () => {
    expect(read(argsFor({ video: 'copy', audio: 1 })).output.get('-f')).toBe('hls');
  });
});
