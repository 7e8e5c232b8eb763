// The commands suite, run against every store engine (commands-pglite/-postgres.test.ts): one
// owner, all-or-nothing handlers, exactly-once by command id, read-only queries, tenants.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineQuery, isFeteError, uuidv7 } from '../../shared/index.js';
import type { Harness, TestStore } from '../store/suite/harness.js';
import { topics } from '../store/suite/harness.js';
import { waitFor } from '../support/wait.js';
import { runAs } from '../../server/index.js';

export const placeOrder = defineCommand('orders.place', {
  input: z.object({ sku: z.string(), qty: z.number().int().positive() }),
  output: z.object({ orderId: z.string(), number: z.number() }),
  reasons: ['OUT_OF_STOCK'],
});
export const listOrders = defineQuery('orders.list', {
  input: z.object({ sku: z.string().optional() }),
  output: z.array(z.object({ orderId: z.string(), sku: z.string() })),
});

async function ordersTable(db: TestStore): Promise<string> {
  const table = `"${db.schema}".app_orders`;
  await db.q.query(`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, sku text NOT NULL, tenant text NOT NULL DEFAULT '', n serial)`);
  return table;
}

async function count(db: TestStore, sql: string): Promise<number> {
  const [row] = await db.rows<{ n: number | string }>(sql);
  return Number(row!.n);
}

