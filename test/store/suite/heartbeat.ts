// Store suite: heartbeats against a store that takes its time to answer. A heartbeat asks about
// the leases held when it starts; work claimed while it is in flight (a real round trip on
// PostgreSQL and on PGlite's worker thread) must not be taken for lost. Found when PGlite moved to
// a worker thread: attempts claimed during a heartbeat were aborted with LEASE_LOST and left
// running until their leases expired, stalling a drain.
import { describe, expect, it } from 'vitest';
import type { Driver } from '../../../server/store/driver.js';
import { openDriver } from '../../../server/store/open-store.js';
import { waitFor } from '../../support/wait.js';
import { FAST_WORKER, type Harness, topics } from './harness.js';

/** The same driver, with every heartbeat statement held back for `ms` before it runs. */
function slowHeartbeats(driver: Driver, ms: number): Driver {
  const query = (async (sql: Parameters<Driver['query']>[0], params?: readonly unknown[]) => {
    if (typeof sql !== 'string' && sql.name.startsWith('fete_heartbeat_')) await new Promise((r) => setTimeout(r, ms));
    return driver.query(sql, params);
  }) as Driver['query'];
  return {
    kind: driver.kind,
    query,
    begin: (o) => driver.begin(o),
    transaction: (fn) => driver.transaction(fn),
    listen: (channel, fn, onReconnect) => driver.listen(channel, fn, onReconnect),
    close: async () => undefined,
  };
}

export function heartbeatTests(h: Harness): void {
  describe('heartbeats', () => {
    it('work claimed while a heartbeat is in flight keeps running: every event is handled once, none retried', async () => {
      const first = await h.open();
      const { driver, owned } = await openDriver(first.db.store);
      try {
        const { fete } = await h.open({ store: { driver: slowHeartbeats(driver, 150) }, worker: { ...FAST_WORKER, heartbeatMs: 50 } }, first.db);
        const runs = new Map<string, number>();
        fete.on(topics.orderPlaced, 'slow', async (p) => {
          await new Promise((r) => setTimeout(r, 5));
          runs.set(p.orderId, (runs.get(p.orderId) ?? 0) + 1);
        }, { concurrency: 4 });
        await fete.emitMany(Array.from({ length: 120 }, (_, i) => ({ topic: topics.orderPlaced, payload: { orderId: `o${i}`, total: i } })));
        await fete.start();
        await waitFor(() => (runs.size === 120 ? true : undefined), { what: 'every event handled', timeoutMs: 60_000 });
        await waitFor(async () => ((await h.backlog(first.db)) === 0 ? true : undefined), { what: 'an empty backlog', timeoutMs: 60_000 });
        expect([...runs.values()].every((n) => n === 1)).toBe(true);
        expect(fete.workerStatus().outcomes).toMatchObject({ completed: 120, retried: 0, dead: 0 });
      } finally {
        if (owned) await driver.close();
      }
    });
  });
}
