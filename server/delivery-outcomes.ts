// Counters of how this process's listener attempts ended, since it started: completed, failed and
// retried later, or dead-lettered. Told by both dispatchers (durable and inline); read by
// `fete.workerStatus()`, GET /health and GET /metrics. Counters only: the store's backlog (what
// is pending, running, dead now) is `fete.stats()`.
import type { RegisteredListener } from './registry.js';
import type { DispatcherState, ListenerOutcomes, OutcomeCounts, WorkerStatus } from './types.js';

export type { ListenerOutcomes, OutcomeCounts };

export type Outcome = 'completed' | 'retried' | 'dead';

/** Counts of none yet. */
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

  /** `fete.workerStatus()`: the dispatcher's state and these counters for `listeners`. */
  status(dispatcher: DispatcherState, listeners: readonly RegisteredListener[], started: boolean): WorkerStatus {
    return {
      started,
      dispatcher,
      listeners: listeners.length,
      durableListeners: listeners.filter((l) => l.options.durable).length,
      outcomes: this.total(),
      byListener: this.byListener(listeners),
    };
  }
}
