// probe3: a command handler that catches the error of one of its statements and returns. The store
// has aborted the transaction, so the commit rolls back; the caller must be told, with the same code
// on both engines. Before, PostgreSQL answered STORE_UNAVAILABLE (retryable: the browser client and
// HTTP callers retried a call that fails the same way every time) where PGlite answered INTERNAL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type StoreOption, createFete } from '../../server/index.js';
import { defineCommand, defineTopic, defineTopics, isFeteError } from '../../shared/index.js';
import { freshSchema, postgresAvailability } from '../support/postgres.js';

const topics = defineTopics({ note: defineTopic('notes.{id}', { kind: 'domain', schema: z.object({ id: z.string() }) }) });
const insert = defineCommand('probe3.insert-once', { input: z.object({ id: z.string() }), output: z.string() });

let pgUrl: string | undefined;
let skip: string | undefined;
beforeAll(async () => {
  const a = await postgresAvailability();
  pgUrl = a.url;
  skip = a.skipReason;
});
afterAll(() => {
  if (skip) console.warn(`PostgreSQL case skipped: ${skip}`);
});

async function caughtFailure(store: StoreOption): Promise<{ code: string; retryable: boolean; rows: number }> {
  const fete = await createFete({ topics, security: { auth: 'anonymous' }, store, schema: freshSchema('p3c') });
  try {
    await fete.transaction((tx) => tx.query('CREATE TABLE IF NOT EXISTS p3_once (id text PRIMARY KEY)'));
    await fete.transaction((tx) => tx.query("INSERT INTO p3_once VALUES ('a') ON CONFLICT DO NOTHING"));
    fete.handle(insert, async ({ id }, ctx) => {
      await ctx.tx.query("INSERT INTO p3_once VALUES ('b')");
      try {
        await ctx.tx.query('INSERT INTO p3_once VALUES ($1)', [id]); // a unique violation
      } catch {
        return 'already there'; // the store aborted the transaction: this cannot commit
      }
      return 'inserted';
    });
    const err = await fete.execute(insert, { id: 'a' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isFeteError(err)) throw new Error(`expected a FeteError, got ${String(err)}`);
    const rows = await fete.transaction((tx) => tx.query<{ n: number }>("SELECT count(*)::int AS n FROM p3_once WHERE id = 'b'"));
    await fete.transaction((tx) => tx.query('DROP TABLE p3_once'));
    return { code: err.code, retryable: err.retryable, rows: rows.rows[0]!.n };
  } finally {
    await fete.stop();
  }
}

describe('a handler that catches its failed statement and returns', () => {
  it('fails INTERNAL, not retryable, and commits nothing (PGlite)', async () => {
    expect(await caughtFailure({ pglite: 'memory://' })).toEqual({ code: 'INTERNAL', retryable: false, rows: 0 });
  });

  it('fails INTERNAL, not retryable, and commits nothing (PostgreSQL)', async (ctx) => {
    if (!pgUrl) return ctx.skip();
    expect(await caughtFailure(pgUrl)).toEqual({ code: 'INTERNAL', retryable: false, rows: 0 });
  });
});
