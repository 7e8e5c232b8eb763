// Retry delays: exponential backoff with jitter. The n-th failed attempt waits
// min(maxMs, initialMs * factor^(n-1)), shortened by a random fraction up to `jitter`, so workers
// that failed together (a database blip) do not all come back in the same millisecond.

export interface BackoffOptions {
  /** Delay after the first failed attempt. @default 1000 */
  initialMs?: number;
  /** Growth per further failure. @default 2 */
  factor?: number;
  /** Upper bound of one delay. @default 300_000 (5 minutes) */
  maxMs?: number;
  /** Up to this fraction of the delay is taken off at random (0 = exact, 1 = "full jitter"). @default 0.5 */
  jitter?: number;
}

/** A backoff is the options above, or a function from the failed attempt (1-based) to a delay in ms. */
export type Backoff = BackoffOptions | ((attempt: number) => number);

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 1000, factor: 2, maxMs: 300_000, jitter: 0.5 };

/** Longest delay: setTimeout's limit (about 24.8 days), which inline retries wait on; a longer or
 * non-finite delay from a backoff function would also overflow the store's timestamp arithmetic
 * and make recording the failure itself fail. */
export const MAX_BACKOFF_MS = 2 ** 31 - 1;

/** The wait in ms (0..MAX_BACKOFF_MS) before the attempt after failed attempt `attempt`
 * (1-based). `random` is injectable for tests. Never throws: a backoff function that throws or
 * returns something other than a finite number gets the default schedule instead, since the
 * failure being recorded must be recorded whatever the function does. */
export function backoffDelay(attempt: number, backoff: Backoff = {}, random: () => number = Math.random): number {
  if (typeof backoff === 'function') {
    let ms = Number.NaN;
    try {
      const v: unknown = backoff(attempt);
      if (typeof v === 'number') ms = v;
    } catch {
      // the default below
    }
    if (Number.isFinite(ms)) return Math.min(MAX_BACKOFF_MS, Math.max(0, Math.round(ms)));
    backoff = {};
  }
  const o = { ...DEFAULT_BACKOFF, ...backoff };
  const exact = Math.min(o.maxMs, o.initialMs * o.factor ** Math.max(0, attempt - 1));
  const jitter = Math.min(1, Math.max(0, o.jitter));
  const ms = Math.round(exact * (1 - jitter * random()));
  return Number.isFinite(ms) ? Math.min(MAX_BACKOFF_MS, Math.max(0, ms)) : DEFAULT_BACKOFF.initialMs;
}