export function commandTests(h: Harness): void {
  describe('commands', () => {
    it('a second owner of a command is refused at registration', async () => {
      const { fete } = await h.open();
      fete.handle(placeOrder, () => ({ orderId: 'o', number: 1 }));
      let err: unknown;
      try {
        fete.handle(placeOrder, () => ({ orderId: 'o', number: 2 }));
      } catch (e) {
        err = e;
      }
      expect(isFeteError(err, 'CONFLICT')).toBe(true);
      // The first owner still answers.
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 })).resolves.toEqual({ orderId: 'o', number: 1 });
    });

    it('a handler that throws leaves no writes and no events, and no listener runs', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      const seen: string[] = [];
      fete.on(topics.orderPlaced, 'count', (p) => void seen.push(p.orderId));
      fete.handle(placeOrder, async (input, ctx) => {
        await ctx.tx.query(`INSERT INTO ${table} (id, sku) VALUES ($1, $2)`, ['o1', input.sku]);
        await ctx.emit(topics.orderPlaced, { orderId: 'o1', total: 1 });
        throw new Error('boom: secret internals');
      });
      await fete.start();
      const err = await fete.execute(placeOrder, { sku: 'a', qty: 1 }).catch((e: unknown) => e);
      expect(isFeteError(err, 'INTERNAL')).toBe(true);
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(0);
      expect(await count(db, `SELECT count(*) AS n FROM ${db.tables.events}`)).toBe(0);
      expect(await count(db, `SELECT count(*) AS n FROM "${db.schema}".command_results`)).toBe(0);
      expect(seen).toEqual([]);
    });

    it('an unexpected throw is not recorded: a retry with the same id runs the handler again', async () => {
      const { fete } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, () => {
        calls++;
        if (calls === 1) throw new Error('transient');
        return { orderId: 'o', number: calls };
      });
      const id = uuidv7();
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })).rejects.toMatchObject({ code: 'INTERNAL' });
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })).resolves.toEqual({ orderId: 'o', number: 2 });
      expect(calls).toBe(2);
    });

    it('a rejection reaches the caller with its reason, rolls back its writes, and is answered again for the same id', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      let calls = 0;
      fete.handle(placeOrder, async (input, ctx) => {
        calls++;
        await ctx.tx.query(`INSERT INTO ${table} (id, sku) VALUES ($1, $2)`, [ctx.id, input.sku]);
        await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: 1 });
        return ctx.reject('OUT_OF_STOCK', `no ${input.sku} left`);
      });
      const id = uuidv7();
      for (let i = 0; i < 2; i++) {
        const err = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id }).catch((e: unknown) => e);
        expect(isFeteError(err, 'REJECTED')).toBe(true);
        expect((err as { details?: { reason?: string } }).details?.reason).toBe('OUT_OF_STOCK');
        expect((err as Error).message).toBe('no a left');
      }
      expect(calls).toBe(1);
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(0);
      expect(await count(db, `SELECT count(*) AS n FROM ${db.tables.events}`)).toBe(0);
    });

    it("a rejection whose message quotes the caller's input with a NUL or a lone surrogate is recorded and answered as REJECTED", async () => {
      const { fete } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, (input, ctx) => {
        calls++;
        return ctx.reject('OUT_OF_STOCK', `no ${input.sku} left`);
      });
      const id = uuidv7();
      for (let i = 0; i < 2; i++) {
        const err = await fete.execute(placeOrder, { sku: 'a\u0000b\ud800', qty: 1 }, { id }).catch((e: unknown) => e);
        expect(isFeteError(err, 'REJECTED')).toBe(true);
        expect((err as { details?: { reason?: string } }).details?.reason).toBe('OUT_OF_STOCK');
        expect((err as Error).message).toMatch(/^no a.*b.* left$/);
      }
      expect(calls).toBe(1);
      await expect(fete.commandResult(id)).rejects.toMatchObject({ code: 'REJECTED' });
    });

    it('a rejection with an undeclared reason is a bug: INTERNAL, nothing recorded', async () => {
      const { fete } = await h.open();
      fete.handle(placeOrder, (_input, ctx) => (ctx.reject as (r: string) => never)('NOT_DECLARED'));
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 })).rejects.toMatchObject({ code: 'INTERNAL' });
    });

    it('events of a successful command are delivered exactly once, also when the command is retried with its id', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      const seen: string[] = [];
      fete.on(topics.orderPlaced, 'count', (p) => void seen.push(p.orderId));
      let calls = 0;
      fete.handle(placeOrder, async (input, ctx) => {
        calls++;
        const res = await ctx.tx.query<{ n: number }>(`INSERT INTO ${table} (id, sku) VALUES ($1, $2) RETURNING n`, [ctx.id, input.sku]);
        await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: input.qty });
        return { orderId: ctx.id, number: res.rows[0]!.n };
      });
      await fete.start();
      const id = uuidv7();
      const first = await fete.execute(placeOrder, { sku: 'a', qty: 2 }, { id });
      const again = await fete.execute(placeOrder, { sku: 'a', qty: 2 }, { id });
      expect(again).toEqual(first);
      expect(first.orderId).toBe(id);
      await waitFor(() => seen.length >= 1);
      await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the delivery to complete' });
      expect(seen).toEqual([id]);
      expect(calls).toBe(1);
      expect(await count(db, `SELECT count(*) AS n FROM ${db.tables.events}`)).toBe(1);
    });

    it('a command id is one UUID in either letter case: a retry with it in upper case gets the first result and runs nothing', async () => {
      const { fete } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, (_input, ctx) => ({ orderId: ctx.id, number: ++calls }));
      const id = uuidv7();
      const first = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id: id.toUpperCase() })).resolves.toEqual(first);
      await expect(fete.commandResult(id.toUpperCase())).resolves.toEqual(first);
      expect(calls).toBe(1);
    });

    it('concurrent calls with one command id run the handler once and all get its result', async () => {
      const { fete } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, async (_input, ctx) => {
        calls++;
        await new Promise((r) => setTimeout(r, 50));
        return { orderId: ctx.id, number: calls };
      });
      const id = uuidv7();
      const results = await Promise.all(Array.from({ length: 5 }, () => fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })));
      expect(calls).toBe(1);
      for (const r of results) expect(r).toEqual({ orderId: id, number: 1 });
    });

    it('one command id reused for another command is a CONFLICT, not the other command result', async () => {
      const { fete } = await h.open();
      const other = defineCommand('orders.cancel', { input: z.object({ orderId: z.string() }) });
      fete.handle(placeOrder, () => ({ orderId: 'o', number: 1 }));
      fete.handle(other, () => 'cancelled');
      const id = uuidv7();
      await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      await expect(fete.execute(other, { orderId: 'o' }, { id })).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('command ids are per tenant: the same id in two tenants runs twice, once in each', async () => {
      // The tenant is the fete's one tenant hook (security.tenant), the same for events and commands.
      const { fete } = await h.open({ security: { tenant: (p: { tenant?: string } | undefined) => p?.tenant } });
      const ran: string[] = [];
      fete.handle(placeOrder, (_input, ctx) => {
        ran.push(ctx.tenant);
        return { orderId: ctx.tenant, number: ran.length };
      });
      const id = uuidv7();
      const a = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id, principal: { id: 'u1', tenant: 'acme' } });
      const b = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id, principal: { id: 'u2', tenant: 'globex' } });
      const a2 = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id, principal: { id: 'u1', tenant: 'acme' } });
      expect(ran).toEqual(['acme', 'globex']);
      expect(a).toEqual({ orderId: 'acme', number: 1 });
      expect(b).toEqual({ orderId: 'globex', number: 2 });
      expect(a2).toEqual(a);
    });

    it("a retry of a command id by another principal of the tenant is a CONFLICT, never the first caller's result", async () => {
      const { fete } = await h.open({ security: { tenant: (p: { tenant?: string } | undefined) => p?.tenant } });
      let runs = 0;
      fete.handle(placeOrder, () => ({ orderId: 'secret', number: ++runs }));
      const id = uuidv7();
      await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id, principal: { id: 'u1', tenant: 'acme' } });
      const err = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id, principal: { id: 'u3', tenant: 'acme' } }).catch((e: unknown) => e);
      expect(isFeteError(err, 'CONFLICT')).toBe(true);
      expect(JSON.stringify((err as Error).message)).not.toContain('secret');
      expect(runs).toBe(1);
    });

    it('a recorded result is read back by command id by the principal and tenant that ran it, and NOT_FOUND for any other', async () => {
      const { fete } = await h.open({ security: { tenant: (p: { tenant?: string } | undefined) => p?.tenant } });
      fete.handle(placeOrder, (input, ctx) => {
        if (input.sku === 'none') ctx.reject('OUT_OF_STOCK', 'no more');
        return { orderId: `o-${input.qty}`, number: input.qty };
      });
      const ann = { id: 'ann', tenant: 'acme' };
      const id = uuidv7();
      const out = await fete.execute(placeOrder, { sku: 'a', qty: 3 }, { id, principal: ann });
      await expect(fete.commandResult(placeOrder, id, { principal: ann })).resolves.toEqual(out);
      await expect(runAs(ann, () => fete.commandResult(id))).resolves.toEqual(out);
      for (const other of [{ id: 'bob', tenant: 'acme' }, { id: 'ann', tenant: 'globex' }, undefined]) {
        const err = await fete.commandResult(id, { principal: other }).catch((e: unknown) => e);
        expect(isFeteError(err, 'NOT_FOUND')).toBe(true);
      }
      // Of another command: NOT_FOUND too. Never run, and not a UUID: NOT_FOUND and MALFORMED.
      const other = defineCommand('orders.cancel', { input: z.object({}) });
      await expect(fete.commandResult(other, id, { principal: ann })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(fete.commandResult(uuidv7(), { principal: ann })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(fete.commandResult('o-3', { principal: ann })).rejects.toMatchObject({ code: 'MALFORMED' });
      // A recorded rejection is read back as the rejection.
      const rejected = uuidv7();
      await fete.execute(placeOrder, { sku: 'none', qty: 1 }, { id: rejected, principal: ann }).catch(() => undefined);
      await expect(fete.commandResult(rejected, { principal: ann })).rejects.toMatchObject({ code: 'REJECTED', details: { reason: 'OUT_OF_STOCK' } });
    });

    it('input is validated (transforms applied) before the handler runs, and a bad input runs nothing', async () => {
      const { fete } = await h.open();
      const shout = defineCommand('text.shout', { input: z.string().transform((s) => s.length), output: z.number().transform((n) => `${n}!`) });
      let got: unknown;
      fete.handle(shout, (input) => {
        got = input;
        return input * 2;
      });
      await expect(fete.execute(shout, 'abc')).resolves.toBe('6!');
      expect(got).toBe(3);
      // @ts-expect-error a number is not the input type
      await expect(fete.execute(shout, 42)).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    });

    it('a query runs in a read-only transaction: its writes fail and nothing is recorded', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      await db.q.query(`INSERT INTO ${table} (id, sku) VALUES ('o1', 'a'), ('o2', 'b')`);
      fete.handle(listOrders, async (input, ctx) => {
        const res = await ctx.tx.query<{ id: string; sku: string }>(`SELECT id, sku FROM ${table} WHERE $1::text IS NULL OR sku = $1 ORDER BY id`, [input.sku ?? null]);
        return res.rows.map((r) => ({ orderId: r.id, sku: r.sku }));
      });
      await expect(fete.query(listOrders, { sku: 'b' })).resolves.toEqual([{ orderId: 'o2', sku: 'b' }]);
      const writer = defineQuery('orders.sneaky');
      fete.handle(writer, async (_input, ctx) => {
        await ctx.tx.query(`INSERT INTO ${table} (id, sku) VALUES ('o3', 'c')`);
        return 'wrote';
      });
      await expect(fete.query(writer, undefined)).rejects.toBeDefined();
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(2);
    });

    // ctx.tx refuses transaction control (server/store/handler-sql.ts): the query stays read-only.
    it('a query cannot leave its read-only transaction: SET TRANSACTION READ WRITE or COMMIT in it writes nothing', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      const escape = defineQuery('orders.escape', { input: z.enum(['read-write', 'commit']), output: z.string() });
      fete.handle(escape, async (how, ctx) => {
        const escaped = await ctx.tx.query(how === 'commit' ? 'COMMIT' : 'SET TRANSACTION READ WRITE').catch((e: unknown) => e);
        expect(escaped).toMatchObject({ code: 'FORBIDDEN' });
        await ctx.tx.query(`INSERT INTO ${table} (id, sku) VALUES ($1, 'x')`, [how]).catch(() => undefined);
        return 'done';
      });
      await fete.query(escape, 'read-write').catch(() => undefined);
      await fete.query(escape, 'commit').catch(() => undefined);
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(0);
    });

    it('a command without an owner fails NO_HANDLER, and a query is not executable as a command', async () => {
      const { fete } = await h.open();
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 })).rejects.toMatchObject({ code: 'NO_HANDLER' });
      fete.handle(listOrders, () => []);
      await expect(fete.commands.call({ kind: 'command', name: 'orders.list', input: {}, principal: undefined })).rejects.toMatchObject({ code: 'NO_HANDLER' });
    });

    it('a handler past its deadline fails TIMEOUT, its signal aborts, and its writes roll back', async () => {
      const { fete, db } = await h.open();
      const table = await ordersTable(db);
      let aborted = false;
      fete.handle(
        placeOrder,
        async (_input, ctx) => {
          await ctx.tx.query(`INSERT INTO ${table} (id, sku) VALUES ($1, 'x')`, [ctx.id]);
          await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
          aborted = true;
          return { orderId: 'late', number: 0 };
        },
        { timeoutMs: 100 },
      );
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(aborted).toBe(true);
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(0);
    });

    it('calls are counted by name and outcome', async () => {
      const { fete } = await h.open();
      fete.handle(placeOrder, (input, ctx) => (input.sku === 'none' ? ctx.reject('OUT_OF_STOCK') : { orderId: 'o', number: 1 }));
      const id = uuidv7();
      await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      await fete.execute(placeOrder, { sku: 'none', qty: 1 }).catch(() => undefined);
      const counts = Object.fromEntries(fete.commands.metrics.counts().map((c) => [c.outcome, c.count]));
      expect(counts).toEqual({ ok: 1, duplicate: 1, rejected: 1 });
      expect(fete.commands.metrics.recent('').failures[0]).toMatchObject({ name: 'orders.place', outcome: 'rejected', reason: 'OUT_OF_STOCK' });
    });
  });
}
