// Attempt timeouts with one timer per listener instead of a setTimeout per attempt. The attempts
// of a listener share one `timeoutMs`, so the timer is armed for the earliest deadline; when it
// fires, the owner aborts every attempt past its deadline and names the next one. An attempt that
// ends in time costs nothing here (measured: setTimeout + clearTimeout per attempt, with the
// AbortController, was ~13% of a no-op drain's CPU).
export class DeadlineTimer {
  #timer: NodeJS.Timeout | undefined;
  #at = Infinity;

  /** `expire(now)` aborts what is past its deadline at `now` (performance.now() ms) and returns
   * the earliest deadline still ahead, or Infinity when nothing runs. */
  constructor(private readonly expire: (now: number) => number) {}

  /** An attempt with this deadline (performance.now() ms) is running. */
  watch(deadline: number): void {
    if (deadline < this.#at) this.#arm(deadline);
  }

  /** Nothing runs any more: no timer keeps the process alive for attempts that are over. */
  idle(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = at;
    // A timer may fire a fraction of a millisecond early by performance.now(); expire() then finds
    // nothing due yet and the timer is armed again for the rest.
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(at - performance.now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#at = Infinity;
    const next = this.expire(performance.now());
    if (next !== Infinity) this.#arm(next);
  }
}
