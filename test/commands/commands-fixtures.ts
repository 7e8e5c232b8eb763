// Declarations shared by the socket, HTTP and browser command tests (a file of its own, so a page
// bundle and a server process can import it without vitest).
import { z } from 'zod';
import { defineCommand, defineCommands, defineQuery } from '../../shared/index.js';

export const commands = defineCommands({
  place: defineCommand('orders.place', {
    input: z.object({ sku: z.string().min(1), qty: z.number().int().positive() }),
    output: z.object({ orderId: z.string(), number: z.number(), at: z.date() }),
    reasons: ['OUT_OF_STOCK'],
  }),
  list: defineQuery('orders.list', {
    input: z.object({ sku: z.string().optional() }),
    output: z.array(z.object({ orderId: z.string(), sku: z.string() })),
  }),
  noop: defineCommand('bench.noop', { input: z.object({ n: z.number() }), output: z.object({ n: z.number() }) }),
});
