// What the page knows about orders, merged from three sources: the orders this browser placed
// (with the id of the `orders.place` command that places each, and its number once answered), the
// events of the log (`orders.{id}.created` proves the server has it, `orders.{id}.status` is the
// listener's progress) and the `orders.list` query (the server's record: the number, and how many
// times each order was processed: 1, exactly once). Each order is kept in IndexedDB as last confirmed (order-memory.ts), so a reload
// while offline shows the last known truth instead of "in outbox" for everything.
import type { FeteError } from 'fete/client';
import type { ListedOrder, OrderStatus, Scenario } from '../shared/catalog.js';
import { OrderMemory, type StoredOrder } from './order-memory.js';

export interface PlacedOrder {
  orderId: string;
  item: string;
  quantity: number;
  scenario: Scenario;
  placedAt: string;
}

export interface OrderView extends Partial<PlacedOrder> {
  orderId: string;
  /** The id of the `orders.place` command (kept to read its answer after a reload). */
  commandId?: string;
  /** The order number the command answered (or the query listed). */
  number?: number;
  /** The `orders.list` query returned it. */
  listed?: boolean;
  /** The `created` event is in the server's log (with this seq). */
  loggedSeq?: number;
  status?: OrderStatus;
  /** The attempt of the latest status, counted over inspector retries too (the store restarts at 1
   * for a retried dead letter; the page adds the attempts that came before). */
  attempt?: number;
  /** Attempts of earlier rounds (before inspector retries). */
  attemptsBefore?: number;
  /** Seq of the latest status event applied: a replay of the log over the stored state skips
   * what it already holds, so nothing is counted twice. */
  statusSeq?: number;
  message?: string;
  /** Fulfilment rows for this order. */
  times?: number;
  rejected?: FeteError;
  /** A rejection remembered across a reload (code: message). */
  rejectedText?: string;
}

export type OrderState = 'rejected' | 'outbox' | 'received' | OrderStatus;

export function stateOf(o: OrderView): OrderState {
  if (o.rejected || o.rejectedText) return 'rejected';
  if (o.status) return o.status;
  // A number means the command ran: the server has the order, its event is on the way.
  return o.loggedSeq === undefined && o.number === undefined ? 'outbox' : 'received';
}

export class Orders {
  readonly #byId = new Map<string, OrderView>();
  readonly #changed: () => void;
  readonly #memory = new OrderMemory();
  /** Resolves once the stored orders are merged in. */
  readonly restored: Promise<void>;

  constructor(changed: () => void) {
    this.#changed = changed;
    this.restored = this.#memory.load().then((stored) => {
      // Events that arrived meanwhile are newer than what was stored: they win.
      for (const o of stored) this.#byId.set(o.orderId, { ...o, ...this.#byId.get(o.orderId) });
      this.#changed();
    });
  }

  /** Newest first. */
  list(): OrderView[] {
    return [...this.#byId.values()].sort((a, b) => (b.placedAt ?? '').localeCompare(a.placedAt ?? '') || b.orderId.localeCompare(a.orderId));
  }

  place(order: PlacedOrder & { commandId: string }): void {
    this.#update(order.orderId, order);
  }

  /** Orders placed here whose command has not answered yet (to ask for the answer after a reload). */
  unanswered(): Array<{ orderId: string; commandId: string }> {
    return this.list().flatMap((o) => (o.commandId && o.number === undefined && !o.rejected && !o.rejectedText ? [{ orderId: o.orderId, commandId: o.commandId }] : []));
  }

  numbered(orderId: string, number: number): void {
    if (this.#byId.get(orderId)?.number !== number) this.#update(orderId, { number });
  }

  created(seq: number, order: Omit<PlacedOrder, 'placedAt'> & { placedAt: Date; number: number }): void {
    this.#update(order.orderId, { ...order, placedAt: order.placedAt.toISOString(), loggedSeq: seq });
  }

  /** The `orders.list` answer: the server's record of each order wins for what it holds. */
  listed(rows: readonly ListedOrder[]): void {
    for (const r of rows) {
      const o = this.#byId.get(r.orderId);
      if (o?.listed && o.number === r.number && o.times === r.times) continue;
      const { placedAt, ...rest } = r;
      this.#update(r.orderId, { ...rest, placedAt: placedAt.toISOString(), listed: true });
    }
  }

  status(seq: number, orderId: string, status: OrderStatus, attempt: number, message: string | undefined): void {
    const o = this.#byId.get(orderId);
    if (o?.statusSeq !== undefined && seq <= o.statusSeq) return;
    // A retried dead letter starts again at attempt 1: carry the earlier rounds' attempts over.
    let before = o?.attemptsBefore ?? 0;
    if (o?.status === 'dead-lettered' && o.attempt !== undefined && attempt <= o.attempt - before) before = o.attempt;
    this.#update(orderId, { status, attempt: before + attempt, attemptsBefore: before, message, statusSeq: seq });
  }

  rejected(orderId: string, error: FeteError): void {
    this.#update(orderId, { rejected: error });
  }

  #update(orderId: string, patch: Partial<OrderView>): void {
    const o = this.#byId.get(orderId) ?? { orderId };
    Object.assign(o, patch);
    this.#byId.set(orderId, o);
    void this.#memory.save(stored(o));
    this.#changed();
  }
}

function stored(o: OrderView): StoredOrder {
  const { rejected, ...rest } = o;
  return rejected ? { ...rest, rejectedText: `${rejected.code}: ${rejected.message}` } : rest;
}
