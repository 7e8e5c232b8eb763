// Store suite, part 1: the log. Appends, idempotent emits, batches and transactions, validation at
// the edge, listener registration, migrations.
import { describe, expect, it } from 'vitest';
import { FeteError, uuidv7 } from '../../../shared/index.js';
import { loadMigrations, migrate } from '../../../server/store/migrate.js';
import { openDriver } from '../../../server/store/open-store.js';
import { defineTopic } from '../../../shared/index.js';
import { waitFor } from '../../support/wait.js';
import { type Harness, topics } from './harness.js';

export function logTests(h: Harness): void {
  describe('append', () => {
    it('emit appends an event and returns its id and an increasing seq', async () => {
      const { fete } = await h.open();
      const a = await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 10 });
      const b = await fete.emit(topics.orderPlaced, { orderId: 'o2', total: 20 });
      expect(a.duplicate).toBe(false);
      expect(b.seq).toBeGreaterThan(a.seq);
      expect(await fete.log.head()).toBe(b.seq);
    });

    it('the stored event keeps its payload types, headers, subject and captured context', async () => {
      const { fete } = await h.open();
      const at = new Date('2024-05-06T07:08:09.010Z');
      const r = await fete.emit(topics.orderPlaced, { orderId: 'o-7', total: 1.5, at, big: 2n ** 70n }, { headers: { tenant: 'acme' } });
      const [e] = (await fete.log.read(r.seq - 1, { limit: 1 })).events;
      expect(e).toMatchObject({ id: r.id, seq: r.seq, topic: 'orders.{orderId}.placed', subject: 'orders.o-7.placed' });
      expect(e!.payload).toEqual({ orderId: 'o-7', total: 1.5, at, big: 2n ** 70n });
      expect((e!.payload as { at: Date }).at).toBeInstanceOf(Date);
      expect(e!.headers.tenant).toBe('acme');
      expect(e!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    });

    it('log reads filter by subject pattern and page by seq', async () => {
      const { fete } = await h.open();
      await fete.emit(topics.orderPlaced, { orderId: 'a', total: 1 });
      const shipped = await fete.emit(topics.orderShipped, { orderId: 'a' });
      await fete.emit(topics.audit, { kind: 'x', msg: 'm' });
      const onlyShipped = await fete.log.read(0, { pattern: 'orders.*.shipped' });
      expect(onlyShipped.events.map((e) => e.seq)).toEqual([shipped.seq]);
      expect(onlyShipped.cursor).toBe(await fete.log.head());
      expect((await fete.log.read(0, { pattern: 'orders.>' })).events.length).toBe(2);
      const page = await fete.log.read(0, { limit: 2 });
      expect(page.events.length).toBe(2);
      expect(page.cursor).toBe(page.events[1]!.seq);
    });

    it('a seq rolled back leaves a gap that reads skip', async () => {
      const { fete, db } = await h.open();
      await expect(
        fete.transaction(async (t) => {
          await t.emit(topics.audit, { kind: 'gone', msg: 'rolled back' });
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      const kept = await fete.emit(topics.audit, { kind: 'kept', msg: 'm' });
      // The gap is final once every transaction running when it was first seen has ended (on a
      // shared server, someone else's long transaction can make that take a moment).
      const read = await waitFor(async () => {
        const r = await fete.log.read(0);
        return r.cursor === kept.seq ? r : undefined;
      }, { what: 'read past the rolled-back seq', intervalMs: 50 });
      expect(read.events.map((e) => e.seq)).toEqual([kept.seq]);
    });

    it.skipIf(h.engine.name === 'pglite')('a read stops before a seq still in flight, and goes on once it commits', async () => {
      const { fete, db } = await h.open();
      const { openDriver } = await import('../../../server/store/open-store.js');
      const { appendEvents } = await import('../../../server/store/event-queries.js');
      const { driver, owned } = await openDriver(db.store);
      try {
        const first = await fete.emit(topics.audit, { kind: 'a', msg: 'first' });
        const open = await driver.begin();
        const [slow] = await appendEvents(open, db.tables, [
          { id: uuidv7(), topic: topics.audit.name, subject: 'audit.slow', time: new Date().toISOString(), headers: {}, payload: { kind: 'slow', msg: 'm' }, context: {} },
        ]);
        const fast = await fete.emit(topics.audit, { kind: 'fast', msg: 'm' });
        expect(slow!.seq).toBeLessThan(fast.seq);
        const before = await fete.log.read(0);
        expect(before.events.map((e) => e.seq)).toEqual([first.seq]);
        expect(before.cursor).toBe(first.seq);
        await open.commit();
        const after = await fete.log.read(before.cursor);
        expect(after.events.map((e) => e.seq)).toEqual([slow!.seq, fast.seq]);
      } finally {
        if (owned) await driver.close();
      }
    });

    it('an invalid payload is INVALID_PAYLOAD and appends nothing', async () => {
      const { fete } = await h.open();
      const before = await fete.log.head();
      // @ts-expect-error total must be a number
      await expect(fete.emit(topics.orderPlaced, { orderId: 'o1', total: 'ten' })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
      expect(await fete.log.head()).toBe(before);
    });

    it('a topic outside the catalogue is UNKNOWN_TOPIC, for emit and for listeners', async () => {
      const { fete } = await h.open();
      const stranger = defineTopic('strangers.{id}', { kind: 'domain' });
      // @ts-expect-error not in the catalogue
      await expect(fete.emit(stranger, { id: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
      // @ts-expect-error not in the catalogue
      expect(() => fete.on(stranger, 'l', () => undefined)).toThrow(expect.objectContaining({ code: 'UNKNOWN_TOPIC' }));
    });

    it('a listener name taken on the same topic is a CONFLICT; on another topic it is fine', async () => {
      const { fete } = await h.open();
      fete.on(topics.orderPlaced, 'mailer', () => undefined);
      expect(() => fete.on(topics.orderPlaced, 'mailer', () => undefined)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
      expect(() => fete.on(topics.orderShipped, 'mailer', () => undefined)).not.toThrow();
    });
  });

  describe('idempotent emit', () => {
    it('a repeated id or idempotency key appends nothing, returns the first seq, and runs nothing twice', async () => {
      const { fete, db } = await h.open();
      const runs: string[] = [];
      fete.on(topics.orderPlaced, 'counter', (p) => void runs.push(p.orderId));
      const id = uuidv7();
      const first = await fete.emit(topics.orderPlaced, { orderId: 'by-id', total: 1 }, { id });
      const again = await fete.emit(topics.orderPlaced, { orderId: 'by-id', total: 1 }, { id });
      expect(again).toEqual({ id, seq: first.seq, duplicate: true });

      const keyed = await fete.emit(topics.orderPlaced, { orderId: 'by-key', total: 1 }, { idempotencyKey: 'pay-42' });
      const keyedAgain = await fete.emit(topics.orderPlaced, { orderId: 'by-key-2', total: 2 }, { idempotencyKey: 'pay-42' });
      expect(keyedAgain).toEqual({ id: keyed.id, seq: keyed.seq, duplicate: true });

      const batchId = uuidv7();
      const batch = await fete.emitMany([
        { topic: topics.orderPlaced, payload: { orderId: 'by-id', total: 1 }, id },
        { topic: topics.orderPlaced, payload: { orderId: 'batch', total: 1 }, id: batchId },
        { topic: topics.orderPlaced, payload: { orderId: 'batch', total: 1 }, id: batchId },
      ]);
      expect(batch.map((r) => r.duplicate)).toEqual([true, false, true]);
      expect(batch[0]!.seq).toBe(first.seq);
      expect(batch[2]!.seq).toBe(batch[1]!.seq);

      await fete.start();
      await waitFor(async () => runs.length === 3 && (await h.backlog(db)) === 0, { what: 'three distinct events handled' });
      expect(runs.sort()).toEqual(['batch', 'by-id', 'by-key']);
      expect((await fete.log.read(0)).events.length).toBe(3);
    });
  });

  describe('emitMany and transactions', () => {
    it('emitMany appends all in order, or nothing when one payload is invalid', async () => {
      const { fete } = await h.open();
      const before = await fete.log.head();
      await expect(
        fete.emitMany([
          { topic: topics.orderPlaced, payload: { orderId: 'ok', total: 1 } },
          // @ts-expect-error orderId is missing
          { topic: topics.orderShipped, payload: {} },
        ]),
      ).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
      expect(await fete.log.head()).toBe(before);
      const rs = await fete.emitMany([
        { topic: topics.orderPlaced, payload: { orderId: 'a', total: 1 } },
        { topic: topics.orderShipped, payload: { orderId: 'a' } },
        { topic: topics.audit, payload: { kind: 'k', msg: 'm' } },
      ]);
      expect(rs.map((r) => r.seq)).toEqual([...rs.map((r) => r.seq)].sort((x, y) => x - y));
      expect(new Set(rs.map((r) => r.seq)).size).toBe(3);
    });

    it('a transaction that throws rolls back the user write and the emitted event together', async () => {
      const { fete, db } = await h.open();
      await db.q.query(`CREATE TABLE "${db.schema}".orders (id text PRIMARY KEY)`);
      const runs: string[] = [];
      fete.on(topics.orderPlaced, 'mailer', (p) => void runs.push(p.orderId));
      const before = await fete.log.head();
      await expect(
        fete.transaction(async (tx) => {
          await tx.query(`INSERT INTO "${db.schema}".orders (id) VALUES ($1)`, ['o-rolled']);
          await tx.emit(topics.orderPlaced, { orderId: 'o-rolled', total: 1 });
          throw new Error('payment declined');
        }),
      ).rejects.toThrow('payment declined');
      expect(await db.rows(`SELECT * FROM "${db.schema}".orders`)).toEqual([]);
      expect(await fete.log.head()).toBe(before);
      expect(await h.backlog(db)).toBe(0);

      const committed = await fete.transaction(async (tx) => {
        await tx.query(`INSERT INTO "${db.schema}".orders (id) VALUES ($1)`, ['o-kept']);
        return tx.emit(topics.orderPlaced, { orderId: 'o-kept', total: 1 });
      });
      expect(await db.rows(`SELECT id FROM "${db.schema}".orders`)).toEqual([{ id: 'o-kept' }]);
      expect(committed.seq).toBeGreaterThan(before);
      await fete.start();
      await waitFor(() => runs.length === 1, { what: 'the committed event handled' });
      expect(runs).toEqual(['o-kept']);
    });
  });

  describe('listeners in the store', () => {
    it('an event emitted by a web-only instance gets deliveries for a listener of a worker instance', async () => {
      const { fete: worker, db } = await h.open({ roles: ['worker'] });
      const runs: string[] = [];
      worker.on('orders.*.shipped', 'shipping', (_p, ctx) => void runs.push(ctx.envelope.subject));
      await worker.start();
      const { fete: web } = await h.open({ roles: ['web'] }, db);
      await waitFor(async () => (await db.rows(`SELECT 1 FROM ${db.tables.listeners}`)).length === 1, { what: 'listener recorded' });
      await web.emit(topics.orderPlaced, { orderId: 'p', total: 1 });
      await web.emit(topics.orderShipped, { orderId: 's' });
      await waitFor(() => runs.length === 1, { what: 'shipped event handled by the worker' });
      expect(runs).toEqual(['orders.s.shipped']);
    });

    it('a non-durable listener runs in the emitting process after commit, with no deliveries in the store', async () => {
      const { fete, db } = await h.open();
      const runs: Array<number | undefined> = [];
      fete.on(topics.orderPlaced, 'cache', (_p, ctx) => void runs.push(ctx.envelope.seq), { durable: false });
      await expect(
        fete.transaction(async (tx) => {
          await tx.emit(topics.orderPlaced, { orderId: 'gone', total: 1 });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const r = await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(() => runs.length === 1, { what: 'inline listener ran' });
      expect(runs).toEqual([r.seq]);
      expect(await db.rows(`SELECT * FROM ${db.tables.listeners}`)).toEqual([]);
      expect(await h.backlog(db)).toBe(0);
    });

    it('log tails are told about appends made by any instance on the store', async () => {
      const { fete: tail, db } = await h.open({ roles: ['web'] });
      const heads: Array<number | undefined> = [];
      const off = tail.log.onAppend((head) => heads.push(head));
      const { fete: other } = await h.open({ roles: ['web'] }, db);
      await waitFor(async () => {
        await other.emit(topics.audit, { kind: 'k', msg: 'm' });
        return heads.length > 0;
      }, { what: 'append hook called', intervalMs: 50 });
      off();
      expect(heads.at(-1)).toBeLessThanOrEqual(await other.log.head());
      expect(heads.every((x) => typeof x === 'number')).toBe(true);
    });

    it('a pattern with regex metacharacters in its tokens matches only literally', async () => {
      const { fete, db } = await h.open();
      const runs: string[] = [];
      fete.on('orders.a+b.*', 'literal', (_p, ctx) => void runs.push(ctx.envelope.subject));
      await fete.emit(topics.orderShipped, { orderId: 'aab' });
      await fete.emit(topics.orderShipped, { orderId: 'a+b' });
      await fete.start();
      await waitFor(async () => (await h.backlog(db)) === 0 && runs.length > 0, { what: 'deliveries done' });
      expect(runs).toEqual(['orders.a+b.shipped']);
    });
  });

  describe('migrations', () => {
    it('are applied once; opening the store again applies nothing, also when two open at once', async () => {
      const { db } = await h.open();
      const { driver, owned } = await openDriver(db.store);
      try {
        expect(await migrate(driver, db.tables)).toEqual([]);
        const fresh = h.engine.fresh();
        const results = await Promise.all([migrate(driver, fresh.tables), migrate(driver, fresh.tables)]);
        // Every migration once, by whichever of the two got the lock first.
        const all = loadMigrations().map((m) => m.version);
        expect(results.flat()).toEqual(all);
        const versions = await fresh.rows<{ version: number }>(`SELECT version FROM ${fresh.tables.migrations} ORDER BY version`);
        expect(versions.map((v) => v.version)).toEqual(all);
      } finally {
        if (owned) await driver.close();
      }
    });

    it('a schema name that is not a plain identifier is refused', async () => {
      await expect(h.open({ schema: 'x"; DROP TABLE y; --' })).rejects.toBeInstanceOf(FeteError);
    });
  });
}
