import { describe, it, expect } from 'vitest';
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  RETRY_AFTER_CAP_MS,
  nextRetryDelay,
  parseDuration,
  parseRetrySchedule,
} from '../../../src/delivery/retry-policy.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5 * S],
    ['5m', 5 * M],
    ['30m', 30 * M],
    ['2h', 2 * H],
    ['10h', 10 * H],
    ['1d', 24 * H],
    ['1.5h', 90 * M],
    [' 5s ', 5 * S],
    ['0s', 0],
  ])('%j → %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '5', 's', '5x', '-5s', '5 s', '5S', '5M', '1e3s', 's5', '5s5m', 'abc'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/invalid duration/);
  });

  it('names the accepted units in the error', () => {
    expect(() => parseDuration('5x')).toThrow(/ms, s, m, h or d/);
  });
});

describe('parseRetrySchedule', () => {
  it('parses a comma-separated list, tolerating spaces', () => {
    expect(parseRetrySchedule('5s, 5m,30m ,2h')).toEqual([5 * S, 5 * M, 30 * M, 2 * H]);
    expect(parseRetrySchedule('1d')).toEqual([24 * H]);
  });

  it('matches the default schedule', () => {
    expect(parseRetrySchedule('5s,5m,30m,2h,5h,10h,10h')).toEqual(DEFAULT_RETRY_SCHEDULE_MS);
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H]);
  });

  it.each([
    ['', /comma-separated/],
    ['   ', /comma-separated/],
    ['5s,,5m', /entry 2 is empty/],
    ['5s,', /entry 2 is empty/],
    ['5s,0s', /entry 2 must be greater than zero/],
    ['5s,soon', /entry 2: invalid duration "soon"/],
  ])('rejects %j', (input, message) => {
    expect(() => parseRetrySchedule(input)).toThrow(message);
  });
});

describe('nextRetryDelay', () => {
  const schedule = [10 * S, 5 * M, 2 * H];
  const fixed = (r: number) => () => r;

  it('uses schedule[attempt - 1] (attempt is 1-indexed)', () => {
    expect(nextRetryDelay({ attempt: 1, schedule, random: fixed(0.5) })).toBe(10 * S);
    expect(nextRetryDelay({ attempt: 2, schedule, random: fixed(0.5) })).toBe(5 * M);
    expect(nextRetryDelay({ attempt: 3, schedule, random: fixed(0.5) })).toBe(2 * H);
  });

  it('returns null once the schedule is exhausted', () => {
    expect(nextRetryDelay({ attempt: 4, schedule })).toBeNull();
    expect(nextRetryDelay({ attempt: 8, schedule: DEFAULT_RETRY_SCHEDULE_MS })).toBeNull();
    expect(nextRetryDelay({ attempt: 7, schedule: DEFAULT_RETRY_SCHEDULE_MS })).not.toBeNull();
  });

  it('rejects attempt numbers that are not positive integers', () => {
    expect(() => nextRetryDelay({ attempt: 0, schedule })).toThrow(RangeError);
    expect(() => nextRetryDelay({ attempt: 1.5, schedule })).toThrow(RangeError);
  });

  it('jitters ±20%: random 0 → −20%, random 1 → +20%', () => {
    expect(nextRetryDelay({ attempt: 2, schedule, random: fixed(0) })).toBe(4 * M);
    expect(nextRetryDelay({ attempt: 2, schedule, random: fixed(1) })).toBe(6 * M);
  });

  it('stays within ±20% with the default Math.random', () => {
    for (let i = 0; i < 1000; i++) {
      const d = nextRetryDelay({ attempt: 1, schedule })!;
      expect(d).toBeGreaterThanOrEqual(8 * S);
      expect(d).toBeLessThanOrEqual(12 * S);
    }
  });

  it('clamps a misbehaving random into [0, 1]', () => {
    expect(nextRetryDelay({ attempt: 1, schedule, random: fixed(-3) })).toBe(8 * S);
    expect(nextRetryDelay({ attempt: 1, schedule, random: fixed(7) })).toBe(12 * S);
    expect(nextRetryDelay({ attempt: 1, schedule, random: fixed(NaN) })).toBe(8 * S);
  });

  describe('Retry-After', () => {
    it.each([429, 503])('honours a value inside the bounds on %i', (statusCode) => {
      expect(nextRetryDelay({ attempt: 1, schedule, statusCode, retryAfterMs: 60 * S, random: fixed(0) })).toBe(60 * S);
    });

    it('never goes below the scheduled delay', () => {
      expect(nextRetryDelay({ attempt: 2, schedule, statusCode: 429, retryAfterMs: 1 * S, random: fixed(0) })).toBe(5 * M);
      expect(nextRetryDelay({ attempt: 2, schedule, statusCode: 429, retryAfterMs: 0, random: fixed(0) })).toBe(5 * M);
    });

    it('caps at max(2 × base, 1 h)', () => {
      const day = 24 * H;
      // Short base: the 1 h cap dominates.
      expect(nextRetryDelay({ attempt: 1, schedule, statusCode: 503, retryAfterMs: day, random: fixed(0) })).toBe(RETRY_AFTER_CAP_MS);
      // Long base: 2 × base dominates.
      expect(nextRetryDelay({ attempt: 3, schedule, statusCode: 503, retryAfterMs: day, random: fixed(0) })).toBe(4 * H);
    });

    it('jitters upward only, so we never come back earlier than asked', () => {
      expect(nextRetryDelay({ attempt: 1, schedule, statusCode: 429, retryAfterMs: 60 * S, random: fixed(1) })).toBe(72 * S);
      expect(nextRetryDelay({ attempt: 1, schedule, statusCode: 429, retryAfterMs: 60 * S, random: fixed(0) })).toBe(60 * S);
    });

    it.each([undefined, 200, 302, 400, 500, 502, 504])('is ignored for status %s', (statusCode) => {
      expect(nextRetryDelay({ attempt: 1, schedule, statusCode, retryAfterMs: 60 * S, random: fixed(0.5) })).toBe(10 * S);
    });

    it('ignores a negative or non-finite Retry-After', () => {
      for (const retryAfterMs of [-1, NaN, Infinity]) {
        expect(nextRetryDelay({ attempt: 1, schedule, statusCode: 429, retryAfterMs, random: fixed(0.5) })).toBe(10 * S);
      }
    });

    it('still returns null when exhausted, whatever Retry-After says', () => {
      expect(nextRetryDelay({ attempt: 4, schedule, statusCode: 429, retryAfterMs: 60 * S })).toBeNull();
    });
  });
});
