// The README's volatile and latest-value example (examples/quickstart/live.ts), run as written: a
// fete serves it, the page gets the current price first and then the change, cursors live, and a
// reconnect reports the cursors it may have missed; a delisted price is gone for the page.
import 'fake-indexeddb/auto';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import type { FanoutHandle } from '../../server/fanout/types.js';
import { delist, liveTopics, publishPrice, watchBoard } from '../../examples/quickstart/live.js';
import { waitFor } from '../support/wait.js';
import { closeHttp, listen } from '../support/http-server.js';

describe('examples/quickstart/live.ts', () => {
  let fete: Fete<typeof liveTopics, 'inline'>;
  let fanout: FanoutHandle;
  let http: ReturnType<typeof createServer>;
  let base: string;
  beforeAll(async () => {
    fete = await createFete({ topics: liveTopics, dispatch: 'inline', security: { auth: ({ credentials }) => (credentials.token === 't' ? { id: 'u' } : undefined) } });
    http = createServer();
    fanout = fete.attach(http);
    base = await listen(http);
  });
  afterAll(async () => {
    await fete.stop();
    await closeHttp(http);
  });

  it('the page gets the current price first, then changes once; cursors live; a reconnect says cursors were missed; a cleared price is gone', async () => {
    expect(await publishPrice(fete, 'ACME', 10)).toBe(1);
    expect(await publishPrice(fete, 'ACME', 11)).toBe(2);
    const prices: Array<[string, number]> = [];
    const cursors: Array<[string, number, number]> = [];
    let missed = 0;
    const gone: Array<[string, string]> = [];
    const client = watchBoard(base, 't', {
      price: (symbol, price) => void prices.push([symbol, price]),
      gone: (subject, reason) => void gone.push([subject, reason]),
      cursor: (user, x, y) => void cursors.push([user, x, y]),
      missed: () => void missed++,
    });
    try {
      await waitFor(() => prices.length === 1, { what: 'the current price' });
      await waitFor(() => client.status.connected, { what: 'connected' });
      // Both subscriptions are acknowledged once a volatile event sent now reaches the page.
      await waitFor(
        async () => {
          await fete.emit(liveTopics.cursor, { boardId: 'b1', user: 'ann', x: 1, y: 2 });
          return cursors.length > 0;
        },
        { what: 'a cursor' },
      );
      await publishPrice(fete, 'ACME', 12);
      await waitFor(() => prices.length === 2, { what: 'the change' });
      expect(prices).toEqual([
        ['ACME', 11],
        ['ACME', 12],
      ]);
      expect(cursors[0]).toEqual(['ann', 1, 2]);
      fanout.io.of('/fete').disconnectSockets(true);
      await waitFor(() => missed === 1, { what: 'the volatile gap' });
      expect(prices).toHaveLength(2); // the values it has are not handed over again
      // A delisted price is gone for the page, once; a second delist does nothing.
      expect(await delist(fete, 'ACME')).toBe(true);
      await waitFor(() => gone.length === 1, { what: 'the removal' });
      expect(gone).toEqual([['prices.ACME', 'cleared']]);
      expect(await delist(fete, 'ACME')).toBe(false);
      expect(await fete.latest('prices.*')).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
