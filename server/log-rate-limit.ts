// A token bucket per log kind, so that a burst of one kind of failure (every attempt of a broken
// listener, a client retrying a bad token) writes a few lines and then a count, not a flood, and
// cannot crowd out the other kinds. Suppressed lines are counted and reported on the next line
// of the same kind that gets through (`suppressed: n`).

export interface RateLimit {
  /** Lines of one kind written back to back before limiting starts. @default 10 */
  burst?: number;
  /** Lines of one kind per second once the burst is used up. @default 1 */
  perSecond?: number;
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
}

export class LogRateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;

  constructor(limit: RateLimit = {}, now: () => number = Date.now) {
    this.#burst = Math.max(1, limit.burst ?? 10);
    this.#perMs = Math.max(0, limit.perSecond ?? 1) / 1000;
    this.#now = now;
  }

  /** Takes a token for `kind`: the number of lines suppressed since the last one that passed
   * (0 or more) when this line may be written, or undefined when it is suppressed. */
  take(kind: string): number | undefined {
    const now = this.#now();
    let b = this.#buckets.get(kind);
    if (b === undefined) this.#buckets.set(kind, (b = { tokens: this.#burst, at: now, suppressed: 0 }));
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#perMs);
    b.at = now;
    if (b.tokens < 1) {
      b.suppressed++;
      return undefined;
    }
    b.tokens -= 1;
    const suppressed = b.suppressed;
    b.suppressed = 0;
    return suppressed;
  }
}
