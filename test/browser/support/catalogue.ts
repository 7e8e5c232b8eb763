// The topic catalogue of the browser tests, imported by the test's server and by the page alike
// (the page server maps `zod` and `shared/` to the browser bundle, see page-server.ts), so both
// sides check the same declaration.
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../../shared/index.js';

export const topics = defineTopics({
  /** What a page emits: `n` is the page's emit order within a `run`, `tab` says which page. */
  mark: defineTopic('marks.{run}', {
    kind: 'domain',
    clientEmit: true,
    schema: z.object({ run: z.string(), n: z.number().int(), tab: z.string() }),
  }),
  /** A latest value a page emits: its receipt answers the value's version (live-receipt.test.ts). */
  quote: defineTopic('quotes.{symbol}', {
    kind: 'domain',
    delivery: 'latest',
    clientEmit: true,
    expose: true,
    schema: z.object({ symbol: z.string(), price: z.number() }),
  }),
  /** What the server pushes to subscribed pages. */
  tick: defineTopic('ticks.{n}', { kind: 'presentation', schema: z.object({ n: z.number().int() }) }),
});
export type Topics = typeof topics;
