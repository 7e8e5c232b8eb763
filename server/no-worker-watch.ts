// Warns when deliveries wait and no worker runs anywhere: the classic first-hour mistake is an app
// that never calls `fete.start()`, whose emits are accepted and whose listeners never run. An emit
// in a process whose own dispatcher is not running schedules one look at the store a few poll
// intervals later (unclaimed-query.ts); at most one look per `minGapMs`, so a busy web process
// pays one small query every half minute, and a process with a running dispatcher pays nothing.
import createDebug from 'debug';
import type { LogEvents } from './logger.js';
import { oldestUnclaimed } from './store/unclaimed-query.js';
import type { Store } from './store/open-store.js';

const debug = createDebug('fete:server');

export interface NoWorkerWatchOptions {
  store: Store;
  logs: LogEvents;
  /** Whether this process's dispatcher is running now. */
  running(): boolean;
  /** Whether this process was meant to run workers (worker role, durable dispatch). */
  workerRole: boolean;
  /** How long a delivery must have been due, unclaimed, before it counts as waiting. */
  dueForMs: number;
  /** Least time between two looks at the store. @default 30_000 */
  minGapMs?: number;
}

export class NoWorkerWatch {
  readonly #o: NoWorkerWatchOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastLook = -Infinity;
  #stopped = false;

  constructor(options: NoWorkerWatchOptions) {
    this.#o = options;
  }

  /** After an emit that appended something. */
  appended(): void {
    if (this.#stopped || this.#timer !== undefined || this.#o.running()) return;
    const now = Date.now();
    if (now - this.#lastLook < (this.#o.minGapMs ?? 30_000)) return;
    this.#lastLook = now;
    // Unref'd: a script that emits and exits is not kept alive by this look.
    this.#timer = setTimeout(() => void this.#look(), this.#o.dueForMs + 50).unref();
  }

  async #look(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped || this.#o.running()) return;
    const { store, logs, workerRole, dueForMs } = this.#o;
    try {
      const waiting = await oldestUnclaimed(store.driver, store.tables, dueForMs);
      if (waiting === undefined || this.#stopped || this.#o.running()) return;
      logs.noWorker({
        listener: { target: waiting.target, name: waiting.name },
        eventId: waiting.eventId,
        reason: workerRole
          ? `this process has the worker role but fete.start() was not called; no process claimed a delivery due for ${dueForMs} ms`
          : `no process claimed a delivery due for ${dueForMs} ms (this process has no worker role)`,
      });
    } catch (err) {
      debug('the no-worker check failed: %s', (err as Error).message);
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
