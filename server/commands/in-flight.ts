// The per-principal cap on commands and queries in flight (`commands.maxInFlightPerPrincipal`):
// counted where every door's call passes (CommandBus), so a caller with many sockets, HTTP
// requests and server calls has one budget. Keys are `[tenant, actor]` as JSON (command-actor.ts):
// both are app strings and may hold any character, a separator included.
import { FeteError, type RequestKind } from '../../shared/index.js';

export class InFlight {
  readonly #limit: number;
  readonly #counts = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes a slot for `key`; returns its release (idempotent). Throws RATE_LIMITED (retryable,
   * `details.limit`) when `key` has `limit` calls in flight already. */
  take(key: string, kind: RequestKind): () => void {
    const release = this.tryTake(key);
    if (!release)
      throw new FeteError('RATE_LIMITED', `too many ${kind}s in flight for this caller (commands.maxInFlightPerPrincipal is ${this.#limit}): retry when some have answered`, {
        details: { limit: this.#limit },
      });
    return release;
  }

  /** Takes a slot for `key` and returns its release (idempotent), or undefined when `key` holds
   * `limit` slots already (the caller says why it refuses). */
  tryTake(key: string): (() => void) | undefined {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.#limit) return undefined;
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }

  /** Slots held for `key` (tests, metrics). */
  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
}
