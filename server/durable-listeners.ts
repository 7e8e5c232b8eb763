// Durable listeners must be recorded in the store before an append, or the append (which inserts
// one delivery per recorded listener in its own statement) misses them. This records each once,
// hands it to the dispatcher when done, and lets writers wait for the ones still in flight.
import createDebug from 'debug';
import { FeteError } from '../shared/index.js';
import type { Dispatcher } from './dispatch/dispatcher.js';
import { type RegisteredListener, listenerRecord } from './registry.js';
import { takeOverListener, upsertListener } from './store/listener-queries.js';
import type { ListenerHeartbeat } from './listener-heartbeat.js';
import type { Registry } from './registry.js';
import type { Store } from './store/open-store.js';

const debug = createDebug('fete:server');

export class DurableListeners {
  readonly #unrecorded = new Set<RegisteredListener>();
  readonly #recording = new Map<RegisteredListener, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly registry: Registry,
    private readonly heartbeat: ListenerHeartbeat,
  ) {}

  /** Forgets `l` here (fete.off): not recorded, not vouched for by this process's heartbeat. */
  delete(l: RegisteredListener): void {
    this.#unrecorded.delete(l);
    this.heartbeat.delete(l);
  }

  /** Starts recording `l` (retried by the next `recorded()` if it fails now). */
  add(l: RegisteredListener): void {
    this.#unrecorded.add(l);
    this.#record(l).catch((err: Error) => debug('recording listener %s/%s failed (retried at next emit): %s', l.target, l.name, err.message));
  }

  #record(l: RegisteredListener): Promise<void> {
    let p = this.#recording.get(l);
    if (!p) {
      p = upsertListener(this.store.driver, this.store.tables, listenerRecord(l))
        .then(async (id) => {
          l.storeId = id;
          const old = l.options.replaces;
          if (old !== undefined && old !== l.name) {
            const { driver, tables } = this.store;
            const moved = await driver.transaction((tx) => takeOverListener(tx, tables, l.target, old, id));
            debug('listener %s/%s took over %d deliveries of %s', l.target, l.name, moved, old);
          }
          this.#unrecorded.delete(l);
          // fete.off may have come first: then it is recorded, but not run or vouched for here.
          if (this.registry.find(l.target, l.name) !== l) return;
          this.heartbeat.add(l);
          this.dispatcher.add(l);
        })
        .finally(() => this.#recording.delete(l));
      this.#recording.set(l, p);
    }
    return p;
  }

  /** Resolves once every listener added so far is in the store; STORE_UNAVAILABLE otherwise. */
  async recorded(): Promise<void> {
    if (this.#unrecorded.size === 0) return;
    try {
      await Promise.all([...this.#unrecorded].map((l) => this.#record(l)));
    } catch (err) {
      throw FeteError.from(err, 'STORE_UNAVAILABLE');
    }
  }
}
