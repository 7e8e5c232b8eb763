// Counters of how this process's listener attempts ended, since it started: completed, failed and
// retried later, or dead-lettered. Told by both dispatchers (durable and inline); read by
// `fete.workerStatus()`, GET /health and GET /metrics. Counters only: the store's backlog (what
// is pending, running, dead now) is `fete.stats()`.
import type { RegisteredListener } from './registry.js';

export type Outcome = 'completed' | 'retried' | 'dead';

/** Attempt outcomes in this process since it started. */
export interface OutcomeCounts {
  /** Attempts whose handler succeeded and whose completion was committed (or handed to the group
   * commit, which drops it only if the lease was lost meanwhile). */
  completed: number;
  /** Attempts that failed (threw, rejected, timed out) and were scheduled to run again. */
  retried: number;
  /** Attempts that failed with no attempt left: the delivery became a dead letter. */
  dead: number;
}

export interface ListenerOutcomes extends OutcomeCounts {
  target: string;
  name: string;
  durable: boolean;
}

export function zeroOutcomes(): OutcomeCounts {
  return { completed: 0, retried: 0, dead: 0 };
}

export class DeliveryOutcomes {
  readonly #byListener = new Map<RegisteredListener, OutcomeCounts>();
  readonly #total = zeroOutcomes();

  record(listener: RegisteredListener, outcome: Outcome): void {
    let c = this.#byListener.get(listener);
    if (!c) this.#byListener.set(listener, (c = zeroOutcomes()));
    c[outcome]++;
    this.#total[outcome]++;
  }

  total(): OutcomeCounts {
    return { ...this.#total };
  }

  /** Per listener of `listeners` (zeros for one that has not run yet). */
  byListener(listeners: readonly RegisteredListener[]): ListenerOutcomes[] {
    return listeners.map((l) => ({ target: l.target, name: l.name, durable: l.options.durable, ...(this.#byListener.get(l) ?? zeroOutcomes()) }));
  }
}
