// The playground's commands and queries: `orders.place` numbers an order, records it and emits
// `orders.{orderId}.created` in one transaction (the fulfilment listener takes it from there);
// `orders.list` reads the orders back with their fulfilment counts, for the orders panel.
import type { Fete } from 'fete/server';
import { commands, type ListedOrder, type Topics } from '../shared/catalog.js';
import { FULFILMENTS } from './fulfilment.js';

const ORDERS = 'playground_orders';

/** Whether an order with this id was placed (the couriers move only those). */
export async function orderPlaced(fete: Fete<Topics>, orderId: string): Promise<boolean> {
  return fete.transaction(async (tx) => (await tx.query(`SELECT 1 FROM ${ORDERS} WHERE order_id = $1`, [orderId])).rows.length > 0);
}

export async function createOrdersTable(fete: Fete<Topics>): Promise<void> {
  await fete.transaction(async (tx) => {
    await tx.query(`CREATE TABLE IF NOT EXISTS ${ORDERS} (
      order_id text PRIMARY KEY,
      number serial UNIQUE,
      item text NOT NULL,
      quantity int NOT NULL,
      scenario text NOT NULL,
      placed_at timestamptz NOT NULL
    )`);
  });
}

export function registerOrders(fete: Fete<Topics>): void {
  fete.handle(commands.placeOrder, async (order, ctx) => {
    // The order id is the browser's: placing it twice (a second command id for the same order)
    // answers the number it already has and emits nothing new.
    const inserted = await ctx.tx.query<{ number: number }>(
      `INSERT INTO ${ORDERS} (order_id, item, quantity, scenario, placed_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (order_id) DO NOTHING RETURNING number`,
      [order.orderId, order.item, order.quantity, order.scenario, order.placedAt],
    );
    const fresh = inserted.rows[0];
    if (fresh) {
      await ctx.emit(fete.topics.orderCreated, { ...order, number: fresh.number });
      return { orderId: order.orderId, number: fresh.number };
    }
    const existing = await ctx.tx.query<{ number: number }>(`SELECT number FROM ${ORDERS} WHERE order_id = $1`, [order.orderId]);
    return { orderId: order.orderId, number: existing.rows[0]!.number };
  });

  fete.handle(commands.listOrders, async ({ limit }, ctx) => {
    const res = await ctx.tx.query<{
      order_id: string;
      number: number;
      item: string;
      quantity: number;
      scenario: ListedOrder['scenario'];
      placed_at: Date | string;
      times: number | string;
    }>(
      `SELECT o.order_id, o.number, o.item, o.quantity, o.scenario, o.placed_at,
              (SELECT count(*) FROM ${FULFILMENTS} f WHERE f.order_id = o.order_id) AS times
       FROM ${ORDERS} o ORDER BY o.number DESC LIMIT $1`,
      [limit],
    );
    return res.rows.map((r) => ({
      orderId: r.order_id,
      number: r.number,
      item: r.item,
      quantity: r.quantity,
      scenario: r.scenario,
      placedAt: new Date(r.placed_at),
      times: Number(r.times),
    }));
  });
}
