// What this browser last knew about each order, in IndexedDB: the orders it placed and the last
// state the server confirmed (its `created` event, the listener's latest status, the fulfilment
// count). After a reload while offline the log cannot be replayed, so this is what the page shows,
// and it is the truth as of the last confirmation: a confirmed order stays confirmed, a dead letter
// stays dead, and only orders the server never confirmed show as waiting in the outbox.
import { openDB, type IDBPDatabase } from 'idb';
import type { OrderView } from './orders.js';

/** An order as stored: the view without the rejection (an Error does not survive structured clone). */
export type StoredOrder = Omit<OrderView, 'rejected'> & { rejectedText?: string };

const DB = 'fete-playground';
const STORE = 'orders';
const MAX = 200;

export class OrderMemory {
  readonly #db: Promise<IDBPDatabase | undefined>;

  constructor() {
    this.#db = openDB(DB, 1, {
      upgrade(db) {
        db.createObjectStore(STORE, { keyPath: 'orderId' });
      },
    }).catch(() => undefined); // private mode and the like: the page still works, without memory
  }

  async load(): Promise<StoredOrder[]> {
    const db = await this.#db;
    if (!db) return [];
    const all = (await db.getAll(STORE)) as StoredOrder[];
    return all.sort((a, b) => (b.placedAt ?? '').localeCompare(a.placedAt ?? '')).slice(0, MAX);
  }

  async save(order: StoredOrder): Promise<void> {
    const db = await this.#db;
    await db?.put(STORE, order);
  }
}
