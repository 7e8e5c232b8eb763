// What the page knows about orders, merged from three sources: the orders this browser placed
// (kept in localStorage, so an order still in the outbox shows after a reload), the events of the
// log (`orders.{id}.created` proves the server has it, `orders.{id}.status` is the listener's
// progress) and the fulfilment table (how many times each order was processed: 1, exactly once).
import type { FeteError } from 'fete/client';
import type { OrderStatus, Scenario } from '../shared/catalog.js';

export interface PlacedOrder {
  orderId: string;
  item: string;
  quantity: number;
  scenario: Scenario;
  placedAt: string;
}

export interface OrderView extends Partial<PlacedOrder> {
  orderId: string;
  /** The `created` event is in the server's log (with this seq). */
  loggedSeq?: number;
  status?: OrderStatus;
  attempt?: number;
  message?: string;
  /** Fulfilment rows for this order. */
  times?: number;
  rejected?: FeteError;
}

export type OrderState = 'rejected' | 'outbox' | 'received' | OrderStatus;

export function stateOf(o: OrderView): OrderState {
  if (o.rejected) return 'rejected';
  if (o.status) return o.status;
  return o.loggedSeq === undefined ? 'outbox' : 'received';
}

const KEY = 'fete-playground:orders';
const MAX = 100;

export class Orders {
  readonly #byId = new Map<string, OrderView>();
  readonly #changed: () => void;

  constructor(changed: () => void) {
    this.#changed = changed;
    for (const p of this.#placed()) this.#byId.set(p.orderId, { ...p });
  }

  /** Newest first. */
  list(): OrderView[] {
    return [...this.#byId.values()].sort((a, b) => (b.placedAt ?? '').localeCompare(a.placedAt ?? '') || b.orderId.localeCompare(a.orderId));
  }

  place(order: PlacedOrder): void {
    const placed = [order, ...this.#placed()].slice(0, MAX);
    localStorage.setItem(KEY, JSON.stringify(placed));
    this.#update(order.orderId, order);
  }

  created(seq: number, order: Omit<PlacedOrder, 'placedAt'> & { placedAt: Date }): void {
    this.#update(order.orderId, { ...order, placedAt: order.placedAt.toISOString(), loggedSeq: seq });
  }

  status(orderId: string, status: OrderStatus, attempt: number, message: string | undefined): void {
    this.#update(orderId, { status, attempt, message });
  }

  rejected(orderId: string, error: FeteError): void {
    this.#update(orderId, { rejected: error });
  }

  fulfilled(counts: ReadonlyMap<string, number>): void {
    let changed = false;
    for (const [orderId, times] of counts) {
      const o = this.#byId.get(orderId);
      if (o && o.times !== times) {
        o.times = times;
        changed = true;
      }
    }
    if (changed) this.#changed();
  }

  #update(orderId: string, patch: Partial<OrderView>): void {
    const o = this.#byId.get(orderId) ?? { orderId };
    Object.assign(o, patch);
    this.#byId.set(orderId, o);
    this.#changed();
  }

  #placed(): PlacedOrder[] {
    try {
      const v: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
      return Array.isArray(v) ? (v as PlacedOrder[]) : [];
    } catch {
      return [];
    }
  }
}
