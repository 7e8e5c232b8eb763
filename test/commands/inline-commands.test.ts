// Commands under `dispatch: 'inline'` (no store): the same contract with the in-memory ledger —
// one run per command id (concurrent duplicates wait for the first), rejections recorded, throws
// not, emits dispatched only after the handler returns.
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { uuidv7 } from '../../shared/index.js';
import { topics } from '../store/suite/harness.js';
import { placeOrder } from './commands-suite.js';
import { waitFor } from '../support/wait.js';

describe('commands with dispatch: inline', () => {
  it('run once per id, answer duplicates with the first result, and emit only on success', async () => {
    const fete = await createFete({ topics, dispatch: 'inline' });
    try {
      const seen: string[] = [];
      fete.on(topics.orderPlaced, 'count', (p) => void seen.push(p.orderId));
      let calls = 0;
      fete.handle(placeOrder, async (input, ctx) => {
        calls++;
        await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: input.qty });
        if (input.sku === 'none') return ctx.reject('OUT_OF_STOCK');
        if (input.sku === 'boom') throw new Error('boom');
        await new Promise((r) => setTimeout(r, 20));
        return { orderId: ctx.id, number: calls };
      });
      const id = uuidv7();
      const all = await Promise.all([1, 2, 3].map(() => fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })));
      expect(all).toEqual([all[0], all[0], all[0]]);
      expect(calls).toBe(1);
      await expect(fete.execute(placeOrder, { sku: 'none', qty: 1 })).rejects.toMatchObject({ code: 'REJECTED' });
      await expect(fete.execute(placeOrder, { sku: 'boom', qty: 1 })).rejects.toMatchObject({ code: 'INTERNAL' });
      await waitFor(() => seen.length > 0, { what: 'the event of the successful command' });
      expect(seen).toEqual([id]);
      // A failed (unrecorded) id runs again.
      const failed = uuidv7();
      await fete.execute(placeOrder, { sku: 'boom', qty: 1 }, { id: failed }).catch(() => undefined);
      const before = calls;
      await fete.execute(placeOrder, { sku: 'boom', qty: 1 }, { id: failed }).catch(() => undefined);
      expect(calls).toBe(before + 1);
    } finally {
      await fete.stop();
    }
  });
});
