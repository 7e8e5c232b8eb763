// The catalogue of the realtime tests, in a file of its own so that server processes spawned by
// the tests (fanout-server-child.ts) load it without vitest.
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', {
    kind: 'presentation',
    schema: z.object({ orderId: z.string(), status: z.string() }),
  }),
  // Domain topics that browsers both emit and receive in these tests: exposed explicitly.
  orderPlaced: defineTopic('orders.{orderId}.placed', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({ orderId: z.string(), total: z.number() }),
  }),
  tick: defineTopic('ticks.{n}', { kind: 'presentation', schema: z.object({ n: z.number() }) }),
  // Only its newest 3 events are kept for replay (pruned by fete.prune() in the retention tests).
  pulse: defineTopic('pulses.{n}', { kind: 'presentation', schema: z.object({ n: z.number() }), retention: { maxEvents: 3 } }),
  audit: defineTopic('audit.log', { kind: 'domain', schema: z.object({ msg: z.string() }) }),
  tenantMsg: defineTopic('tenants.{tenant}.msgs.{room}', {
    kind: 'domain',
    clientEmit: true,
    expose: true,
    schema: z.object({ tenant: z.string(), room: z.string(), text: z.string() }),
  }),
});
export type Topics = typeof topics;
