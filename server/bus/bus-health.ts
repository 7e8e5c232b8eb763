// The bus's state as an operator sees it (`fete.stats().bus`, the health route, the log): connected
// to NATS, degraded (on the PostgreSQL fallback) or down (closed), since when, and how many times it
// fell back. Only changes are logged, one line each: a node cut off from NATS for an hour logs
// once when it degrades and once when it recovers, never per message or per attempt.
import type { LogEvents } from '../logger.js';
import { errorMessage } from '../logger.js';
import type { BusState, BusStatus } from './event-bus.js';

export class BusHealth {
  #state: BusState;
  #since: number;
  #fallbacks = 0;
  #recoveries = 0;
  #lastError: string | undefined;
  readonly #logs: LogEvents;
  readonly #servers: string;
  readonly #now: () => number;

  /** Starts `degraded` (nothing is connected yet) without counting it or logging. */
  constructor(logs: LogEvents, servers: string, now: () => number = Date.now) {
    this.#logs = logs;
    this.#servers = servers;
    this.#now = now;
    this.#state = 'degraded';
    this.#since = now();
  }

  get state(): BusState {
    return this.#state;
  }

  /** On NATS (the first connection, or back after an outage). */
  connected(): void {
    if (this.#state !== 'degraded') return;
    const wasDown = this.#fallbacks > 0;
    const downMs = this.#now() - this.#since;
    this.#enter('connected');
    this.#recoveries++;
    this.#lastError = undefined;
    if (wasDown) this.#logs.busRecovered({ servers: this.#servers, downMs });
  }

  /** NATS unreachable (at start: `atStart`; later: a disconnect): the node serves on the fallback.
   * Repeated failures while degraded only update `lastError`. */
  degraded(reason: unknown, atStart = false): void {
    this.#lastError = errorMessage(reason);
    if (this.#state === 'down') return;
    if (this.#state === 'degraded' && (this.#fallbacks > 0 || !atStart)) return;
    this.#enter('degraded');
    this.#fallbacks++;
    this.#logs.busDegraded({ servers: this.#servers, atStart, error: this.#lastError });
  }

  /** The bus is closed. */
  closed(): void {
    this.#enter('down');
  }

  #enter(state: BusState): void {
    this.#state = state;
    this.#since = this.#now();
  }

  status(): Omit<BusStatus, 'peersOnFallback'> {
    return {
      state: this.#state,
      since: new Date(this.#since).toISOString(),
      fallbacks: this.#fallbacks,
      recoveries: this.#recoveries,
      ...(this.#state === 'connected' ? {} : { lastError: this.#lastError }),
    };
  }
}
