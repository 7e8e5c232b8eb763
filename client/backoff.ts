// Retry pacing for the client: exponential backoff with jitter, and a Wakeup that a waiting loop
// sleeps on until something happens (new work, a reconnect, close) or a timeout passes.

export interface RetryOptions {
  /** First retry delay. @default 500 */
  initialDelayMs?: number;
  /** Longest delay between retries. @default 30_000 */
  maxDelayMs?: number;
}

/** Delay before retry number `attempt` (0-based): doubling from `initialDelayMs` up to `maxDelayMs`,
 * then "equal jitter" (half fixed, half random) so that many tabs or clients that failed together
 * do not retry in lockstep, while a delay never collapses to zero. */
export function backoffDelay(attempt: number, options: Required<RetryOptions>, random: () => number = Math.random): number {
  const exp = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return exp / 2 + (random() * exp) / 2;
}

/** A level-triggered wake-up: `notify()` before `wait()` is not lost, many notifies collapse to one. */
export class Wakeup {
  #pending = false;
  #resolve: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  notify(): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#pending = true;
      return;
    }
    this.#finish(resolve);
  }

  /** Resolves at the next `notify()` (or at once if one is pending), or after `timeoutMs`. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) this.#timer = setTimeout(() => this.#finish(resolve), timeoutMs);
    });
  }

  #finish(resolve: () => void): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolve = undefined;
    resolve();
  }
}
