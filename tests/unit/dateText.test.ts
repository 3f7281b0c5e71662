import { describe, expect, it } from 'vitest';
import { dateText, parseDateText, parseTimeText } from '../../web/src/console/dateText.js';

describe('dates as the console writes them, whatever the browser says', () => {
  it('day/month/year both ways', () => {
    expect(dateText('2026-12-01')).toBe('01/12/2026');
    expect(parseDateText('01/12/2026')).toBe('2026-12-01');
    expect(parseDateText('1/12/2026')).toBe('2026-12-01');
    expect(parseDateText(' 1.2.2027 ')).toBe('2027-02-01');
    expect(dateText('')).toBe('');
  });

  it('refuses what is not a real day, and the American order when it cannot be one', () => {
    expect(parseDateText('31/02/2027')).toBeNull();
    expect(parseDateText('29/02/2028')).toBe('2028-02-29');
    expect(parseDateText('29/02/2027')).toBeNull();
    expect(parseDateText('12/31/2026')).toBeNull();
    expect(parseDateText('2026-12-01')).toBeNull();
    expect(parseDateText('')).toBeNull();
  });

  it('a 24-hour clock', () => {
    expect(parseTimeText('8:05')).toBe('08:05');
    expect(parseTimeText('14h30')).toBe('14:30');
    expect(parseTimeText('23:59')).toBe('23:59');
    expect(parseTimeText('24:00')).toBeNull();
    expect(parseTimeText('2:00 PM')).toBeNull();
    expect(parseTimeText('8:5')).toBeNull();
  });
});
