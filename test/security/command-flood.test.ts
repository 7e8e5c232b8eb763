// One caller's commands must not stall everybody else. A command runs inside a store transaction
// opened before its handler starts, so a handler awaiting anything slow (a payment API, a mail
// server) holds a store connection all that time: PGlite has one, a pg.Pool `poolSize` (20). One
// signed-in principal calling such a command often enough (the socket's 64-in-flight cap is per
// socket, and it may open many) leaves other tenants' queries, the workers and /health waiting.
//
// Fixed by claiming the command id in its own short statement before the handler runs, the
// handler's transaction opening on its first ctx.tx (server/commands/run-request.ts), and a cap on
// each principal's calls in flight across every door (commands.maxInFlightPerPrincipal).
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fete, createFete } from '../../server/index.js';
import { defineCommand, defineQuery, uuidv7 } from '../../shared/index.js';
import { topics } from '../store/suite/harness.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';

const slow = defineCommand('payments.charge', { input: z.object({ cents: z.number() }), output: z.number() });
const list = defineQuery('orders.count', { input: z.object({}), output: z.number() });

const pg = await postgresAvailability();
const opened: Fete<typeof topics>[] = [];
afterAll(async () => {
  for (const f of opened) await f.stop({ drain: false }).catch(() => undefined);
});

/** Resolves with the query's answer, or 'still waiting' if it has none while the flood holds. */
async function queryDuringFlood(store: 'memory' | string, callers: number): Promise<unknown> {
  const fete = await createFete({ topics, store, schema: freshSchema('flood'), logger: false });
  opened.push(fete);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  fete.handle(slow, async (input) => {
    await gate; // the payment API answers when the test says so
    return input.cents;
  });
  fete.handle(list, async (_input, ctx) => (await ctx.tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n);
  const mallory = { id: 'mallory', tenant: 'A' };
  const flood = Array.from({ length: callers }, () => fete.execute(slow, { cents: 1 }, { id: uuidv7(), principal: mallory, tenant: 'A' }).catch(() => undefined));
  try {
    return await Promise.race([
      fete.query(list, {}, { principal: { id: 'victor' }, tenant: 'B' }),
      new Promise((r) => setTimeout(() => r('still waiting'), 10_000)),
    ]);
  } finally {
    release();
    await Promise.all(flood);
  }
}

describe("one principal's slow commands", () => {
  it("do not keep another tenant's query waiting (PGlite)", async () => {
    expect(await queryDuringFlood('memory', 2)).toBe(1);
  }, 30_000);

  it.skipIf(pg.skipReason !== undefined)("do not keep another tenant's query waiting (PostgreSQL, pool of 20)", async () => {
    expect(await queryDuringFlood(pg.url!, 25)).toBe(1);
  }, 30_000);

  it('over the per-principal cap, a call fails RATE_LIMITED at once and runs nothing; other principals and later calls still run', async () => {
    const fete = await createFete({ topics, store: 'memory', schema: freshSchema('flood'), logger: false, commands: { maxInFlightPerPrincipal: 3 } });
    opened.push(fete);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let ran = 0;
    fete.handle(slow, async (input) => {
      ran++;
      await gate;
      return input.cents;
    });
    fete.handle(list, () => 0);
    const mallory = { id: 'mallory', tenant: 'A' };
    const held = Array.from({ length: 3 }, () => fete.execute(slow, { cents: 1 }, { id: uuidv7(), principal: mallory, tenant: 'A' }));
    const over = await fete.execute(slow, { cents: 1 }, { id: uuidv7(), principal: mallory, tenant: 'A' }).catch((e: unknown) => e);
    expect(over).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 3 } });
    expect((over as { retryable?: boolean }).retryable).toBe(true);
    // Queries count too; another principal of the same tenant has its own budget.
    await expect(fete.query(list, {}, { principal: mallory, tenant: 'A' })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    const victor = fete.execute(slow, { cents: 2 }, { id: uuidv7(), principal: { id: 'victor', tenant: 'A' }, tenant: 'A' });
    release();
    expect(await Promise.all(held)).toEqual([1, 1, 1]);
    expect(await victor).toBe(2);
    expect(ran).toBe(4);
    // The slots came back.
    await expect(fete.execute(slow, { cents: 3 }, { id: uuidv7(), principal: mallory, tenant: 'A' })).resolves.toBe(3);
  }, 30_000);
});
