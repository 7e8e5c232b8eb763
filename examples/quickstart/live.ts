// live.ts: topics that skip the log. `volatile`: sent to whoever is connected, stored nowhere.
// `latest`: only the last value per subject is kept; a new subscriber gets it first. A value can
// be cleared, and can expire (`ttlMs`); subscribers holding it are told either way.
import { createClient } from 'fete/client';
import type { Fete } from 'fete/server';
import { defineTopic, defineTopics } from 'fete/shared';
import { z } from 'zod';

export const liveTopics = defineTopics({
  cursor: defineTopic('boards.{boardId}.cursor', {
    kind: 'presentation',
    delivery: 'volatile', // never stored, never replayed: fine to lose while offline
    schema: z.object({ boardId: z.string(), user: z.string(), x: z.number(), y: z.number() }),
  }),
  price: defineTopic('prices.{symbol}', {
    kind: 'presentation',
    delivery: 'latest', // an upsert per (tenant, subject), with a version per subject
    schema: z.object({ symbol: z.string(), price: z.number() }),
  }),
  eta: defineTopic('orders.{orderId}.eta', {
    kind: 'presentation',
    delivery: 'latest',
    ttlMs: 120_000, // stale 2 minutes after the last update: removed, and subscribers told
    schema: z.object({ orderId: z.string(), minutes: z.number() }),
  }),
});

// Server: emitted like any topic; a latest emit resolves with the value's version.
export async function publishPrice(fete: Pick<Fete<typeof liveTopics>, 'emit'>, symbol: string, price: number) {
  const { version } = await fete.emit(liveTopics.price, { symbol, price });
  return version; // 1, 2, 3… per subject
}

// Server: a value that no longer holds is cleared (like an MQTT retained message cleared by an
// empty payload): current subscribers are told, new ones no longer get it.
export async function delist(fete: Pick<Fete<typeof liveTopics>, 'clearLatest'>, symbol: string) {
  const { cleared } = await fete.clearLatest(liveTopics.price, { symbol });
  return cleared; // false when the subject had no value: nothing to do
}

// Browser: the current prices first, then each change once (stale versions are dropped), and
// `onCleared` when a price is gone (reason 'cleared', or 'expired' past a topic's ttlMs; 'gone'
// after a reconnect older than the server keeps removals), in order with the changes; cursors live
// only. After a reconnect a `volatile` gap says which cursors may have been missed (and values
// removed meanwhile are reported through onCleared).
type Board = { price(symbol: string, price: number): void; gone(subject: string, reason: 'cleared' | 'expired' | 'gone'): void; cursor(user: string, x: number, y: number): void; missed(): void };
export function watchBoard(url: string, token: string, show: Board) {
  const client = createClient({ url, topics: liveTopics, auth: () => ({ token }) });
  client.subscribe('prices.*', (ev) => show.price(ev.payload.symbol, ev.payload.price), {
    onCleared: (notice) => show.gone(notice.subject, notice.reason),
  });
  client.subscribe('boards.b1.cursor', (ev) => show.cursor(ev.payload.user, ev.payload.x, ev.payload.y), {
    onGap: (gap) => {
      if (gap.reason === 'volatile') show.missed(); // e.g. hide cursors until they move again
    },
  });
  return client;
}
