// The commands of the browser command test, imported by the test's server and by its page alike.
import { z } from 'zod';
import { defineCommand, defineCommands } from '../../../shared/index.js';

export const commands = defineCommands({
  place: defineCommand('orders.place', {
    input: z.object({ sku: z.string() }),
    output: z.object({ number: z.number(), at: z.date() }),
  }),
});
