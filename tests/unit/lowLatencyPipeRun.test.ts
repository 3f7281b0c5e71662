import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Fmp4Error } from '../../recorder/lowLatency/fmp4.js';
import { LowLatencyStream } from '../../recorder/lowLatency/LowLatencyStream.js';
import { pipeRun } from '../../recorder/lowLatency/pipeRun.js';

function encode(seconds: number): Buffer {
  // prettier-ignore
  const out = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p',
    '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '200000', 'pipe:1',
  ], { maxBuffer: 16 << 20 });
  expect(out.status).toBe(0);
  return out.stdout;
}

describe('pipeRun', () => {
  it('turns a pipe into a run: init, fragments, and its end closing the last segment', async () => {
    const stream = new LowLatencyStream({ rewindSeconds: 60 });
    const pipe = new PassThrough();
    const done = pipeRun(stream, pipe);
    const bytes = encode(2);
    for (let at = 0; at < bytes.length; at += 4096) pipe.write(bytes.subarray(at, at + 4096));
    pipe.end();
    await done;
    const text = await stream.playlist();
    expect(text).toContain('#EXT-X-MAP:URI="init-1.mp4"');
    expect(text.match(/^seg-\d+\.m4s$/gm)).toEqual(['seg-0.m4s', 'seg-1.m4s']);
    stream.close();
  });

  it('rejects with the Fmp4Error of bad bytes, ends the run, and keeps draining the pipe so ffmpeg never blocks', async () => {
    const stream = new LowLatencyStream({ rewindSeconds: 60 });
    const pipe = new PassThrough();
    const done = pipeRun(stream, pipe);
    const bytes = encode(1.2);
    // Up to the third moof (the boxes before it whole): then a box of 3 bytes, which no MP4 has.
    let at = 0;
    for (let moofs = 0; ; at += bytes.readUInt32BE(at)) if (bytes.toString('latin1', at + 4, at + 8) === 'moof' && ++moofs === 3) break;
    pipe.write(bytes.subarray(0, at));
    const garbage = Buffer.alloc(64);
    garbage.writeUInt32BE(3, 0);
    pipe.write(garbage);
    await expect(done).rejects.toBeInstanceOf(Fmp4Error);
    expect(pipe.readableFlowing).toBe(true);
    expect(pipe.write(Buffer.alloc(1 << 20))).toBe(true);
    const text = await stream.playlist();
    expect(text).toMatch(/^seg-0\.m4s$/m);
    pipe.end();
    stream.close();
  });
});
