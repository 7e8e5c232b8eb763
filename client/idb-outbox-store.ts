// The IndexedDB outbox store (idb 8), one database per client name, shared by every tab of the
// origin. `queue` is keyed by an auto-increment key, so its order is commit order across tabs;
// `rejected` and `results` are keyed by envelope id.
//
// Durability: `append` is the promise the app relies on ("your action is saved"), so it runs in a
// `durability: 'strict'` transaction (flushed to disk before `complete`). `settle` only deletes
// acked entries and records outcomes; losing it in a crash means re-sending entries the server
// already has, which it answers as duplicates, so it uses the browser's default durability.
import { unwrap, wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import type { OutboxRecord, OutboxStore, QueuedRecord, RejectedRecord, ResultRecord, Settlement } from './outbox-store.js';

const VERSION = 1;

interface OutboxSchema extends DBSchema {
  queue: { key: number; value: QueuedRecord };
  rejected: { key: string; value: RejectedRecord };
  results: { key: string; value: ResultRecord };
}

type Db = IDBPDatabase<OutboxSchema>;

/** Opens (creating on first use) the outbox database `name` in `factory`. */
export async function openIdbOutboxStore(factory: IDBFactory, name: string): Promise<OutboxStore> {
  // idb's openDB always uses the global indexedDB; opening through the given factory and wrapping
  // the request keeps the factory injectable (tests, a factory per test).
  const request = factory.open(name, VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains('queue')) db.createObjectStore('queue', { keyPath: 'key', autoIncrement: true });
    if (!db.objectStoreNames.contains('rejected')) db.createObjectStore('rejected', { keyPath: 'id' });
    if (!db.objectStoreNames.contains('results')) db.createObjectStore('results', { keyPath: 'id' });
  };
  const db = (await wrap(request)) as unknown as Db;
  // A later version opened by a newer tab: step aside instead of blocking its upgrade.
  db.addEventListener('versionchange', () => db.close());
  return new IdbOutboxStore(db);
}

const noop = () => {};

/** Issues requests synchronously, then waits for the commit. A request that throws while being
 * issued (a key or clone error) aborts the transaction, so nothing of it is written. */
async function inTransaction<S extends StoreNames<OutboxSchema>[]>(
  tx: IDBPTransaction<OutboxSchema, S, 'readwrite'>,
  issue: () => void,
): Promise<void> {
  try {
    issue();
  } catch (err) {
    tx.done.catch(noop);
    tx.abort();
    throw err;
  }
  await tx.done;
}

class IdbOutboxStore implements OutboxStore {
  readonly shared = true;
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async append(records: readonly OutboxRecord[]): Promise<void> {
    const tx = this.#db.transaction('queue', 'readwrite', { durability: 'strict' });
    // Requests go to the raw store, with no promise per request: the transaction's outcome is the
    // only one that matters, and on abort its error is the cause (QuotaExceededError) where the
    // requests only say AbortError. This is the hot path of a burst of emits.
    await inTransaction(tx, () => {
      const queue = unwrap(tx.store);
      for (const r of records) queue.add(r);
    });
  }

  async head(limit: number): Promise<QueuedRecord[]> {
    return this.#db.getAll('queue', undefined, limit);
  }

  count(): Promise<number> {
    return this.#db.count('queue');
  }

  async settle({ keys, rejected, results }: Settlement): Promise<void> {
    const tx = this.#db.transaction(['queue', 'rejected', 'results'], 'readwrite');
    await inTransaction(tx, () => {
      const queue = unwrap(tx.objectStore('queue'));
      for (const k of keys) queue.delete(k);
      const rej = unwrap(tx.objectStore('rejected'));
      for (const r of rejected) rej.put(r);
      const res = unwrap(tx.objectStore('results'));
      for (const r of results) res.put(r);
    });
  }

  async results(ids: readonly string[]): Promise<ResultRecord[]> {
    if (ids.length === 0) return [];
    const tx = this.#db.transaction('results', 'readonly');
    const found = await Promise.all(ids.map((id) => tx.store.get(id)));
    await tx.done;
    return found.filter((r): r is ResultRecord => r !== undefined);
  }

  async forgetResults(which: { ids: readonly string[] } | { olderThan: number }): Promise<void> {
    const tx = this.#db.transaction('results', 'readwrite');
    if ('ids' in which) {
      await inTransaction(tx, () => {
        const store = unwrap(tx.store);
        for (const id of which.ids) store.delete(id);
      });
      return;
    }
    // Results are few (only other tabs' entries, for minutes): a full scan is cheap.
    for (let cursor = await tx.store.openCursor(); cursor; cursor = await cursor.continue())
      if (cursor.value.at < which.olderThan) cursor.delete().catch(noop);
    await tx.done;
  }

  async rejected(): Promise<RejectedRecord[]> {
    const all = await this.#db.getAll('rejected');
    return all.sort((a, b) => a.at - b.at);
  }

  async discardRejected(ids?: readonly string[]): Promise<void> {
    const tx = this.#db.transaction('rejected', 'readwrite');
    await inTransaction(tx, () => {
      const store = unwrap(tx.store);
      if (ids === undefined) store.clear();
      else for (const id of ids) store.delete(id);
    });
  }

  close(): void {
    this.#db.close();
  }
}
