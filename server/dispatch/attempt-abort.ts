// The abort of one attempt (timeout, lost lease, stop) without an AbortController until the
// handler reads `ctx.signal`. Measured on a 100,000-job drain of no-op handlers: creating an
// AbortController per attempt (its signal is an EventTarget) was 8.7% of the process's busy CPU.
import { FeteError } from '../../shared/index.js';

export class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  /** The attempt's runner, told once, right after the signal (if any) fired. */
  onAbort: ((reason: unknown) => void) | undefined = undefined;
  #controller: AbortController | undefined;

  /** The signal handed to the handler; made on first read, already aborted if the attempt is. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    const runner = this.onAbort;
    this.onAbort = undefined;
    runner?.(reason);
  }
}

/** The reason a timed-out attempt is aborted with (and its recorded error). */
export function timeoutError(attempt: number, timeoutMs: number): FeteError {
  return new FeteError('TIMEOUT', `attempt ${attempt} timed out after ${timeoutMs} ms`);
}
