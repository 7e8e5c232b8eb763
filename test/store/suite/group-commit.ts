// Store suite: group commit (server/log/group-commit.ts). Emits that arrive while an append is in
// flight are appended together in the next statement; each keeps its own result, duplicate answer
// and failure, and seq order follows call order. Which emits shared a statement is read from the
// store itself: rows written by one statement (one autocommit transaction) share their `xmin`.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../../shared/index.js';
import type { LoggedResult } from '../../../server/index.js';
import { waitFor } from '../../support/wait.js';
import { type Harness, topics } from './harness.js';

/** The transaction id of each event's row, by seq. */
async function txOf(db: { rows: <R>(sql: string) => Promise<R[]>; tables: { events: string } }): Promise<Map<number, string>> {
  const rows = await db.rows<{ seq: number | string; tx: string }>(`SELECT seq, xmin::text AS tx FROM ${db.tables.events} ORDER BY seq`);
  return new Map(rows.map((r) => [Number(r.seq), r.tx]));
}

export function groupCommitTests(h: Harness): void {
  describe('group commit', () => {
    it('emits made while an append is in flight share the next append, each with its own result, seqs in call order', async () => {
      const { fete, db } = await h.open();
      // The first emit goes alone at once; the 20 made while it is in flight wait and go together.
      const all = await Promise.all(Array.from({ length: 21 }, (_, i) => fete.emit(topics.orderPlaced, { orderId: `o${i}`, total: i })));
      const seqs = all.map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(21);
      expect(all.every((r) => !r.duplicate)).toBe(true);
      const tx = await txOf(db);
      expect(new Set(seqs.map((s) => tx.get(s))).size).toBeLessThan(21);
      // Each result is its own event's: the stored row under that seq has that emit's id and payload.
      const read = await fete.log.read(seqs[0]! - 1, { limit: 100 });
      for (let i = 0; i < 21; i++) {
        const e = read.events.find((x) => x.seq === all[i]!.seq)!;
        expect(e.id).toBe(all[i]!.id);
        expect(e.payload).toEqual({ orderId: `o${i}`, total: i });
      }
    });

    it('a duplicate inside a group returns the first append\'s seq and appends nothing', async () => {
      const { fete, db } = await h.open();
      const earlier = await fete.emit(topics.orderPlaced, { orderId: 'first', total: 1 });
      const fresh = uuidv7();
      const [busy, a, dupOfEarlier, b, dupOfA, sameKey1, sameKey2] = await Promise.all([
        fete.emit(topics.orderPlaced, { orderId: 'busy', total: 0 }),
        fete.emit(topics.orderPlaced, { orderId: 'a', total: 2 }, { id: fresh }),
        fete.emit(topics.orderPlaced, { orderId: 'first', total: 1 }, { id: earlier.id }),
        fete.emit(topics.orderPlaced, { orderId: 'b', total: 3 }),
        fete.emit(topics.orderPlaced, { orderId: 'a', total: 2 }, { id: fresh }),
        fete.emit(topics.audit, { kind: 'k', msg: 'one' }, { idempotencyKey: 'pay-42' }),
        fete.emit(topics.audit, { kind: 'k', msg: 'two' }, { idempotencyKey: 'pay-42' }),
      ]);
      expect(dupOfEarlier).toEqual({ id: earlier.id, seq: earlier.seq, duplicate: true });
      expect(dupOfA).toEqual({ id: fresh, seq: a!.seq, duplicate: true });
      expect(a!.duplicate).toBe(false);
      expect(sameKey1!.duplicate).toBe(false);
      expect(sameKey2).toEqual({ id: sameKey1!.id, seq: sameKey1!.seq, duplicate: true });
      const stored = await db.rows<{ n: number | string }>(`SELECT count(*) AS n FROM ${db.tables.events}`);
      // first, busy, a, b, one: the duplicates appended nothing.
      expect(Number(stored[0]!.n)).toBe(5);
      expect([busy!, a!, b!, sameKey1!].map((r) => r.seq)).toEqual([busy!.seq, a!.seq, b!.seq, sameKey1!.seq].sort((x, y) => x - y));
    });

    it('an emit the store refuses fails alone: the others of its group are appended and answered', async () => {
      const { fete, db } = await h.open();
      await fete.emit(topics.orderPlaced, { orderId: 'warm', total: 0 });
      // An app's own constraint on the table: the store refuses this one row, not its neighbours.
      await db.q.query(`ALTER TABLE ${db.tables.events} ADD CONSTRAINT no_bad_orders CHECK (subject <> 'orders.bad.placed')`);
      const settled = await Promise.allSettled([
        fete.emit(topics.orderPlaced, { orderId: 'busy', total: 0 }),
        fete.emit(topics.orderPlaced, { orderId: 'ok1', total: 1 }),
        fete.emit(topics.orderPlaced, { orderId: 'bad', total: 2 }),
        fete.emitMany([
          { topic: topics.orderPlaced, payload: { orderId: 'ok2', total: 3 } },
          { topic: topics.orderShipped, payload: { orderId: 'ok2' } },
        ]),
        fete.emit(topics.orderPlaced, { orderId: 'ok3', total: 4 }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value as LoggedResult | LoggedResult[]].flat() : []));
      const seqs = ok.map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const subjects = await db.rows<{ subject: string }>(`SELECT subject FROM ${db.tables.events} ORDER BY seq`);
      expect(subjects.map((r) => r.subject)).toEqual(['orders.warm.placed', 'orders.busy.placed', 'orders.ok1.placed', 'orders.ok2.placed', 'orders.ok2.shipped', 'orders.ok3.placed']);
      // emitMany stays atomic within the group: both of its events, or neither.
      const many = settled[3] as PromiseFulfilledResult<LoggedResult[]>;
      expect(many.value.map((r) => r.seq)).toEqual([many.value[0]!.seq, many.value[0]!.seq + 1]);
      // The writer carries on: the next emits are grouped and appended as before.
      const after = await Promise.all([fete.emit(topics.orderPlaced, { orderId: 'next1', total: 5 }), fete.emit(topics.orderPlaced, { orderId: 'next2', total: 6 })]);
      expect(after[1]!.seq).toBeGreaterThan(after[0]!.seq);
    });

    // PostgreSQL only: on PGlite's single connection an open transaction holds every other query.
    it.skipIf(h.engine.name !== 'postgres')('an emit waiting on another transaction\'s row lock does not hold back the emits after it', async () => {
      const { fete } = await h.open();
      let commit!: () => void;
      const open = new Promise<void>((r) => (commit = r));
      let inTx: LoggedResult | undefined;
      // A transaction that appended idempotency key k-1 and stays open.
      const tx = fete.transaction(async (t) => {
        inTx = await t.emit(topics.audit, { kind: 'k', msg: 'in tx' }, { idempotencyKey: 'k-1' });
        await open;
      });
      await waitFor(() => inTx !== undefined, { what: 'the transaction to append' });
      // This append waits for that transaction (the unique key) ...
      const waiting = fete.emit(topics.audit, { kind: 'k', msg: 'same key' }, { idempotencyKey: 'k-1' });
      let waited = false;
      void waiting.then(() => (waited = true));
      // ... and the emits made after it still commit and answer meanwhile.
      const later = await Promise.all([fete.emit(topics.orderPlaced, { orderId: 'later1', total: 1 }), fete.emit(topics.orderPlaced, { orderId: 'later2', total: 2 })]);
      expect(later.every((r) => !r.duplicate)).toBe(true);
      expect(waited).toBe(false);
      commit();
      await tx;
      expect(await waiting).toEqual({ id: inTx!.id, seq: inTx!.seq, duplicate: true });
    });

    it('a live follower gets every grouped event once, in seq order', async () => {
      const { fete } = await h.open();
      const abort = new AbortController();
      const got: number[] = [];
      const following = (async () => {
        for await (const item of fete.follow('orders.>', { from: 'latest', signal: abort.signal })) {
          if (item.type !== 'events') continue;
          for (const e of item.events) got.push(e.seq!);
          if (item.events.some((e) => e.subject === 'orders.last.placed')) abort.abort();
        }
      })();
      await new Promise((r) => setTimeout(r, 50)); // the follower has its start
      const results = (
        await Promise.all([
          ...Array.from({ length: 30 }, (_, i) => fete.emit(topics.orderPlaced, { orderId: `x${i}`, total: i })),
          fete.emitMany(Array.from({ length: 5 }, (_, i) => ({ topic: topics.orderShipped, payload: { orderId: `y${i}` } }))),
        ])
      ).flat();
      const last = await fete.emit(topics.orderPlaced, { orderId: 'last', total: 0 });
      await following;
      expect(got).toEqual([...results.map((r) => r.seq).sort((a, b) => a - b), last.seq]);
    });
  });
}
