/**
 * Retry policy: when to try a failed delivery again. Pure (no I/O, no clock): randomness is
 * injected so tests and simulations are deterministic.
 *
 * Attempt is 1-indexed; the schedule is 0-indexed. After attempt N fails, the wait before
 * attempt N+1 is schedule[N-1]; once N > schedule.length the schedule is exhausted (null) and the
 * caller marks the message failed. A schedule of 7 delays therefore means 8 attempts in total.
 *
 * Jitter: the scheduled delay is spread uniformly over ±20% so that messages which failed
 * together (an endpoint outage) don't come back as a synchronized herd.
 *
 * Retry-After, honoured only on 429 and 503 (the statuses where RFC 9110 gives it a meaning for
 * a retried request), is bounded:
 *   lower bound = base (the scheduled delay). A receiver asking for less than our schedule must
 *     not make us hammer it, and "Retry-After: 0" must not turn the schedule into a busy loop.
 *   upper bound = max(2 × base, RETRY_AFTER_CAP_MS = 1 h). Svix-style [base, 2×base] would cut a
 *     typical "come back in a minute" down to 10 s on the first retry and burn the attempt; the
 *     1 h floor on the upper bound honours ordinary rate-limit windows in full, while a receiver
 *     asking for a day can never stall a message longer than an hour past the schedule.
 *   jitter is then upward only (0..+20%): we never come back earlier than the receiver asked,
 *     but many messages rate-limited by one endpoint still spread out.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * '500ms', '5s', '5m', '2h', '1d' (decimals allowed: '1.5h') → milliseconds, rounded to an
 * integer. Units are lowercase only: 'M' could be read as months. A bare number is rejected
 * because its unit would be a guess.
 */
export function parseDuration(s: string): number {
  const m = typeof s === 'string' ? DURATION_RE.exec(s.trim()) : null;
  if (!m) {
    throw new Error(
      `invalid duration ${JSON.stringify(s)}: expected a number followed by ms, s, m, h or d (e.g. "500ms", "30s", "5m", "2h", "1d")`,
    );
  }
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
  if (!Number.isSafeInteger(ms)) throw new Error(`invalid duration ${JSON.stringify(s)}: too large`);
  return ms;
}

/** '5s,5m,30m' → [5000, 300000, 1800000]. Non-empty; every delay must be > 0. */
export function parseRetrySchedule(s: string): number[] {
  if (typeof s !== 'string' || s.trim() === '') {
    throw new Error('invalid retry schedule: expected a comma-separated list of durations, e.g. "5s,5m,30m,2h"');
  }
  return s.split(',').map((part, i) => {
    const item = part.trim();
    if (item === '') throw new Error(`invalid retry schedule ${JSON.stringify(s)}: entry ${i + 1} is empty`);
    let ms: number;
    try {
      ms = parseDuration(item);
    } catch (err) {
      throw new Error(`invalid retry schedule ${JSON.stringify(s)}: entry ${i + 1}: ${(err as Error).message}`);
    }
    if (ms <= 0) throw new Error(`invalid retry schedule ${JSON.stringify(s)}: entry ${i + 1} must be greater than zero`);
    return ms;
  });
}

/**
 * 5s, 5m, 30m, 2h, 5h, 10h, 10h: eight attempts spanning about 28 hours. Typed number[] to match
 * the parsed config schedule, but frozen: mutating the shared default would be a bug.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: number[] = Object.freeze([
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
]) as number[];

/** Spread of the jitter around the scheduled delay: ±20%. */
export const JITTER_RATIO = 0.2;

/** Retry-After may push a retry out to at least this much (or 2 × base if larger). */
export const RETRY_AFTER_CAP_MS = 3_600_000;

export interface NextRetryInput {
  /** 1-indexed number of the attempt that just failed. */
  attempt: number;
  schedule: readonly number[];
  /** Parsed Retry-After of the failed attempt's response, if any. */
  retryAfterMs?: number;
  /** Status of the failed attempt's response, if one arrived. */
  statusCode?: number;
  /** Uniform in [0, 1); defaults to Math.random. */
  random?: () => number;
}

/** Delay in ms before the next attempt, or null when the schedule is exhausted. */
export function nextRetryDelay(input: NextRetryInput): number | null {
  const { attempt, schedule, retryAfterMs, statusCode } = input;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer (1-indexed), got ${attempt}`);
  }
  // Attempt is 1-indexed; the schedule is 0-indexed.
  if (attempt > schedule.length) return null;
  const base = schedule[attempt - 1]!;
  const r = clampUnit((input.random ?? Math.random)());

  const honourRetryAfter =
    (statusCode === 429 || statusCode === 503) &&
    retryAfterMs !== undefined &&
    Number.isFinite(retryAfterMs) &&
    retryAfterMs >= 0;

  if (honourRetryAfter) {
    const upper = Math.max(2 * base, RETRY_AFTER_CAP_MS);
    const wanted = Math.min(Math.max(retryAfterMs, base), upper);
    return Math.round(wanted * (1 + JITTER_RATIO * r));
  }
  return Math.round(base * (1 - JITTER_RATIO + 2 * JITTER_RATIO * r));
}

/** A misbehaving injected random must not produce negative or runaway delays. */
function clampUnit(r: number): number {
  if (!Number.isFinite(r) || r < 0) return 0;
  return r > 1 ? 1 : r;
}
