// Store suite, part 2: durable dispatch. Claims, leases and their rescue, stale tokens, backoff,
// dead letters, timeouts, isolation between listeners, stop.
import { describe, expect, it } from 'vitest';
import { FeteError, isFeteError } from '../../../shared/index.js';
import {
  claimDeliveries,
  completeDeliveries,
  completeDelivery,
  failDelivery,
  heartbeatDeliveries,
  rescueExpired,
} from '../../../server/store/delivery-queries.js';
import { appendEvents, type TakenDelivery } from '../../../server/store/event-queries.js';
import { uuidv7 } from '../../../shared/index.js';
import { gate, waitFor } from '../../support/wait.js';
import { type Harness, type TestStore, topics } from './harness.js';

async function listenerId(db: TestStore, name: string): Promise<number> {
  const [row] = await db.rows<{ id: number }>(`SELECT id FROM ${db.tables.listeners} WHERE name = $1`, [name]);
  return row!.id;
}

async function deliveries(db: TestStore) {
  return db.rows<{ id: number; state: string; attempts: number; last_error: string | null; due_in_ms: number }>(
    `SELECT id::int AS id, state, attempts, last_error, (extract(epoch FROM run_at - now()) * 1000)::float8 AS due_in_ms
     FROM ${db.tables.deliveries} ORDER BY id`,
  );
}

