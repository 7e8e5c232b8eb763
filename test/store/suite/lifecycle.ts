// Store suite, part 5: listener lifecycle. Heartbeats and orphans (stats, health backlog,
// retention), fete.off, fete.listeners.retire, and a renamed listener taking over with `replaces`.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../../shared/index.js';
import { createFete } from '../../../server/index.js';
import { totalBacklog } from '../../../server/http/health-route.js';
import { waitFor } from '../../support/wait.js';
import { FAST_WORKER, type Harness, type TestStore, topics } from './harness.js';

// Generous against a loaded machine: a heartbeat late by more than orphanAfterMs would orphan a live listener.
const LIFECYCLE = { heartbeatMs: 50, orphanAfterMs: 1500 } as const;

async function deliveryStates(db: TestStore, name: string): Promise<string[]> {
  const rows = await db.rows<{ state: string }>(
    `SELECT d.state FROM ${db.tables.deliveries} d JOIN ${db.tables.listeners} l ON l.id = d.listener_id WHERE l.name = $1 ORDER BY d.id`,
    [name],
  );
  return rows.map((r) => r.state);
}

export function lifecycleTests(h: Harness): void {
  describe('listener lifecycle', () => {
    it('a listener no process vouches for is orphaned in stats and left out of the health backlog; registering it again revives it', async () => {
      const { fete, db } = await h.open({ listeners: LIFECYCLE });
      fete.on(topics.orderPlaced, 'renamed-away', () => undefined);
      fete.on(topics.orderPlaced, 'kept', () => undefined);
      for (let i = 0; i < 3; i++) await fete.emit(topics.orderPlaced, { orderId: `o${i}`, total: 1 });
      const find = async (name: string) => (await fete.stats()).listeners.find((l) => l.name === name)!;
      expect(await find('renamed-away')).toMatchObject({ orphaned: false, retired: false, pending: 3 });
      // Another process (a second fete on the same store) keeps vouching for 'kept' only.
      expect(await fete.off(topics.orderPlaced, 'renamed-away')).toBe(true);
      expect(await fete.off(topics.orderPlaced, 'renamed-away')).toBe(false);
      await waitFor(async () => (await find('renamed-away')).orphaned, { what: 'orphaned' });
      const stats = await fete.stats();
      expect(stats.listeners.find((l) => l.name === 'kept')).toMatchObject({ orphaned: false, pending: 3 });
      expect(totalBacklog(stats).pending).toBe(3);
      const other = await h.open({ listeners: LIFECYCLE }, db);
      other.fete.on(topics.orderPlaced, 'renamed-away', () => undefined);
      await other.fete.emit(topics.audit, { kind: 'x', msg: 'records the listener' });
      expect(await find('renamed-away')).toMatchObject({ orphaned: false, pending: 3 });
    });

    it('fete.off stops a listener in this process: new deliveries wait in the store, the handler runs no more', async () => {
      const { fete, db } = await h.open();
      const seen: string[] = [];
      fete.on(topics.orderPlaced, 'stoppable', (p) => void seen.push(p.orderId));
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'before', total: 1 });
      await waitFor(() => seen.length === 1, { what: 'first delivery' });
      await fete.off(topics.orderPlaced, 'stoppable');
      await fete.emit(topics.orderPlaced, { orderId: 'after', total: 1 });
      await fete.waitIdle({ timeoutMs: 300 }).catch(() => undefined);
      expect(seen).toEqual(['before']);
      expect(await deliveryStates(db, 'stoppable')).toEqual(['pending']);
    });

    it('retire removes pending deliveries and keeps dead letters for inspection; dropDead removes those and the listener', async () => {
      const { fete, db } = await h.open();
      fete.on(topics.orderPlaced, 'old', () => undefined);
      for (let i = 0; i < 3; i++) await fete.emit(topics.orderPlaced, { orderId: `o${i}`, total: 1 });
      await db.q.query(`UPDATE ${db.tables.deliveries} SET state = 'dead', last_error = 'x' WHERE id = (SELECT min(id) FROM ${db.tables.deliveries})`);
      expect(await fete.listeners.retire('old')).toEqual({ listeners: 1, removed: 2, dead: 1 });
      expect(await deliveryStates(db, 'old')).toEqual(['dead']);
      expect((await fete.stats()).listeners.find((l) => l.name === 'old')).toMatchObject({ retired: true, orphaned: false, dead: 1, pending: 0 });
      expect(await fete.deadLetters({ listener: 'old' })).toHaveLength(1);
      // Retired: appends make no more deliveries for it.
      await fete.emit(topics.orderPlaced, { orderId: 'later', total: 1 });
      expect(await deliveryStates(db, 'old')).toEqual(['dead']);
      expect(await fete.listeners.retire('old', { dropDead: true })).toEqual({ listeners: 1, removed: 0, dead: 1 });
      expect(await db.rows(`SELECT 1 FROM ${db.tables.listeners} WHERE name = 'old'`)).toEqual([]);
      expect(await fete.listeners.retire('never-was')).toEqual({ listeners: 0, removed: 0, dead: 0 });
    });

    it('a renamed listener takes over the backlog of the one it replaces, once, and the old one is retired', async () => {
      const { fete, db } = await h.open();
      fete.on(topics.orderPlaced, 'v1', () => undefined);
      for (let i = 0; i < 4; i++) await fete.emit(topics.orderPlaced, { orderId: `o${i}`, total: 1 });
      await fete.off(topics.orderPlaced, 'v1');
      const next = await h.open({}, db);
      const seen: string[] = [];
      next.fete.on(topics.orderPlaced, 'v2', (p) => void seen.push(p.orderId), { replaces: 'v1' });
      await next.fete.start();
      await next.fete.emit(topics.orderPlaced, { orderId: 'new', total: 1 });
      await next.fete.waitIdle();
      expect([...seen].sort()).toEqual(['new', 'o0', 'o1', 'o2', 'o3']);
      expect(await deliveryStates(db, 'v1')).toEqual([]);
      expect((await next.fete.stats()).listeners.find((l) => l.name === 'v1')).toMatchObject({ retired: true, pending: 0 });
    });

    it('an orphaned listener does not pin retention (its deliveries go with the events); orphanRetention pin keeps them', async () => {
      const catalogue = defineTopics({
        latest: defineTopic('latest.{n}', { kind: 'domain', schema: z.object({ n: z.number() }), retention: { maxEvents: 1 } }),
      });
      for (const policy of ['release', 'pin'] as const) {
        const db = h.engine.fresh();
        const fete = await createFete({
          topics: catalogue,
          store: db.store,
          schema: db.schema,
          worker: FAST_WORKER,
          retention: { intervalMs: 0, graceMs: 0 },
          listeners: { ...LIFECYCLE, orphanRetention: policy },
        });
        try {
          fete.on(catalogue.latest, 'gone', () => undefined);
          for (let n = 0; n < 5; n++) await fete.emit(catalogue.latest, { n });
          await fete.prune();
          expect(await db.rows(`SELECT seq FROM ${db.tables.events}`)).toHaveLength(5); // owed to a live listener
          await fete.off(catalogue.latest, 'gone');
          await waitFor(async () => (await fete.stats()).listeners[0]!.orphaned, { what: 'orphaned' });
          await fete.prune();
          const events = await db.rows(`SELECT seq FROM ${db.tables.events}`);
          const owed = await db.rows(`SELECT id FROM ${db.tables.deliveries}`);
          if (policy === 'release') {
            expect(events).toHaveLength(1);
            expect(owed).toHaveLength(1);
          } else {
            expect(events).toHaveLength(5);
            expect(owed).toHaveLength(5);
          }
        } finally {
          await fete.stop({ drain: false });
        }
      }
    });
  });
}
