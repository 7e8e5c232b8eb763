// The playground's catalogue of topics, commands and queries, imported by the server
// (playground/server) and the browser (playground/src) alike: every emit, listener, subscription,
// command and query signature is derived from it.
import { defineCommand, defineCommands, defineQuery, defineTopic, defineTopics } from 'fete/shared';
import { z } from 'zod';

/** How the fulfilment listener treats an order, so the demo can show retries and dead letters. */
export const SCENARIOS = ['ok', 'flaky', 'poison'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const ORDER_STATUSES = ['processing', 'retrying', 'confirmed', 'dead-lettered'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order as the customer placed it; the browser makes the id (so an order queued offline has
 * one before the server hears of it), the server gives it its number. */
const order = z.object({
  orderId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, - and _ only'),
  item: z.string().trim().min(1).max(60),
  quantity: z.number().int().min(1).max(99),
  scenario: z.enum(SCENARIOS),
  placedAt: z.date(),
});

export const topics = defineTopics({
  /** A customer placed an order: emitted by the `orders.place` command when it commits, handled
   * durably. Exposed: the page shows the orders back (the demo has one anonymous user; a
   * multi-user app would give `tenant` so that each sees only its own). */
  orderCreated: defineTopic('orders.{orderId}.created', {
    kind: 'domain',
    expose: true,
    schema: order.extend({ number: z.number().int().min(1) }),
  }),
  /** Progress of an order, pushed to browsers: output only, never accepted from a client. */
  orderStatus: defineTopic('orders.{orderId}.status', {
    kind: 'presentation',
    schema: z.object({
      orderId: z.string(),
      status: z.enum(ORDER_STATUSES),
      attempt: z.number().int().min(1),
      message: z.string().optional(),
    }),
  }),
  /** Where an order's courier is. `latest`: only the newest position is kept, so a tab that starts
   * tracking the order gets it at once; the server moves it every few seconds while someone
   * tracks the order, clears it when the courier arrives, and a position not updated for 30 s
   * expires (`ttlMs`). `presence`: the tabs subscribed to one order's subject are listed, so the
   * panel shows who is looking at this order. */
  courier: defineTopic('tracking.{orderId}', {
    kind: 'presentation',
    delivery: 'latest',
    ttlMs: 30_000,
    presence: true,
    schema: z.object({
      orderId: z.string(),
      stop: z.number().int().min(0),
      stops: z.number().int().min(1),
      etaMinutes: z.number().int().min(0),
    }),
  }),
});

export type Topics = typeof topics;

/** A playground visitor's name as others see it in presence: letters, digits, space, - and _. */
export const VISITOR_NAME = /^[A-Za-z0-9 _-]{1,40}$/;

/** An order as the `orders.list` query returns it: the server's record, with how many times the
 * fulfilment listener processed it (1: exactly once). */
const listedOrder = z.object({
  orderId: z.string(),
  number: z.number().int(),
  item: z.string(),
  quantity: z.number().int(),
  scenario: z.enum(SCENARIOS),
  placedAt: z.date(),
  times: z.number().int(),
});
export type ListedOrder = z.infer<typeof listedOrder>;

export const commands = defineCommands({
  /** Places an order and answers its number. Runs once per command id: a retry after a lost
   * connection, or the outbox sending a command queued offline, gets the first answer. */
  placeOrder: defineCommand('orders.place', {
    input: order,
    output: z.object({ orderId: z.string(), number: z.number().int() }),
  }),
  /** The newest orders, newest first (the orders panel; refreshed when order events arrive). */
  listOrders: defineQuery('orders.list', {
    input: z.object({ limit: z.number().int().min(1).max(200) }),
    output: z.array(listedOrder),
  }),
});
