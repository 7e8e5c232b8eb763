// Store suite, part 6: delayed deliveries (never early, woken by a timer rather than the poll,
// retries on time) and ordering keys (one at a time per key, in seq order, across processes; a
// dead letter blocks its key until retried or skipped).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.js';
import { FAST_WORKER, type Harness, topics } from './harness.js';

/** A poll that never comes within a test: anything that runs was woken by NOTIFY or a timer. */
const NO_POLL = { ...FAST_WORKER, pollIntervalMs: 600_000 };

export function delayedOrderedTests(h: Harness): void {
  describe('delayed deliveries', () => {
    it('a delayed emit is in the log at once and its delivery runs at runAt, never early, without polling', async () => {
      const { fete, db } = await h.open({ worker: NO_POLL });
      const ran: Array<{ orderId: string; at: number }> = [];
      fete.on(topics.orderPlaced, 'later', (p) => void ran.push({ orderId: p.orderId, at: Date.now() }));
      await fete.start();
      // Emitted by another process (web role only): the worker learns of it through NOTIFY and
      // arms its timer from the claim's "next due".
      const web = await h.open({ roles: ['web'], worker: NO_POLL }, db);
      const t0 = Date.now();
      const delayed = await web.fete.emit(topics.orderPlaced, { orderId: 'd300', total: 1 }, { delayMs: 300 });
      const atTime = await web.fete.emit(topics.orderPlaced, { orderId: 'at150', total: 1 }, { runAt: new Date(t0 + 150) });
      const now = await web.fete.emit(topics.orderPlaced, { orderId: 'now', total: 1 });
      const page = await fete.log.read(delayed.seq - 1);
      expect(page.events.map((e) => e.payload)).toEqual([
        expect.objectContaining({ orderId: 'd300' }),
        expect.objectContaining({ orderId: 'at150' }),
        expect.objectContaining({ orderId: 'now' }),
      ]);
      expect(atTime.seq).toBeLessThan(now.seq);
      await waitFor(() => ran.length === 3, { what: 'all three ran' });
      const at = (id: string) => ran.find((r) => r.orderId === id)!.at;
      expect(ran.map((r) => r.orderId).filter((id) => id !== 'now')).toEqual(['at150', 'd300']);
      // Never early (1 ms: the store keeps microseconds, Date.now() whole milliseconds).
      expect(at('at150')).toBeGreaterThanOrEqual(t0 + 150 - 1);
      expect(at('d300')).toBeGreaterThanOrEqual(t0 + 300 - 1);
    });

    it('a retry runs after its backoff without polling, and emit options are checked', async () => {
      const { fete } = await h.open({ worker: NO_POLL });
      const attempts: Array<{ attempt: number; at: number }> = [];
      fete.on(topics.orderPlaced, 'flaky', (_p, ctx) => {
        attempts.push({ attempt: ctx.attempt, at: Date.now() });
        if (ctx.attempt < 3) throw new Error('not yet');
      }, { backoff: { initialMs: 100, factor: 2, jitter: 0 } });
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o', total: 1 });
      await waitFor(() => attempts.length === 3, { what: 'third attempt' });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(100 - 1);
      expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(200 - 1);
      await expect(fete.emit(topics.orderPlaced, { orderId: 'x', total: 1 }, { delayMs: -1 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      await expect(fete.emit(topics.orderPlaced, { orderId: 'x', total: 1 }, { delayMs: 1, runAt: Date.now() })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      await expect(fete.emit(topics.orderPlaced, { orderId: 'x', total: 1 }, { runAt: 'not a time' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    });

    it('waitIdle waits for work due within its timeout and ignores work due after it', async () => {
      const { fete } = await h.open({ worker: NO_POLL });
      const ran: string[] = [];
      fete.on(topics.orderPlaced, 'w', (p) => void ran.push(p.orderId));
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'soon', total: 1 }, { delayMs: 100 });
      await fete.emit(topics.orderPlaced, { orderId: 'tomorrow', total: 1 }, { delayMs: 86_400_000 });
      await fete.waitIdle({ timeoutMs: 5000 });
      expect(ran).toEqual(['soon']);
      await fete.emit(topics.orderPlaced, { orderId: 'in-2s', total: 1 }, { delayMs: 2000 });
      await expect(fete.waitIdle({ timeoutMs: 2500 })).resolves.toBeUndefined();
      expect(ran).toEqual(['soon', 'in-2s']);
    });
  });

  describe('non-durable listeners of a durable fete', () => {
    it('ctx.emit and ctx.tx commit with a successful attempt and vanish with a failed one', async () => {
      const { fete, db } = await h.open();
      await db.q.query(`CREATE TABLE ${db.tables.quotedSchema}.notes (msg text)`);
      const audited: string[] = [];
      fete.on(topics.audit, 'auditor', (p) => void audited.push(p.msg), { durable: false });
      fete.on(topics.orderPlaced, 'side', async (p, ctx) => {
        await ctx.tx.query(`INSERT INTO ${db.tables.quotedSchema}.notes (msg) VALUES ($1)`, [`${p.orderId}@${ctx.attempt}`]);
        await ctx.emit(topics.audit, { kind: 'k', msg: `${p.orderId}@${ctx.attempt}` });
        if (ctx.attempt === 1) throw new Error('first attempt fails after its writes');
      }, { durable: false, backoff: { initialMs: 5, jitter: 0 } });
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await waitFor(() => audited.length === 1, { what: 'audit of the second attempt' });
      await fete.waitIdle();
      expect(audited).toEqual(['o1@2']);
      expect(await db.rows(`SELECT msg FROM ${db.tables.quotedSchema}.notes`)).toEqual([{ msg: 'o1@2' }]);
    });
  });

  describe('ordering keys', () => {
    it('per key, effects run one at a time in seq order across two processes, whatever fails and retries', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), fails: fc.nat({ max: 2 }) }), { minLength: 1, maxLength: 24 }),
          async (plan) => {
            const first = await h.open();
            const second = await h.open({}, first.db);
            const effects: Array<{ key: string; seq: number }> = [];
            const running = new Set<string>();
            const overlaps: string[] = [];
            const failsBySeq = new Map<number, number>();
            for (const f of [first.fete, second.fete])
              f.on(topics.orderPlaced, 'ordered', async (p, ctx) => {
                const key = p.orderId.split(':')[0]!;
                if (running.has(key)) overlaps.push(key);
                running.add(key);
                try {
                  await new Promise((r) => setTimeout(r, 1));
                  if (ctx.attempt <= failsBySeq.get(ctx.envelope.seq!)!) throw new Error(`planned failure ${ctx.attempt}`);
                  effects.push({ key, seq: ctx.envelope.seq! });
                } finally {
                  running.delete(key);
                }
              }, { orderBy: (p) => (p as { orderId: string }).orderId.split(':')[0], concurrency: 4, backoff: { initialMs: 5, jitter: 0 } });
            // Appended before any worker starts, so both processes compete for the whole backlog.
            for (const [i, step] of plan.entries()) {
              const r = await first.fete.emit(topics.orderPlaced, { orderId: `${step.key}:${i}`, total: 1 });
              failsBySeq.set(r.seq, step.fails);
            }
            await Promise.all([first.fete.start(), second.fete.start()]);
            await waitFor(() => effects.length === plan.length, { what: 'every event handled' });
            await first.fete.waitIdle();
            expect(overlaps).toEqual([]);
            for (const key of ['a', 'b', 'c']) {
              const seqs = effects.filter((e) => e.key === key).map((e) => e.seq);
              expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
            }
            expect(effects).toHaveLength(plan.length);
            await Promise.all([first.fete.stop({ drain: false }), second.fete.stop({ drain: false })]);
          },
        ),
        { numRuns: h.engine.name === 'pglite' ? 6 : 10 },
      );
    });

    it('a dead letter blocks its key until skipped or retried; other keys and unkeyed events go on', async () => {
      const { fete } = await h.open();
      const done: string[] = [];
      let poison = true;
      fete.on(topics.orderPlaced, 'strict', (p) => {
        if (p.orderId === 'k1:first' && poison) throw new Error('poison');
        done.push(p.orderId);
      }, { orderBy: (p) => (p as { orderId: string }).orderId.split(':')[0], retries: 0 });
      await fete.start();
      await fete.emit(topics.orderPlaced, { orderId: 'k1:first', total: 1 });
      await fete.emit(topics.orderPlaced, { orderId: 'k1:second', total: 1 });
      await fete.emit(topics.orderPlaced, { orderId: 'k2:other', total: 1 });
      await fete.emit(topics.orderShipped, { orderId: 'k1:unrelated' });
      const [dead] = await waitFor(async () => {
        const list = await fete.deadLetters();
        return list.length === 1 ? list : undefined;
      }, { what: 'dead letter' });
      await fete.waitIdle();
      expect(done).toEqual(['k2:other']);
      poison = false;
      await fete.retry(dead!.id);
      await waitFor(() => done.length === 3, { what: 'the key runs again' });
      expect(done).toEqual(['k2:other', 'k1:first', 'k1:second']);
      // Skip: a new dead head, skipped, lets the next one of its key run without it.
      poison = true;
      await fete.emit(topics.orderPlaced, { orderId: 'k1:first', total: 1 }, { id: undefined });
      await fete.emit(topics.orderPlaced, { orderId: 'k1:third', total: 1 });
      const [again] = await waitFor(async () => {
        const list = await fete.deadLetters();
        return list.length === 1 ? list : undefined;
      }, { what: 'second dead letter' });
      await fete.skip(again!.id);
      await waitFor(() => done.includes('k1:third'), { what: 'third after skip' });
      expect(await fete.deadLetters()).toEqual([]);
      await expect(fete.skip(again!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('an emit orderKey orders the event for every listener without an orderBy of its own', async () => {
      const { fete, db } = await h.open();
      fete.on(topics.audit, 'audit-log', () => undefined);
      await fete.emit(topics.audit, { kind: 'k', msg: 'one' }, { orderKey: 'tenant-1' });
      await fete.emit(topics.audit, { kind: 'k', msg: 'two' });
      const rows = await db.rows<{ order_key: string | null }>(`SELECT order_key FROM ${db.tables.deliveries} ORDER BY id`);
      expect(rows.map((r) => r.order_key)).toEqual(['tenant-1', null]);
    });
  });
}
