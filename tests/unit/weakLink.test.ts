import { describe, expect, it } from 'vitest';
import { decideWeakLink } from '../../sfu/room/weakLink.js';

describe('the weak-link policy', () => {
  it('holds the lowest layer only after three lossy reports in a row', () => {
    expect(decideWeakLink([0.2, 0.2], false)).toBe('keep');
    expect(decideWeakLink([0.2, 0.01, 0.2], false)).toBe('keep');
    expect(decideWeakLink([0.0, 0.1, 0.12, 0.3], false)).toBe('cap');
  });

  it('lets the picture climb again after five clean reports, not before', () => {
    expect(decideWeakLink([0.3, 0.0, 0.0, 0.0, 0.0], true)).toBe('keep');
    expect(decideWeakLink([0.01, 0.0, 0.0, 0.015, 0.0], true)).toBe('release');
    expect(decideWeakLink([0.05, 0.05, 0.05, 0.05, 0.05], true)).toBe('keep');
  });

  it('does not flap on a link in between', () => {
    expect(decideWeakLink([0.05, 0.05, 0.05], false)).toBe('keep');
  });
});
