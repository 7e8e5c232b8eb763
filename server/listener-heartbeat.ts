// Durable listeners' liveness in the store: every process that registers durable listeners
// refreshes their `seen_at` every `listeners.heartbeatMs`, whatever its roles (a web process that
// registers a listener still vouches for it). A listener nobody has refreshed for
// `listeners.orphanAfterMs` is orphaned (stats, /health, /metrics, inspector; retention stops
// keeping events for it unless `orphanRetention: 'pin'`). The timer does not keep a process alive.
import createDebug from 'debug';
import type { RegisteredListener } from './registry.js';
import { heartbeatListeners } from './store/listener-queries.js';
import type { Store } from './store/open-store.js';

const debug = createDebug('fete:listeners');

export class ListenerHeartbeat {
  readonly #listeners = new Set<RegisteredListener>();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
  ) {}

  /** Starts vouching for a recorded listener (its store id is set). */
  add(l: RegisteredListener): void {
    this.#listeners.add(l);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.beat(), this.intervalMs);
      this.#timer.unref();
    }
  }

  /** Stops vouching for it (`fete.off`): with no other process, it becomes orphaned. */
  delete(l: RegisteredListener): void {
    this.#listeners.delete(l);
  }

  /** One refresh now (also what the timer does). */
  beat(): Promise<void> {
    this.#beating ??= (async () => {
      const ids = [...this.#listeners].map((l) => l.storeId).filter((id): id is number => id !== undefined);
      try {
        await heartbeatListeners(this.store.driver, this.store.tables, ids);
      } catch (err) {
        debug('listener heartbeat failed (next one retries): %s', (err as Error).message);
      }
    })().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating;
  }
}
