import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WarningThrottle } from '../../sfu/logging/WarningThrottle.js';

/** A logger whose lines the test reads. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe('a flood of warnings', () => {
  it('writes the first of each key per window, then how many were held back', () => {
    const { log, lines } = capturedLog();
    const throttle = new WarningThrottle(log, { windowMs: 60_000 });
    for (let i = 0; i < 5000; i++) throttle.warn('10.0.0.9', { remoteAddress: '10.0.0.9' }, 'refused', 1000 + i);
    throttle.warn('10.0.0.7', { remoteAddress: '10.0.0.7' }, 'refused', 2000);
    expect(lines.map((l) => l.remoteAddress)).toEqual(['10.0.0.9', '10.0.0.7']);
    throttle.warn('10.0.0.9', { remoteAddress: '10.0.0.9' }, 'refused', 61_001);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ remoteAddress: '10.0.0.9', heldBack: 4999, msg: 'refused' });
  });

  it('stays bounded when every warning has another key', () => {
    const { log, lines } = capturedLog();
    const throttle = new WarningThrottle(log, { windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) throttle.warn(`10.1.${i >> 8}.${i & 255}`, {}, 'refused', 1000);
    // 100 keys of their own, then one shared by the rest.
    expect(lines).toHaveLength(101);
  });
});
