// The playground's topic catalogue, imported by the server (playground/server) and the browser
// (playground/src) alike: every emit, listener and subscription signature is derived from it.
import { defineTopic, defineTopics } from 'fete/shared';
import { z } from 'zod';

/** How the fulfilment listener treats an order, so the demo can show retries and dead letters. */
export const SCENARIOS = ['ok', 'flaky', 'poison'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const ORDER_STATUSES = ['processing', 'retrying', 'confirmed', 'dead-lettered'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const topics = defineTopics({
  /** A customer placed an order: emitted by the browser (through its outbox), handled durably.
   * Exposed: the page shows the orders back (the demo has one anonymous user; a multi-user app
   * would give `tenant` so that each sees only its own). */
  orderCreated: defineTopic('orders.{orderId}.created', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({
      orderId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, - and _ only'),
      item: z.string().trim().min(1).max(60),
      quantity: z.number().int().min(1).max(99),
      scenario: z.enum(SCENARIOS),
      placedAt: z.date(),
    }),
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
});

export type Topics = typeof topics;
