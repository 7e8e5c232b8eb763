// Store suite, pattern reads (replays and SSE streams): through the indexes chosen by the replay
// plan, a read returns exactly what a scan of every row would, its cursor moves over the events it
// skips, a pattern no topic can match costs no read of the events, and a read never moves past a
// seq still in flight.
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../../shared/index.js';
import type { Driver } from '../../../server/store/driver.js';
import { openDriver } from '../../../server/store/open-store.js';
import { type Harness, topics } from './harness.js';

type Read = (after: number, options?: { pattern?: string; limit?: number }) => Promise<{ events: Array<{ seq?: number; subject: string }>; cursor: number }>;

/** Reads from 0 to `head`, page by page, as a replay does; returns the seqs and the cursors. */
async function replay(read: Read, pattern: string, head: number, limit: number) {
  const seqs: number[] = [];
  let cursor = 0;
  for (let pages = 0; cursor < head; pages++) {
    if (pages > 1000) throw new Error(`replay of ${pattern} made no progress at ${cursor}`);
    const page = await read(cursor, { pattern, limit });
    expect(page.events.length).toBeLessThanOrEqual(limit);
    seqs.push(...page.events.map((e) => e.seq!));
    expect(page.cursor).toBeGreaterThanOrEqual(cursor);
    cursor = page.cursor;
  }
  return { seqs, cursor };
}

/** A driver that counts statements, and those that read event rows (they select `payload`). */
function counting(driver: Driver): { driver: Driver; rowReads: () => number; all: () => number } {
  let rowReads = 0;
  let all = 0;
  const query = ((sql: Parameters<Driver['query']>[0], params?: readonly unknown[]) => {
    all++;
    if ((typeof sql === 'string' ? sql : sql.text).includes('payload')) rowReads++;
    return driver.query(sql, params);
  }) as Driver['query'];
  const counted: Driver = {
    kind: driver.kind,
    query,
    begin: (o) => driver.begin(o),
    transaction: (fn) => driver.transaction(fn),
    listen: (channel, fn, onReconnect) => driver.listen(channel, fn, onReconnect),
    close: async () => undefined,
  };
  return { driver: counted, rowReads: () => rowReads, all: () => all };
}

export function replayTests(h: Harness): void {
  describe('pattern reads', () => {
    it('a pattern read returns exactly what a scan of every row returns, page by page, by topic, prefix and subject', async () => {
      const { fete } = await h.open();
      for (let i = 0; i < 12; i++) {
        await fete.emit(topics.orderPlaced, { orderId: `o-${i % 3}`, total: i });
        if (i % 2 === 0) await fete.emit(topics.orderShipped, { orderId: `o-${i % 3}` });
        if (i % 4 === 0) await fete.emit(topics.audit, { kind: `k${i}`, msg: 'm' });
      }
      const head = await fete.log.head();
      const everything = (await fete.log.read(0, { limit: 1000 })).events;
      const { matches } = await import('../../../shared/index.js');
      for (const pattern of ['orders.*.shipped', 'orders.o-1.>', 'orders.o-2.placed', '*.o-0.*', 'audit.>', 'audit.k4', 'nothing.>', '>']) {
        const expected = everything.filter((e) => matches(pattern, e.subject)).map((e) => e.seq);
        for (const limit of [1, 4, 500]) {
          const r = await replay(fete.log.read.bind(fete.log), pattern, head, limit);
          expect(r.seqs, `${pattern} limit ${limit}`).toEqual(expected);
          expect(r.cursor).toBe(head);
        }
      }
    });

    it('a pattern read moves its cursor over events of other topics and over rolled-back seqs', async () => {
      const { fete } = await h.open();
      const wanted = await fete.emit(topics.orderShipped, { orderId: 'a' });
      for (let i = 0; i < 5; i++) await fete.emit(topics.audit, { kind: 'noise', msg: String(i) });
      await expect(
        fete.transaction(async (t) => {
          await t.emit(topics.orderShipped, { orderId: 'gone' });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      for (let i = 0; i < 5; i++) await fete.emit(topics.audit, { kind: 'noise', msg: String(i) });
      const head = await fete.log.head();
      // An unfiltered read first (as the tail does): it settles the rolled-back seq.
      await fete.log.read(0, { limit: 1000 });
      const r = await replay(fete.log.read.bind(fete.log), 'orders.*.shipped', head, 2);
      expect(r.seqs).toEqual([wanted.seq]);
      expect(r.cursor).toBe(head);
    });

    it('a pattern no topic can match reads no event rows, and its cursor reaches the head', async () => {
      const first = await h.open();
      const { driver, owned } = await openDriver(first.db.store);
      try {
        const c = counting(driver);
        const { fete } = await h.open({ store: { driver: c.driver } }, first.db);
        for (let i = 0; i < 40; i++) await fete.emit(topics.audit, { kind: 'noise', msg: String(i) });
        const head = await fete.log.head();
        const before = { rows: c.rowReads(), all: c.all() };
        const firstRead = await fete.log.read(0, { pattern: 'nothing.*.here' });
        expect(firstRead).toEqual({ events: [], cursor: head });
        // 64 subscriptions replaying from 0: no statement at all.
        const afterFirst = c.all();
        for (let i = 0; i < 64; i++) expect(await fete.log.read(0, { pattern: 'nothing.*.here', limit: 10 })).toEqual({ events: [], cursor: head });
        expect(c.all()).toBe(afterFirst);
        expect(c.rowReads()).toBe(before.rows);
      } finally {
        if (owned) await driver.close();
      }
    });

    it.skipIf(h.engine.name === 'pglite')('a pattern read stops before a matching seq still in flight, and returns it once it commits', async () => {
      const { fete, db } = await h.open();
      const { appendEvents } = await import('../../../server/store/event-queries.js');
      const { driver, owned } = await openDriver(db.store);
      try {
        const first = await fete.emit(topics.audit, { kind: 'a', msg: 'first' });
        await fete.log.read(0); // settles everything up to `first`
        const open = await driver.begin();
        const [slow] = await appendEvents(open, db.tables, [
          { id: uuidv7(), topic: topics.audit.name, subject: 'audit.slow', time: new Date().toISOString(), headers: {}, payload: { kind: 'slow', msg: 'm' }, context: {} },
        ]);
        await fete.emit(topics.orderShipped, { orderId: 'other-topic' });
        const fast = await fete.emit(topics.audit, { kind: 'fast', msg: 'm' });
        const r1 = await fete.log.read(0, { pattern: 'audit.*' });
        expect(r1.events.map((e) => e.seq)).toEqual([first.seq]);
        const r2 = await fete.log.read(r1.cursor, { pattern: 'audit.*' });
        expect(r2.events).toEqual([]);
        expect(r2.cursor).toBeLessThan(slow!.seq);
        await open.commit();
        const r3 = await fete.log.read(r2.cursor, { pattern: 'audit.*' });
        expect(r3.events.map((e) => e.seq)).toEqual([slow!.seq, fast.seq]);
      } finally {
        if (owned) await driver.close();
      }
    });
  });
}
