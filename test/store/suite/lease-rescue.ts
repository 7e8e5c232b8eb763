// Store suite, part 5: no delivery stays `running` in a live process. A completion write that
// fails is written again; one that keeps failing leaves the lease to expire, and the expired lease
// is rescued with the default worker options on every engine (PGlite included); an attempt that
// stalls the event loop past its lease keeps it.
import { describe, expect, it } from 'vitest';
import { FAST_WORKER, type Harness, type TestStore, topics } from './harness.js';
import { waitFor } from '../../support/wait.js';

/** Makes the first `failures` DELETEs of deliveries fail (a sequence counts them: it is not rolled
 * back with the failed statement), as a dropped connection or a failover would. */
async function failCompletions(db: TestStore, failures: number): Promise<void> {
  const s = `"${db.schema}"`;
  await db.q.query(`CREATE SEQUENCE ${s}.deletes_seen`);
  await db.q.query(`
CREATE FUNCTION ${s}.refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('${db.schema}.deletes_seen') <= ${failures} THEN RAISE EXCEPTION 'completion write refused (test)'; END IF;
  RETURN OLD;
END $$`);
  await db.q.query(`CREATE TRIGGER refuse_delete BEFORE DELETE ON ${db.tables.deliveries} FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_delete()`);
}

function busyFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a stalled event loop
  }
}

export function leaseRescueTests(h: Harness): void {
  describe('completion failures', () => {
    it('a completion whose write fails is written again, and the handler runs once', async () => {
      const { fete, db } = await h.open({ worker: { ...FAST_WORKER, rescueIntervalMs: 0 } });
      await failCompletions(db, 2);
      const attempts: number[] = [];
      fete.on(topics.orderPlaced, 'once', (_p, ctx) => void attempts.push(ctx.attempt));
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the completion written' });
      expect(attempts).toEqual([1]);
      expect(await fete.deadLetters()).toEqual([]);
    });

    it("a completion inside the handler's transaction that fails is a failed attempt, retried", async () => {
      const { fete, db } = await h.open({ worker: { ...FAST_WORKER, rescueIntervalMs: 0 } });
      await failCompletions(db, 1);
      const attempts: number[] = [];
      fete.on(topics.orderPlaced, 'tx', async (_p, ctx) => {
        attempts.push(ctx.attempt);
        await ctx.tx.query('SELECT 1');
      }, { backoff: () => 0 });
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the retry completed' });
      expect(attempts).toEqual([1, 2]);
    });
  });

  describe('rescue in a live process', () => {
    it('a completion that is never written runs again, rescued with the default worker options', async () => {
      // No rescueIntervalMs given: the engine's default. Five refused writes use up the completer's
      // tries; the lease then expires unheartbeated and must be rescued by this same process.
      const { fete, db } = await h.open({ worker: { leaseMs: 400, heartbeatMs: 100, pollIntervalMs: 50 } });
      await failCompletions(db, 5);
      const attempts: number[] = [];
      fete.on(topics.orderPlaced, 'lost', (_p, ctx) => void attempts.push(ctx.attempt));
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the lost completion run again and written' });
      expect(attempts).toEqual([1, 2]);
    });

    it('an attempt that stalls the event loop past its lease keeps it and runs once', async () => {
      const { fete, db } = await h.open({ worker: { leaseMs: 300, heartbeatMs: 60, rescueIntervalMs: 50, pollIntervalMs: 50 } });
      const attempts: number[] = [];
      fete.on(topics.orderPlaced, 'stall', async (_p, ctx) => {
        attempts.push(ctx.attempt);
        await new Promise((r) => setTimeout(r, 5));
        busyFor(700);
        await new Promise((r) => setTimeout(r, 50));
      });
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the stalled attempt completed' });
      expect(attempts).toEqual([1]);
    });
  });
}
