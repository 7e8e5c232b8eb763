// The playground's couriers (playground/server/couriers.ts), driven as a visitor would: the server
// moves a courier for an order someone tracks (a presence member on `tracking.<orderId>`).
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../client/index.js';
import { commands, topics, type Topics } from '../../playground/shared/catalog.js';
import { startPlayground, type Playground } from '../../playground/server/app.js';
import { uuidv7 } from '../../shared/index.js';
import { until } from '../realtime/support.js';

const open: Array<Playground | Client<Topics>> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function visitor(p: Playground, name: string): Client<Topics> {
  const c = createClient({ url: p.url, topics, auth: { visitor: name }, indexedDB: new IDBFactory(), name: `db-${uuidv7()}`, locks: null });
  open.push(c);
  return c;
}

describe('playground couriers', () => {
  // Found by probe2: couriers.ts moved a courier for any subject a visitor subscribed to, so a
  // script could make the server emit for every id it invented. Only placed orders move now.
  it('moves the courier of a placed order only, not of an id nobody ordered', async () => {
    const p = await startPlayground({ port: 0, store: 'memory', dev: true, courierEveryMs: 100 });
    open.push(p);
    const alice = visitor(p, 'alice');
    const orderId = `o-${Date.now()}`;
    await alice.execute(commands.placeOrder, { orderId, item: 'tea', quantity: 1, scenario: 'ok', placedAt: new Date() });
    const seen = new Set<string>();
    const mallory = visitor(p, 'mallory');
    const fake = mallory.subscribe(`tracking.nobody-ordered-${Date.now()}` as 'tracking.x', (e) => void seen.add(e.subject));
    const real = alice.subscribe(`tracking.${orderId}` as 'tracking.x', (e) => void seen.add(e.subject));
    await Promise.all([fake.ready, real.ready]);
    // Both are stepped in the same ticks: once the real courier has moved twice, so would a fake one.
    let moves = 0;
    const again = alice.subscribe(`tracking.${orderId}` as 'tracking.x', () => void moves++);
    await until(() => moves >= 2, 'the courier of the placed order to move');
    again.unsubscribe();
    expect([...seen]).toEqual([`tracking.${orderId}`]);
  }, 60_000);
});
