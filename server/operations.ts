// The operator's calls of a server: `fete.stats()`, `fete.deadLetters()` and `fete.retry()`, over
// the store's delivery rows (durable listeners) and the inline dispatcher's memory (non-durable
// ones; their dead letters have negative ids).
import { FeteError, type TopicCatalog } from '../shared/index.js';
import type { InlineDispatcher } from './dispatch/inline-dispatcher.js';
import type { Registry } from './registry.js';
import { listDeadDeliveries, notifyWake, retryDeadDelivery } from './store/delivery-queries.js';
import type { Store } from './store/open-store.js';
import { collectStats } from './stats.js';
import type { DeadLetter, DeadLetterQuery, FeteStats } from './types.js';

export interface OperationsDeps {
  store: Store | undefined;
  catalog: TopicCatalog;
  registry: Registry;
  inline: InlineDispatcher;
  /** The in-memory log's head, when there is no store. */
  memoryHead(): number | undefined;
  /** A durable listener no live process vouched for this long is orphaned (stats show it). */
  orphanAfterMs: number;
}

export class Operations {
  constructor(private readonly d: OperationsDeps) {}

  /** Backlog per listener and topic. */
  stats(): Promise<FeteStats> {
    const { store, catalog, registry, inline } = this.d;
    return collectStats({ store, catalog, registry, inline, memoryHead: this.d.memoryHead(), orphanAfterMs: this.d.orphanAfterMs });
  }

  /** Dead letters, oldest first: the store's, then the in-memory ones of non-durable listeners. */
  async deadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const inMemory = this.d.inline.deadLetters().filter((d) => query.listener === undefined || d.listener.name === query.listener);
    if (!this.d.store) return inMemory.slice(0, query.limit ?? 100);
    const { driver, tables } = this.d.store;
    const stored = await listDeadDeliveries(driver, tables, query);
    return [...stored, ...inMemory].slice(0, query.limit ?? 100);
  }

  /** Puts a dead letter back to pending with a fresh set of attempts; NOT_FOUND if it is not dead. */
  async retry(deliveryId: number): Promise<void> {
    if (!Number.isSafeInteger(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${String(deliveryId)}`);
    if (deliveryId < 0 || !this.d.store) {
      if (!this.d.inline.retry(deliveryId)) throw new FeteError('NOT_FOUND', `no dead letter ${deliveryId}`);
      return;
    }
    const { driver, tables } = this.d.store;
    const listenerId = await retryDeadDelivery(driver, tables, deliveryId);
    if (listenerId === undefined) throw new FeteError('NOT_FOUND', `delivery ${deliveryId} is not a dead letter`, { details: { deliveryId } });
    await notifyWake(driver, tables, [listenerId]);
  }
}
