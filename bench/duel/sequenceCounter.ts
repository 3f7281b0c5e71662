/**
 * Counts one receiver's RTP packets per SSRC and how many it should have had,
 * from the 16-bit sequence numbers (with wraparound), between two marks: what
 * the duel reports as loss. A retransmission that fills a gap counts as
 * received; a late or repeated packet does not move the highest number seen.
 */

/** One SSRC's packets since the last mark. */
export interface StreamCount {
  ssrc: number;
  payloadType: number;
  /** Packets received since the mark (retransmissions unwrapped by the receiver included). */
  packets: number;
  /** Sequence span since the mark: the packets the sender sent on this SSRC. */
  expected: number;
}

interface StreamState {
  ssrc: number;
  payloadType: number;
  count: number;
  /** Highest extended sequence number seen. */
  maxExt: number;
  markCount: number;
  markExt: number;
}

/** Per-SSRC packet and sequence-span counter of one receiver. */
export class SequenceCounter {
  readonly #streams = new Map<number, StreamState>();
  #last: StreamState | undefined;

  /** One RTP packet's header fields. */
  add(ssrc: number, sequenceNumber: number, payloadType: number): void {
    let st = this.#last;
    if (!st || st.ssrc !== ssrc) {
      st = this.#streams.get(ssrc);
      if (!st) {
        // A stream that starts after the mark is counted from its first packet.
        st = { ssrc, payloadType, count: 0, maxExt: sequenceNumber - 1, markCount: 0, markExt: sequenceNumber - 1 };
        this.#streams.set(ssrc, st);
      }
      this.#last = st;
    }
    const delta = (sequenceNumber - (st.maxExt & 0xffff)) & 0xffff;
    // Forward by less than half the number space: newer; otherwise late or repeated.
    if (delta !== 0 && delta < 0x8000) st.maxExt += delta;
    st.count++;
  }

  /** Starts a window: later reports count from here. */
  mark(): void {
    for (const st of this.#streams.values()) {
      st.markCount = st.count;
      st.markExt = st.maxExt;
    }
  }

  /** Every SSRC's packets and sequence span since the mark. */
  report(): StreamCount[] {
    return [...this.#streams.values()].map((st) => ({
      ssrc: st.ssrc,
      payloadType: st.payloadType,
      packets: st.count - st.markCount,
      expected: st.maxExt - st.markExt,
    }));
  }
}

/** Lost packets of a report: sequence span minus received, never below zero (duplicates). */
export function lostOf(counts: readonly StreamCount[]): { packets: number; expected: number; lost: number } {
  let packets = 0;
  let expected = 0;
  for (const c of counts) {
    packets += c.packets;
    expected += c.expected;
  }
  return { packets, expected, lost: Math.max(0, expected - packets) };
}