export function dispatchTests(h: Harness): void {
  describe('claim', () => {
    it('each listener gets each event once, in batches, with payload and first attempt', async () => {
      const { fete, db } = await h.open({ worker: { claimBatchSize: 3, pollIntervalMs: 50 } });
      const a: string[] = [];
      const b: string[] = [];
      fete.on(topics.orderPlaced, 'a', (p, ctx) => {
        expect(ctx.attempt).toBe(1);
        expect(p.at).toBeInstanceOf(Date);
        a.push(p.orderId);
      }, { concurrency: 2 });
      fete.on(topics.orderPlaced, 'b', (p) => void b.push(p.orderId), { concurrency: 5 });
      const ids = Array.from({ length: 20 }, (_, i) => `o${i}`);
      await fete.emitMany(ids.map((orderId) => ({ topic: topics.orderPlaced, payload: { orderId, total: 1, at: new Date() } })));
      await fete.start();
      await waitFor(async () => a.length === 20 && b.length === 20 && (await h.backlog(db)) === 0, { what: 'all delivered' });
      expect([...a].sort()).toEqual([...ids].sort());
      expect([...b].sort()).toEqual([...ids].sort());
    });
  });

  describe('local take', () => {
    it('an append can claim the deliveries of chosen listeners and leave the others pending', async () => {
      const { fete, db } = await h.open();
      fete.on(topics.orderPlaced, 'mine', () => undefined);
      fete.on(topics.orderPlaced, 'theirs', () => undefined);
      await fete.emit(topics.audit, { kind: 'warm-up', msg: 'records the listeners' });
      const mine = await listenerId(db, 'mine');
      const taken: TakenDelivery[] = [];
      const envelope = { id: uuidv7(), topic: topics.orderPlaced.name, subject: 'orders.o1.placed', time: new Date().toISOString(), headers: {}, payload: { orderId: 'o1', total: 1, at: new Date(0) }, context: {} };
      const [r] = await appendEvents(db.q, db.tables, [envelope], { listenerIds: [mine], leaseMs: 60_000 }, taken);
      expect(taken).toHaveLength(1);
      expect(taken[0]).toMatchObject({ listenerId: mine, envelope: { seq: r!.seq, payload: { orderId: 'o1', total: 1, at: new Date(0) } } });
      const rows = await db.rows<{ name: string; state: string; attempts: number; leased: boolean }>(
        `SELECT l.name, d.state, d.attempts, coalesce(d.lease_until > now(), false) AS leased FROM ${db.tables.deliveries} d
         JOIN ${db.tables.listeners} l ON l.id = d.listener_id ORDER BY l.name`,
      );
      expect(rows).toEqual([
        { name: 'mine', state: 'running', attempts: 1, leased: true },
        { name: 'theirs', state: 'pending', attempts: 0, leased: false },
      ]);
      expect([...(await completeDeliveries(db.q, db.tables, taken))]).toEqual([taken[0]!.id]);
    });

    it('a single emit to a listener idle in this process runs once and completes', async () => {
      const { fete, db } = await h.open({ worker: { ...{ leaseMs: 2000, heartbeatMs: 200, rescueIntervalMs: 50 }, pollIntervalMs: 60_000 } });
      const runs: number[] = [];
      fete.on(topics.orderPlaced, 'idle', (_p, ctx) => void runs.push(ctx.attempt));
      await fete.start();
      for (let i = 0; i < 5; i++) {
        await fete.emit(topics.orderPlaced, { orderId: `o${i}`, total: 1 });
        await waitFor(() => runs.length === i + 1, { what: `event ${i} handled` });
      }
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'completed' });
      expect(runs).toEqual([1, 1, 1, 1, 1]);
    });
  });

  describe('leases', () => {
    it('a lease that expires is rescued and run by another worker', async () => {
      const { fete, db } = await h.open({ worker: { leaseMs: 5000, heartbeatMs: 1000, rescueIntervalMs: 20, pollIntervalMs: 20 } });
      const attempts: number[] = [];
      fete.on(topics.orderPlaced, 'rescued', (_p, ctx) => void attempts.push(ctx.attempt));
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      // A worker claims with a short lease and dies without a word.
      const [dead] = await claimDeliveries(db.q, db.tables, await listenerId(db, 'rescued'), 10, 100);
      expect(dead!.attempt).toBe(1);
      await fete.start();
      await waitFor(() => attempts.length === 1, { what: 'rescued delivery run' });
      expect(attempts).toEqual([2]);
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'completed' });
    });

    it('completion, failure and heartbeat with a stale lease token are refused', async () => {
      const { fete, db } = await h.open();
      fete.on(topics.orderPlaced, 'stale', () => undefined);
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      const lid = await listenerId(db, 'stale');
      const [first] = await claimDeliveries(db.q, db.tables, lid, 1, 1);
      await waitFor(async () => (await rescueExpired(db.q, db.tables, 10)).length === 1, { what: 'lease expired and rescued' });
      const [second] = await claimDeliveries(db.q, db.tables, lid, 1, 60_000);
      expect(second!.id).toBe(first!.id);
      expect(second!.token).not.toBe(first!.token);
      expect(second!.attempt).toBe(2);

      expect((await completeDeliveries(db.q, db.tables, [first!])).size).toBe(0);
      expect(await completeDelivery(db.q, db.tables, first!)).toBe(false);
      expect(await failDelivery(db.q, db.tables, first!, { dead: true, delayMs: 0, error: 'stale' })).toBe(false);
      expect((await heartbeatDeliveries(db.q, db.tables, [first!], 60_000)).size).toBe(0);
      expect((await deliveries(db))[0]).toMatchObject({ state: 'running', attempts: 2 });

      expect([...(await completeDeliveries(db.q, db.tables, [second!]))]).toEqual([second!.id]);
      expect(await deliveries(db)).toEqual([]);
    });

    it('a delivery whose attempts were used up by crashed workers goes dead without running', async () => {
      const { fete, db } = await h.open({ worker: { leaseMs: 5000, heartbeatMs: 1000, rescueIntervalMs: 20, pollIntervalMs: 20 } });
      let ran = 0;
      fete.on(topics.orderPlaced, 'poison', () => void ran++, { retries: 0 });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await claimDeliveries(db.q, db.tables, await listenerId(db, 'poison'), 1, 1);
      await fete.start();
      await waitFor(async () => (await fete.deadLetters()).length === 1, { what: 'dead letter' });
      expect(ran).toBe(0);
      expect((await fete.deadLetters())[0]!.lastError).toMatch(/attempts used up/);
    });
  });

  describe('failures', () => {
    it('failed attempts wait on an exponential backoff schedule, then go dead', async () => {
      const { fete, db } = await h.open({ random: () => 0 });
      let calls = 0;
      fete.on(topics.orderPlaced, 'flaky', () => {
        calls++;
        throw new Error(`nope ${calls}`);
      }, { retries: 2, backoff: { initialMs: 60_000, factor: 2, jitter: 0.5 } });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      const expected = [60_000, 120_000];
      for (const [i, delay] of expected.entries()) {
        const [row] = await waitFor(async () => {
          const rows = await deliveries(db);
          return rows[0]?.state === 'pending' && rows[0].attempts === i + 1 ? rows : undefined;
        }, { what: `attempt ${i + 1} recorded` });
        expect(row!.last_error).toContain(`nope ${i + 1}`);
        // random() = 0 takes no jitter off: due exactly `delay` after the failure was recorded.
        expect(row!.due_in_ms).toBeLessThanOrEqual(delay);
        expect(row!.due_in_ms).toBeGreaterThan(delay - 30_000);
        await db.q.query(`UPDATE ${db.tables.deliveries} SET run_at = now()`);
      }
      const [dead] = await waitFor(async () => {
        const rows = await deliveries(db);
        return rows[0]?.state === 'dead' ? rows : undefined;
      }, { what: 'dead after the last attempt' });
      expect(dead).toMatchObject({ attempts: 3 });
      expect(calls).toBe(3);
    });

    it('a dead letter is listed, counted, and runs again with fresh attempts after retry', async () => {
      const { fete, db } = await h.open();
      let healthy = false;
      const attempts: Array<[number, boolean]> = [];
      fete.on(topics.orderPlaced, 'mailer', (_p, ctx) => {
        attempts.push([ctx.attempt, healthy]);
        if (!healthy) throw new Error('smtp down');
      }, { retries: 1, backoff: { initialMs: 1, jitter: 0 } });
      const emitted = await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      const [dl] = await waitFor(async () => {
        const list = await fete.deadLetters();
        return list.length === 1 ? list : undefined;
      }, { what: 'dead letter' });
      expect(dl).toMatchObject({ attempts: 2, listener: { target: 'orders.{orderId}.placed', name: 'mailer' } });
      expect(dl!.lastError).toContain('smtp down');
      expect(dl!.envelope).toMatchObject({ id: emitted.id, seq: emitted.seq, payload: { orderId: 'o1', total: 1 } });
      const stats = await fete.stats();
      expect(stats.listeners.find((l) => l.name === 'mailer')).toMatchObject({ dead: 1, pending: 0, running: 0 });
      expect(stats.topics.find((t) => t.topic === 'orders.{orderId}.placed')).toMatchObject({ dead: 1 });

      healthy = true;
      await fete.retry(dl!.id);
      await waitFor(async () => (await h.backlog(db)) === 0 && attempts.length === 3, { what: 'retried delivery done' });
      expect(attempts).toEqual([[1, false], [2, false], [1, true]]);
      expect(await fete.deadLetters()).toEqual([]);
      await expect(fete.retry(dl!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('a timeout aborts ctx.signal with TIMEOUT and counts as a failed attempt', async () => {
      const { fete } = await h.open();
      const reasons: unknown[] = [];
      fete.on(topics.orderPlaced, 'slow', (_p, ctx) => new Promise<void>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          reasons.push(ctx.signal.reason);
          resolve();
        });
      }), { timeoutMs: 50, retries: 0 });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      const [dl] = await waitFor(async () => {
        const list = await fete.deadLetters();
        return list.length === 1 ? list : undefined;
      }, { what: 'timed out delivery dead' });
      expect(isFeteError(reasons[0], 'TIMEOUT')).toBe(true);
      expect(dl!.lastError).toMatch(/timed out after 50 ms/);
    });

    it('one listener failing never re-runs another listener of the same event', async () => {
      const { fete, db } = await h.open();
      let good = 0;
      let bad = 0;
      fete.on(topics.orderPlaced, 'good', () => void good++);
      fete.on(topics.orderPlaced, 'bad', () => {
        bad++;
        return Promise.reject(new Error('always'));
      }, { retries: 3, backoff: { initialMs: 1, jitter: 0 } });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      await waitFor(async () => (await fete.deadLetters()).length === 1 && (await h.backlog(db)) === 0, { what: 'bad dead, good done' });
      expect(bad).toBe(4);
      expect(good).toBe(1);
    });
  });

  describe('stop', () => {
    it('stop({ drain: true }) lets running attempts finish and releases claimed work not started', async () => {
      const { fete, db } = await h.open();
      const entered = gate();
      const release = gate();
      const done: string[] = [];
      fete.on(topics.orderPlaced, 'one-at-a-time', async (p) => {
        entered.open();
        await release.promise;
        done.push(p.orderId);
      }, { concurrency: 1, prefetch: 4 });
      await fete.emitMany(['a', 'b', 'c'].map((orderId) => ({ topic: topics.orderPlaced, payload: { orderId, total: 1 } })));
      await fete.start();
      await entered.promise;
      let stopped = false;
      const stopping = fete.stop({ drain: true }).then(() => (stopped = true));
      await new Promise((r) => setTimeout(r, 20));
      expect(stopped).toBe(false);
      release.open();
      await stopping;
      expect(done).toEqual(['a']);
      const rows = await deliveries(db);
      expect(rows.map((r) => [r.state, r.attempts])).toEqual([['pending', 0], ['pending', 0]]);
    });

    it('stop({ drain: false }) aborts running attempts with CLOSED and gives their deliveries back', async () => {
      const { fete, db } = await h.open();
      const entered = gate();
      const reasons: unknown[] = [];
      fete.on(topics.orderPlaced, 'stuck', (_p, ctx) => {
        entered.open();
        return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => {
          reasons.push(ctx.signal.reason);
          resolve();
        }));
      });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      await entered.promise;
      await fete.stop({ drain: false });
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toBeInstanceOf(FeteError);
      expect((reasons[0] as FeteError).code).toBe('CLOSED');
      expect((await deliveries(db)).map((r) => [r.state, r.attempts])).toEqual([['pending', 0]]);
      await expect(fete.emit(topics.orderPlaced, { orderId: 'late', total: 1 })).rejects.toMatchObject({ code: 'CLOSED' });
    });
  });
}
