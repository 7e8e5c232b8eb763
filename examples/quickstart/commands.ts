// commands.ts: a typed request with exactly one owner. The handler's SQL and its emits commit
// together, once per command id; a query only reads.
import { createClient } from 'fete/client';
import type { Fete } from 'fete/server';
import { defineCommand, defineCommands, defineQuery, defineTopic, defineTopics, isFeteError } from 'fete/shared';
import { z } from 'zod';

export const cartTopics = defineTopics({
  checkedOut: defineTopic('carts.{cartId}.checked-out', { kind: 'presentation', schema: z.object({ cartId: z.string(), total: z.number() }) }),
});

export const cartCommands = defineCommands({
  checkout: defineCommand('carts.checkout', {
    input: z.object({ cartId: z.string(), items: z.array(z.object({ sku: z.string(), cents: z.number().int().positive() })) }),
    output: z.object({ total: z.number() }),
    reasons: ['EMPTY_CART'], // the refusals callers can handle, typed
  }),
  total: defineQuery('carts.total', { input: z.object({ cartId: z.string() }), output: z.number().nullable() }),
});

// Server: the one owner of each (a second `handle` of the same name throws CONFLICT).
export async function serveCarts(fete: Fete<typeof cartTopics>): Promise<void> {
  await fete.transaction((tx) => tx.query('CREATE TABLE IF NOT EXISTS carts (cart_id text PRIMARY KEY, total int NOT NULL)'));
  fete.handle(cartCommands.checkout, async ({ cartId, items }, ctx) => {
    if (items.length === 0) ctx.reject('EMPTY_CART', 'add something first'); // rolls back, answers REJECTED
    const total = items.reduce((sum, item) => sum + item.cents, 0);
    await ctx.tx.query('INSERT INTO carts (cart_id, total) VALUES ($1, $2)', [cartId, total]);
    await ctx.emit(cartTopics.checkedOut, { cartId, total }); // commits with the row, or not at all
    return { total };
  });
  fete.handle(cartCommands.total, async ({ cartId }, ctx) => {
    const res = await ctx.tx.query<{ total: number }>('SELECT total FROM carts WHERE cart_id = $1', [cartId]);
    return res.rows[0]?.total ?? null;
  });
}

// Browser: typed calls. Sending the same id again (a retry after a lost answer) runs nothing twice
// and answers the first result; `{ queue: true }` would keep the command in the outbox offline.
export async function checkout(url: string, token: string, cartId: string, cents: number[]) {
  const client = createClient({ url, topics: cartTopics, auth: () => ({ token }) });
  try {
    const id = crypto.randomUUID();
    const items = cents.map((c, i) => ({ sku: `sku-${i}`, cents: c }));
    const first = await client.execute(cartCommands.checkout, { cartId, items }, { id });
    const again = await client.execute(cartCommands.checkout, { cartId, items }, { id });
    const stored = await client.query(cartCommands.total, { cartId });
    return { first, again, stored };
  } catch (err) {
    if (isFeteError(err, 'REJECTED')) return { refused: err.details?.reason }; // 'EMPTY_CART'
    throw err;
  } finally {
    await client.close();
  }
}
