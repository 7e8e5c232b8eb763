// The catalogue of the volatile and latest-value tests (a file of its own so that a child process
// can load it without vitest).
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';

export const liveTopics = defineTopics({
  // Live only: where a cursor is right now.
  cursor: defineTopic('rooms.{room}.cursor', { kind: 'presentation', delivery: 'volatile', schema: z.object({ room: z.string(), x: z.number() }) }),
  // The last value per subject: a stock price.
  price: defineTopic('prices.{symbol}', { kind: 'presentation', delivery: 'latest', schema: z.object({ symbol: z.string(), price: z.number() }) }),
  // Browsers may emit it: a typing indicator.
  typing: defineTopic('rooms.{room}.typing', { kind: 'domain', delivery: 'volatile', clientEmit: true, expose: true, schema: z.object({ room: z.string(), who: z.string() }) }),
  // Never leaves the server (not exposed), though its subjects match the same patterns.
  secretPrice: defineTopic('prices.{symbol}.cost', { kind: 'domain', delivery: 'latest', schema: z.object({ symbol: z.string(), cost: z.number() }) }),
  secretPing: defineTopic('rooms.{room}.ping', { kind: 'domain', delivery: 'volatile', schema: z.object({ room: z.string() }) }),
  // A log topic beside them.
  chat: defineTopic('rooms.{room}.chat', { kind: 'presentation', schema: z.object({ room: z.string(), text: z.string() }) }),
});
export type LiveTopics = typeof liveTopics;
