import { describe, expect, it } from 'vitest';
import { baselineReply, judgeWorker } from '../../sfu/media/saturation.js';

const usual = [2, 3, 2, 4, 3, 2, 3, 250, 2, 3];

describe('a media worker is saturated by its own measure, not the host', () => {
  it('a slow reply from an idle worker is the busy host, not the worker', () => {
    // What a busy test machine gave: replies of 0.3–1.3 s from workers at 1–2 % CPU.
    expect(judgeWorker({ replyMs: 1263, cpuPercent: 1.3 }, usual)).toEqual({ saturated: false });
    expect(judgeWorker({ replyMs: 540, cpuPercent: 40 }, usual)).toEqual({ saturated: false });
  });

  it('a worker near a whole core is saturated whatever its replies', () => {
    expect(judgeWorker({ replyMs: 3, cpuPercent: 92 }, usual)).toMatchObject({ saturated: true, reason: 'cpu' });
  });

  it('a busy worker answering far slower than usual is saturated: requests queue at it', () => {
    expect(judgeWorker({ replyMs: 400, cpuPercent: 70 }, usual)).toMatchObject({ saturated: true, reason: 'queue', baselineReplyMs: 3 });
    // Four times the usual delay but only a few ms slower is noise.
    expect(judgeWorker({ replyMs: 20, cpuPercent: 70 }, usual)).toEqual({ saturated: false });
  });

  it('the usual delay is the median of recent probes: one slow probe does not move it', () => {
    expect(baselineReply([])).toBe(0);
    expect(baselineReply(usual)).toBe(3);
    expect(baselineReply([900, 2, 3])).toBe(3);
  });
});
