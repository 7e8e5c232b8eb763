// One caller's commands must not stall everybody else. A command runs inside a store transaction
// opened before its handler starts, so a handler awaiting anything slow (a payment API, a mail
// server) holds a store connection all that time: PGlite has one, a pg.Pool `poolSize` (20). One
// signed-in principal calling such a command often enough (the socket's 64-in-flight cap is per
// socket, and it may open many) leaves other tenants' queries, the workers and /health waiting.
//
// Known fault, not fixed (see the probe note): the fix is not small — a per-principal cap on
// calls in flight across doors, and a handler that holds no connection until its first
// ctx.tx / ctx.emit (which moves the exactly-once claim out of the handler's transaction).
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
});
