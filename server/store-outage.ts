// Turns the store's many failing and succeeding queries into two log lines: one when it stops
// answering, one when it answers again. Every periodic store user (claims, heartbeats, emits)
// reports here; only transitions are logged, so a store that is down for an hour logs once, not
// once per poll.
import type { LogEvents } from './logger.js';

export class StoreOutage {
  #downSince: number | undefined;

  constructor(
    private readonly logs: LogEvents,
    private readonly now: () => number = Date.now,
  ) {}

  get down(): boolean {
    return this.#downSince !== undefined;
  }

  /** A store query failed for a reason that is the store's (not a constraint or a bad query). */
  failed(during: string, err: unknown): void {
    if (this.#downSince !== undefined) return;
    this.#downSince = this.now();
    this.logs.storeUnavailable(during, err);
  }

  /** A store query succeeded. Cheap when nothing was down: called on every claim. */
  ok(): void {
    if (this.#downSince === undefined) return;
    const downMs = this.now() - this.#downSince;
    this.#downSince = undefined;
    this.logs.storeRecovered(downMs);
  }
}
