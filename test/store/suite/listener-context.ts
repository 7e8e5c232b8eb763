// Store suite, part 3: the listener context. ctx.emit committed with the completion, ctx.tx
// writes atomic with it (and gone when the lease was lost), context propagation, stats.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { currentPrincipal, currentTraceparent, runAs, withTraceparent } from '../../../server/index.js';
import { gate, waitFor } from '../../support/wait.js';
import { type Harness, topics } from './harness.js';

export function listenerContextTests(h: Harness): void {
  describe('ctx.emit', () => {
    it('events emitted by a handler commit with its completion and are not doubled by a retry', async () => {
      const { fete, db } = await h.open();
      const mailerAttempts: number[] = [];
      const audited: string[] = [];
      fete.on(topics.orderPlaced, 'mailer', async (p, ctx) => {
        mailerAttempts.push(ctx.attempt);
        await ctx.emit(topics.audit, { kind: 'mail', msg: `mailed ${p.orderId} (attempt ${ctx.attempt})` });
        if (ctx.attempt === 1) throw new Error('crashed after emitting');
      }, { backoff: { initialMs: 1, jitter: 0 } });
      fete.on(topics.audit, 'auditor', (p) => void audited.push(p.msg));
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      await waitFor(async () => audited.length === 1 && (await h.backlog(db)) === 0, { what: 'audit handled' });
      expect(mailerAttempts).toEqual([1, 2]);
      expect(audited).toEqual(['mailed o1 (attempt 2)']);
      const stored = await db.rows<{ payload: string }>(`SELECT payload FROM ${db.tables.events} WHERE topic = $1`, [topics.audit.name]);
      expect(stored.map((r) => JSON.parse(r.payload).json)).toEqual([{ kind: 'mail', msg: 'mailed o1 (attempt 2)' }]);
    });
  });

  describe('ctx.tx', () => {
    it('a handler write commits atomically with the completion', async () => {
      const { fete, db } = await h.open();
      await db.q.query(`CREATE TABLE "${db.schema}".ledger (order_id text PRIMARY KEY, total numeric)`);
      fete.on(topics.orderPlaced, 'ledger', async (p, ctx) => {
        await ctx.tx.query(`INSERT INTO "${db.schema}".ledger (order_id, total) VALUES ($1, $2)`, [p.orderId, p.total]);
      });
      await fete.emitMany(['a', 'b'].map((orderId) => ({ topic: topics.orderPlaced, payload: { orderId, total: 2 } })));
      await fete.start();
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'ledger deliveries done' });
      expect(await db.rows(`SELECT order_id FROM "${db.schema}".ledger ORDER BY order_id`)).toEqual([{ order_id: 'a' }, { order_id: 'b' }]);
    });

    it('handler writes are rolled back when the lease was lost before completion', async () => {
      const { fete, db } = await h.open({ worker: { leaseMs: 60_000, heartbeatMs: 30_000, pollIntervalMs: 50, rescueIntervalMs: 0 } });
      await db.q.query(`CREATE TABLE "${db.schema}".ledger (order_id text PRIMARY KEY)`);
      const entered = gate();
      const proceed = gate();
      let finished = false;
      fete.on(topics.orderPlaced, 'ledger', async (p, ctx) => {
        entered.open();
        await proceed.promise;
        await ctx.tx.query(`INSERT INTO "${db.schema}".ledger (order_id) VALUES ($1)`, [p.orderId]);
        finished = true;
      });
      await fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
      await fete.start();
      await entered.promise;
      // Meanwhile the lease was rescued and claimed by another worker: the token moved on.
      await db.q.query(`UPDATE ${db.tables.deliveries} SET lease_token = gen_random_uuid()`);
      proceed.open();
      await waitFor(() => finished, { what: 'handler finished' });
      await fete.stop({ drain: true });
      expect(await db.rows(`SELECT * FROM "${db.schema}".ledger`)).toEqual([]);
      expect(await db.rows(`SELECT state, attempts FROM ${db.tables.deliveries}`)).toEqual([{ state: 'running', attempts: 1 }]);
    });
  });

  describe('context propagation', () => {
    it('principal, trace and a registered codec are captured at emit and restored around listeners', async () => {
      const { fete, db } = await h.open();
      const tenant = new AsyncLocalStorage<string>();
      fete.contexts.register({ name: 'tenant', capture: () => tenant.getStore(), restore: (v, run) => tenant.run(v as string, run) });
      expect(() => fete.contexts.register({ name: 'tenant', capture: () => undefined, restore: (_v, run) => run() })).toThrow(
        expect.objectContaining({ code: 'CONFLICT' }),
      );
      type Seen = { context: Record<string, unknown>; principal: unknown; tenant: string | undefined; trace: string | undefined; actor: string | undefined };
      const seen: Record<string, Seen> = {};
      const record = (name: string, ctx: { context: Record<string, unknown>; envelope: { headers: Record<string, string> } }) => {
        seen[name] = { context: ctx.context, principal: currentPrincipal(), tenant: tenant.getStore(), trace: currentTraceparent(), actor: ctx.envelope.headers.actor };
      };
      fete.on(topics.orderPlaced, 'mailer', async (_p, ctx) => {
        record('mailer', ctx);
        await ctx.emit(topics.audit, { kind: 'mail', msg: 'sent' });
      });
      fete.on(topics.audit, 'auditor', (_p, ctx) => record('auditor', ctx));
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      await runAs({ id: 'u-1', roles: ['admin'] }, () =>
        tenant.run('acme', () =>
          withTraceparent(`00-${traceId}-00f067aa0ba902b7-01`, () => fete.emit(topics.orderPlaced, { orderId: 'o1', total: 1 })),
        ),
      );
      expect(currentPrincipal()).toBeUndefined();
      await fete.start();
      await waitFor(async () => seen.auditor !== undefined && (await h.backlog(db)) === 0, { what: 'both listeners ran' });
      for (const name of ['mailer', 'auditor']) {
        expect(seen[name]!.principal).toEqual({ id: 'u-1', roles: ['admin'] });
        expect(seen[name]!.context).toMatchObject({ principal: { id: 'u-1', roles: ['admin'] }, tenant: 'acme' });
        expect(seen[name]!.tenant).toBe('acme');
        expect(seen[name]!.actor).toBe('u-1');
        expect(seen[name]!.trace).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      }
      expect(seen.mailer!.trace).not.toBe(seen.auditor!.trace);
    });
  });

  describe('stats', () => {
    it('counts the backlog per listener and topic, including the oldest pending age', async () => {
      const { fete } = await h.open();
      fete.on(topics.orderPlaced, 'later', () => undefined);
      fete.on('orders.>', 'all-orders', () => undefined);
      await fete.emitMany(['a', 'b', 'c'].map((orderId) => ({ topic: topics.orderPlaced, payload: { orderId, total: 1 } })));
      await fete.emit(topics.orderShipped, { orderId: 'a' });
      const stats = await fete.stats();
      expect(stats.listeners.find((l) => l.name === 'later')).toMatchObject({ pending: 3, running: 0, retrying: 0, dead: 0, durable: true, local: true });
      expect(stats.listeners.find((l) => l.name === 'all-orders')).toMatchObject({ pending: 4 });
      expect(stats.topics.find((t) => t.topic === 'orders.{orderId}.placed')).toMatchObject({ pending: 6 });
      expect(stats.topics.find((t) => t.topic === 'orders.{orderId}.shipped')).toMatchObject({ pending: 1 });
      expect(stats.topics.find((t) => t.topic === 'audit.{kind}')).toMatchObject({ pending: 0, oldestPendingAgeMs: 0 });
      expect(stats.listeners.every((l) => l.oldestPendingAgeMs >= 0)).toBe(true);
      expect(stats.headSeq).toBe(await fete.log.head());
    });
  });
}
