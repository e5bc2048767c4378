import { describe, expect, it } from 'vitest';
import { formatDuration, parseGoDuration } from '../../src/api/duration.js';

describe('Go-style durations', () => {
  it.each([
    ['72h', 72 * 3_600_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['250ms', 250],
    ['2h45m30s', (2 * 3600 + 45 * 60 + 30) * 1000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '3d', '3 days', '-1h', 'h', '1h 30m', '72'])('refuses %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  it('formats as Go prints', () => {
    expect(formatDuration(72 * 3_600_000)).toBe('72h');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
  });
});
