/**
 * The feed's sound level from what ffmpeg's ebur128 and ametadata filters
 * print for each 100 ms of sound (the lines below are as ffmpeg 5.1 writes them).
 */
import { describe, expect, it } from 'vitest';
import { AudioLevelMeter, audioLevelFloorDb, clampLevelDb } from '../../sfu/ingest/audioLevel.js';
import { feedAudioLevelFilter, feedFfmpegArgs } from '../../sfu/ingest/feedFfmpegArgs.js';

/** `seconds` of ebur128's 100 ms frames at 48 kHz, each at `db` (a number or a function of the frame's time). */
function feed(meter: AudioLevelMeter, seconds: number, db: number | string | ((t: number) => number | string), now = 0, from = 0): void {
  const frames = Math.round(seconds * 10);
  for (let i = 0; i < frames; i++) {
    const t = from + i / 10;
    meter.line(`frame:${i}    pts:${Math.round(t * 48000)}    pts_time:${t}`, now);
    const value = typeof db === 'function' ? db(t) : db;
    meter.line(`lavfi.r128.M=${typeof value === 'number' ? value.toFixed(6) : value}`, now);
  }
}

describe('AudioLevelMeter', () => {
  it('reads a steady tone at its level, once a full second has passed', () => {
    const meter = new AudioLevelMeter();
    feed(meter, 0.5, -21.2);
    expect(meter.level(0)).toBeNull();
    feed(meter, 1, -21.2, 0, 0.5);
    expect(meter.level(0)).toBeCloseTo(-21.2, 1);
  });

  it("averages the second's power, not its decibels: half loud, half silent is 3 dB below the loud half", () => {
    const meter = new AudioLevelMeter();
    feed(meter, 2.2, (t) => (t % 1 < 0.5 ? -20 : '-inf'));
    expect(meter.level(0)).toBeGreaterThan(-24);
    expect(meter.level(0)).toBeLessThan(-22);
  });

  it('floors digital silence at -90 instead of -inf, and forgets a level once the sound stops', () => {
    const meter = new AudioLevelMeter();
    feed(meter, 1.5, '-inf', 1000);
    expect(meter.level(1000)).toBe(audioLevelFloorDb);
    expect(meter.level(1000 + 10_000)).toBeNull();
    expect(JSON.stringify({ level: meter.level(1000) })).toBe('{"level":-90}');
  });

  it('ignores lines it does not know, and starts a new second when the timestamps go back', () => {
    const meter = new AudioLevelMeter();
    for (const junk of ['', 'frame:x', 'lavfi.r128.M=abc', '[aac @ 0x55] error', 'lavfi.r128.S=-1']) {
      meter.line(junk, 0);
    }
    expect(meter.level(0)).toBeNull();
    feed(meter, 1.2, -30, 0, 100);
    expect(meter.level(0)).toBeCloseTo(-30, 1);
    feed(meter, 1.2, -12, 0, 0);
    expect(meter.level(0)).toBeCloseTo(-12, 1);
  });

  it('clamps to the meter range', () => {
    expect(clampLevelDb(-Infinity)).toBe(-90);
    expect(clampLevelDb(Number.NaN)).toBe(-90);
    expect(clampLevelDb(-127)).toBe(-90);
    expect(clampLevelDb(3)).toBe(0);
    expect(clampLevelDb(-20.04)).toBe(-20);
  });

  it("is fed by the filter the feed's ffmpeg runs on its sound, on the sound's output only", () => {
    const args = feedFfmpegArgs({ copyVideo: true, video: { ip: '127.0.0.1', port: 40000 }, audio: { ip: '127.0.0.1', port: 40002 } });
    expect(args.filter((a) => a === '-af')).toHaveLength(1);
    expect(args.indexOf('-af')).toBeGreaterThan(args.indexOf('0:a:0'));
    expect(args[args.indexOf('-af') + 1]).toBe(feedAudioLevelFilter);
    expect(feedFfmpegArgs({ copyVideo: true, video: { ip: '127.0.0.1', port: 40000 }, audio: null })).not.toContain('-af');
    // The pipe's ':' escaped for the filtergraph and for the filter's options: two backslashes reach ffmpeg.
    expect(feedAudioLevelFilter).toBe(String.raw`ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.M:direct=1:file=pipe\\:3`);
  });
});
