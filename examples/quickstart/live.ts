// live.ts: topics that skip the log. `volatile`: sent to whoever is connected, stored nowhere.
// `latest`: only the last value per subject is kept; a new subscriber gets it first.
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
});

// Server: emitted like any topic; a latest emit resolves with the value's version.
export async function publishPrice(fete: Pick<Fete<typeof liveTopics>, 'emit'>, symbol: string, price: number) {
  const { version } = await fete.emit(liveTopics.price, { symbol, price });
  return version; // 1, 2, 3… per subject
}

// Browser: the current prices first, then each change once (stale versions are dropped);
// cursors live only. After a reconnect a `volatile` gap says which cursors may have been missed.
export function watchBoard(url: string, token: string, show: { price(symbol: string, price: number): void; cursor(user: string, x: number, y: number): void; missed(): void }) {
  const client = createClient({ url, topics: liveTopics, auth: () => ({ token }) });
  client.subscribe('prices.*', (ev) => show.price(ev.payload.symbol, ev.payload.price));
  client.subscribe('boards.b1.cursor', (ev) => show.cursor(ev.payload.user, ev.payload.x, ev.payload.y), {
    onGap: (gap) => {
      if (gap.reason === 'volatile') show.missed(); // e.g. hide cursors until they move again
    },
  });
  return client;
}
