import { describe, expect, it } from 'vitest';
import { SequenceCounter, lostOf } from '../../bench/duel/sequenceCounter.js';

describe('the duel’s sequence-loss counter', () => {
  it('counts a gap as lost and a retransmission that fills it as received', () => {
    const c = new SequenceCounter();
    for (const seq of [10, 11, 13, 14]) c.add(7, seq, 96);
    expect(lostOf(c.report())).toEqual({ packets: 4, expected: 5, lost: 1 });
    c.add(7, 12, 96); // late: the retransmission
    expect(lostOf(c.report())).toEqual({ packets: 5, expected: 5, lost: 0 });
  });

  it('follows the sequence number across its wraparound', () => {
    const c = new SequenceCounter();
    for (const seq of [65533, 65534, 65535, 0, 2, 3]) c.add(1, seq, 96);
    expect(lostOf(c.report())).toEqual({ packets: 6, expected: 7, lost: 1 });
  });

  it('counts from the mark, per SSRC, and never below zero for duplicates', () => {
    const c = new SequenceCounter();
    for (let seq = 100; seq < 110; seq++) c.add(1, seq, 96);
    c.mark();
    for (const seq of [110, 110, 111]) c.add(1, seq, 96);
    c.add(2, 500, 111);
    const report = c.report();
    expect(report.find((s) => s.ssrc === 1)).toMatchObject({ packets: 3, expected: 2 });
    expect(report.find((s) => s.ssrc === 2)).toMatchObject({ packets: 1, expected: 1, payloadType: 111 });
    expect(lostOf(report).lost).toBe(0);
  });
});
