// topics.ts: the catalogue, imported by the server AND the browser.
import { defineTopic, defineTopics } from 'fete/shared';
import { z } from 'zod'; // or any Standard Schema library (valibot, arktype…)

export const topics = defineTopics({
  orderCreated: defineTopic('orders.{orderId}.created', {
    kind: 'domain', // a server-owned fact, handled by durable listeners
    clientEmit: true, // browsers may emit it (after auth and authorize.emit)
    schema: z.object({ orderId: z.string(), item: z.string() }),
  }),
  orderStatus: defineTopic('orders.{orderId}.status', {
    kind: 'presentation', // pushed to browsers; only the server emits it
    schema: z.object({ orderId: z.string(), status: z.enum(['paid', 'shipped']) }),
  }),
});
