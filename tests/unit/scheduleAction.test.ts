import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../protocol/index.js';
import { scheduleAction } from '../../sfu/schedule/scheduleAction.js';

const start = Date.parse('2026-12-01T08:00:00+07:00');
const end = start + 3600_000;
type Slot = Pick<SessionRecord, 'status' | 'startsAt' | 'endsAt' | 'autoOnAir'>;
const slot = (over: Partial<Slot> = {}): Slot => ({ status: 'scheduled', startsAt: start, endsAt: end, ...over });

describe('what the schedule asks of a session', () => {
  it('nothing before its start', () => {
    expect(scheduleAction(slot(), start - 1)).toBeNull();
    expect(scheduleAction(slot({ autoOnAir: true }), start - 1)).toBeNull();
  });

  it('at its start: pre-show by default, on air only where the operator let the scheduler', () => {
    expect(scheduleAction(slot(), start)).toBe('open-pre-show');
    expect(scheduleAction(slot({ autoOnAir: false }), start)).toBe('open-pre-show');
    expect(scheduleAction(slot({ autoOnAir: true }), start)).toBe('go-on-air');
  });

  it('in pre-show it waits for the studio or an operator, unless allowed later', () => {
    expect(scheduleAction(slot({ status: 'waiting' }), start + 60_000)).toBeNull();
    expect(scheduleAction(slot({ status: 'waiting', autoOnAir: true }), start + 60_000)).toBe('go-on-air');
  });

  it('a session opened by hand before its start is not put on air early', () => {
    expect(scheduleAction(slot({ status: 'waiting', autoOnAir: true }), start - 60_000)).toBeNull();
  });

  it('at its end: on air or in pre-show it ends; a slot that passed unopened is marked ended', () => {
    expect(scheduleAction(slot({ status: 'live' }), end)).toBe('end');
    expect(scheduleAction(slot({ status: 'waiting' }), end)).toBe('end');
    expect(scheduleAction(slot(), end + 1)).toBe('mark-ended');
    expect(scheduleAction(slot({ status: 'live' }), end - 1)).toBeNull();
  });

  it('an ad hoc session (no times), an ended or a cancelled one: nothing', () => {
    expect(scheduleAction({ status: 'waiting', autoOnAir: true }, end)).toBeNull();
    expect(scheduleAction(slot({ status: 'ended' }), start)).toBeNull();
    expect(scheduleAction(slot({ status: 'cancelled' }), start)).toBeNull();
  });
});
