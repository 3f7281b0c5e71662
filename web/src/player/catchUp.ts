/**
 * How fast a live viewer plays so it stays at the stream's target delay.
 *
 * hls.js changes the rate only with more than 1 s buffered ahead. A
 * Low-Latency HLS target (PART-HOLD-BACK, about 0.7 s) never has that much,
 * so a player that started late or stalled once would stay behind for the
 * rest of the session. This rule speeds up a little whenever the viewer is
 * behind its target and has enough picture buffered not to run dry doing so.
 */
export interface CatchUpState {
  /** Seconds behind the live edge. */
  latency: number;
  /** Seconds behind the edge the player aims for. */
  target: number;
  /** Seconds of picture buffered ahead of the playhead. */
  ahead: number;
}

export const catchUpRule = {
  /** Closer to the target than this, play at normal speed. */
  tolerance: 0.1,
  /** With less buffered than this, speeding up would risk a stall. */
  minAhead: 0.4,
  /** Extra speed per second behind: 0.4 s behind plays at 1.2×. */
  gain: 0.5,
  /** Faster than this, voices sound hurried. */
  maxRate: 1.2,
  /** Rates move in steps, so small jitter in the estimate changes nothing. */
  step: 0.05,
} as const;

/** The playback rate for a live viewer in this state: 1, or a little faster to catch up. */
export function catchUpRate(state: CatchUpState, rule = catchUpRule): number {
  const behind = state.latency - state.target;
  if (!(behind > rule.tolerance) || !(state.ahead >= rule.minAhead)) return 1;
  const rate = Math.round((1 + rule.gain * behind) / rule.step) * rule.step;
  return Math.min(rule.maxRate, Math.max(1, Number(rate.toFixed(2))));
}

/**
 * hls.js adds a second to a viewer's target delay at every stall and keeps
 * it for good: three stalls while a phone starts playing would leave it 3 s
 * further behind for the whole session. After this long without a stall, the
 * target goes back to the stream's own (PART-HOLD-BACK), and catchUpRate
 * brings the viewer there.
 */
export const calmSeconds = 30;

/** The target to go back to after a calm spell (the stream's own), or null to leave it. */
export function relaxedTarget(state: { target: number; streamTarget: number; secondsSinceStall: number }): number | null {
  return state.target > state.streamTarget + 0.05 && state.secondsSinceStall >= calmSeconds ? state.streamTarget : null;
}
