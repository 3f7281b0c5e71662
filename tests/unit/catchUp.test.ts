import { describe, expect, it } from 'vitest';
import { calmSeconds, catchUpRate, catchUpRule, relaxedTarget } from '../../web/src/player/catchUp.js';

describe('a live viewer catching up with its target delay', () => {
  it('plays at normal speed at the target and just behind it', () => {
    expect(catchUpRate({ latency: 0.7, target: 0.705, ahead: 0.6 })).toBe(1);
    expect(catchUpRate({ latency: 0.78, target: 0.705, ahead: 0.6 })).toBe(1);
    // Ahead of the target (a jump to the live position): no slowing down either.
    expect(catchUpRate({ latency: 0.3, target: 0.705, ahead: 0.2 })).toBe(1);
  });

  it('speeds up in proportion to how far behind it is, in steps, up to the limit', () => {
    expect(catchUpRate({ latency: 1.066, target: 0.705, ahead: 0.935 })).toBe(1.2);
    expect(catchUpRate({ latency: 0.905, target: 0.705, ahead: 0.8 })).toBe(1.1);
    expect(catchUpRate({ latency: 5, target: 0.705, ahead: 4 })).toBe(catchUpRule.maxRate);
  });

  it('does not speed up with too little buffered, which would stall the picture', () => {
    expect(catchUpRate({ latency: 1.5, target: 0.705, ahead: 0.1 })).toBe(1);
  });

  it('treats an unknown state as nothing to do', () => {
    expect(catchUpRate({ latency: Number.NaN, target: 0.705, ahead: 1 })).toBe(1);
    expect(catchUpRate({ latency: 2, target: 0.705, ahead: Number.NaN })).toBe(1);
  });
});

describe("a live viewer's target delay after stalls", () => {
  it("goes back to the stream's own after a calm spell, not before", () => {
    expect(relaxedTarget({ target: 3.705, streamTarget: 0.705, secondsSinceStall: calmSeconds })).toBe(0.705);
    expect(relaxedTarget({ target: 3.705, streamTarget: 0.705, secondsSinceStall: calmSeconds - 1 })).toBeNull();
  });

  it('leaves a target that did not grow alone', () => {
    expect(relaxedTarget({ target: 0.705, streamTarget: 0.705, secondsSinceStall: 600 })).toBeNull();
  });
});
