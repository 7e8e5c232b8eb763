// The exactly-once claim of a command id, taken before its handler runs (011_command_claims.sql):
// a duplicate of a running command waits for its outcome, a claim left by a crashed process is
// taken over once its lease expired, and the handler's writes commit with its result or not at
// all. Run against every store engine (commands-pglite/-postgres.test.ts).
import { describe, expect, it } from 'vitest';
import { isFeteError, uuidv7 } from '../../shared/index.js';
import type { Harness, TestStore } from '../store/suite/harness.js';
import { topics } from '../store/suite/harness.js';
import { waitFor } from '../support/wait.js';
import { placeOrder } from './commands-suite.js';

async function count(db: TestStore, sql: string, params?: unknown[]): Promise<number> {
  const [row] = await db.rows<{ n: number | string }>(sql, params);
  return Number(row!.n);
}

/** A 'running' claim of `id` by another (crashed or still running) process, its lease ending `leaseSql` from now. */
async function foreignClaim(db: TestStore, id: string, leaseSql: string): Promise<void> {
  await db.q.query(
    `INSERT INTO "${db.schema}".command_results (tenant, id, name, state, expires_at, actor, owner, lease_until)
     VALUES ('', $1, 'orders.place', 'running', now() + interval '1 day', NULL, 'another-process', now() + interval '${leaseSql}')`,
    [id],
  );
}

export function commandClaimTests(h: Harness): void {
  describe('command claims', () => {
    it('a duplicate of a command still running waits for it and gets its first result; the handler runs once', async () => {
      const { fete } = await h.open();
      let calls = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      fete.handle(placeOrder, async (_input, ctx) => {
        calls++;
        await gate;
        return { orderId: ctx.id, number: calls };
      });
      const id = uuidv7();
      const first = fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      await waitFor(() => calls === 1);
      let duplicateSettled = false;
      const duplicate = fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id }).finally(() => (duplicateSettled = true));
      // Long enough for its claim to find the id running; it must still be waiting, not running or answered.
      await new Promise((r) => setTimeout(r, 200));
      expect(duplicateSettled).toBe(false);
      release();
      const [a, b] = await Promise.all([first, duplicate]);
      expect(a).toEqual({ orderId: id, number: 1 });
      expect(b).toEqual(a);
      expect(calls).toBe(1);
    });

    it('a claim whose lease expired (its process crashed mid-handler) is taken over: a retry runs the handler once', async () => {
      const { fete, db } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, (_input, ctx) => ({ orderId: ctx.id, number: ++calls }));
      const id = uuidv7();
      await foreignClaim(db, id, '-1 second');
      const first = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      expect(first).toEqual({ orderId: id, number: 1 });
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })).resolves.toEqual(first);
      expect(calls).toBe(1);
      const [row] = await db.rows<{ state: string; owner: string | null }>(`SELECT state, owner FROM "${db.schema}".command_results WHERE id = $1`, [id]);
      expect(row).toEqual({ state: 'ok', owner: null });
    });

    it('a claim still within its lease is not taken over: a retry waits up to its timeout, fails TIMEOUT, and runs nothing', async () => {
      const { fete, db } = await h.open();
      let calls = 0;
      fete.handle(placeOrder, (_input, ctx) => ({ orderId: ctx.id, number: ++calls }), { timeoutMs: 200 });
      const id = uuidv7();
      await foreignClaim(db, id, '1 hour');
      const err = await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id }).catch((e: unknown) => e);
      expect(isFeteError(err, 'TIMEOUT')).toBe(true);
      expect(calls).toBe(0);
      await expect(fete.commandResult(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it("a handler's ctx.tx writes and emits commit with its result, together", async () => {
      const { fete, db } = await h.open();
      const table = `"${db.schema}".claim_orders`;
      await db.q.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
      fete.handle(placeOrder, async (_input, ctx) => {
        await ctx.tx.query(`INSERT INTO ${table} (id) VALUES ($1)`, [ctx.id]);
        await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: 1 });
        return { orderId: ctx.id, number: 1 };
      });
      const id = uuidv7();
      await fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id });
      expect(await count(db, `SELECT count(*) AS n FROM ${table} WHERE id = $1`, [id])).toBe(1);
      expect(await count(db, `SELECT count(*) AS n FROM ${db.tables.events}`)).toBe(1);
      expect(await count(db, `SELECT count(*) AS n FROM "${db.schema}".command_results WHERE id = $1 AND state = 'ok'`, [id])).toBe(1);
    });

    it("a handler whose claim was taken over meanwhile commits nothing: not its ctx.tx writes, its emits or its result", async () => {
      const { fete, db } = await h.open();
      const table = `"${db.schema}".claim_orders`;
      await db.q.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
      fete.handle(placeOrder, async (_input, ctx) => {
        // Another process took the id over (as after a lease expiry) while this handler ran.
        await db.q.query(`UPDATE "${db.schema}".command_results SET owner = 'another-process' WHERE id = $1`, [ctx.id]);
        await ctx.tx.query(`INSERT INTO ${table} (id) VALUES ($1)`, [ctx.id]);
        await ctx.emit(topics.orderPlaced, { orderId: ctx.id, total: 1 });
        return { orderId: ctx.id, number: 1 };
      });
      const id = uuidv7();
      await expect(fete.execute(placeOrder, { sku: 'a', qty: 1 }, { id })).rejects.toMatchObject({ code: "LEASE_LOST" });
      expect(await count(db, `SELECT count(*) AS n FROM ${table}`)).toBe(0);
      expect(await count(db, `SELECT count(*) AS n FROM ${db.tables.events}`)).toBe(0);
      const [row] = await db.rows<{ state: string; owner: string }>(`SELECT state, owner FROM "${db.schema}".command_results WHERE id = $1`, [id]);
      expect(row).toEqual({ state: 'running', owner: 'another-process' });
    });
  });
}
