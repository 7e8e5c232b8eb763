// One timer per listener for its next delivery that is not due yet (a delayed emit, a retry in
// backoff), so it is claimed when it comes due instead of at the next poll (retries configured at
// 300/600/1200 ms used to run 300-900 ms late with the 1 s poll). Only the earliest due time is
// armed: a later one is learned again from the claim that the earlier one triggers.
export class DueTimer {
  #timer: NodeJS.Timeout | undefined;
  #at = Infinity;

  constructor(private readonly fire: () => void) {}

  /** Something becomes due in `ms` (from now): fire then, unless already armed for earlier. */
  at(ms: number): void {
    const at = performance.now() + Math.max(0, ms);
    if (this.#timer !== undefined && this.#at <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = at;
    // The store's clock decides what is due; a timer that fires a fraction early makes a claim
    // that finds nothing and re-arms for the remainder (the claim reports it).
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.fire();
    }, Math.max(1, Math.ceil(ms)));
    // Not the thing that keeps a worker process alive (the poll timer is).
    this.#timer.unref();
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }
}
