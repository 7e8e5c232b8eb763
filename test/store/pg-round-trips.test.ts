// The PostgreSQL driver's short transactions (issue 14, command latency): BEGIN rides with the
// first statement and a deferred statement with COMMIT, so a command that claims its id and
// records its result is 2 round trips. Nothing about what a transaction means may change: one
// transaction, rolled back whole, a deferred statement that fails fails the commit. And the SQL
// literals those statements carry give back exactly the text they were made from.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver } from '../../server/store/driver.js';
import { openPgDriver } from '../../server/store/pg-driver.js';
import { sqlLiteral } from '../../server/store/sql-literal.js';
import { dropSchemas, freshSchema, postgresAvailability, watchPoolQueries } from '../support/postgres.js';

const availability = await postgresAvailability();
if (availability.skipReason) process.stdout.write(`[fete] skipping the PostgreSQL round-trip tests: ${availability.skipReason}\n`);

describe.skipIf(availability.skipReason !== undefined)('PostgreSQL transactions in fewer round trips', () => {
  const schema = freshSchema('rt');
  const table = `"${schema}".t`;
  let pool: pg.Pool;
  let driver: Driver;
  /** Simple queries (round trips) sent by the driver's clients. */
  const sent: string[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: availability.url!, max: 4 });
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE ${table} (k text PRIMARY KEY, v text)`);
    watchPoolQueries(pool, (text) => void sent.push(text));
    driver = await openPgDriver({ pool });
  });

  afterAll(async () => {
    await driver?.close();
    await dropSchemas(pool, [schema]);
    await pool.end();
  });

  it('BEGIN rides with a first statement without parameters, and later statements are in the same transaction', async () => {
    sent.length = 0;
    const tx = await driver.begin();
    const a = await tx.query<{ x: string }>('SELECT txid_current()::text AS x');
    const b = await tx.query<{ x: string }>('SELECT txid_current()::text AS x WHERE $1::int = 1', [1]);
    await tx.commit();
    expect(a.rows[0]!.x).toBe(b.rows[0]!.x);
    expect(sent).toEqual(['BEGIN; SELECT txid_current()::text AS x', 'SELECT txid_current()::text AS x WHERE $1::int = 1', 'COMMIT']);
  });

  it('a first statement with parameters is preceded by BEGIN, and a rollback undoes it', async () => {
    sent.length = 0;
    const tx = await driver.begin();
    await tx.query(`INSERT INTO ${table} (k, v) VALUES ($1, $2)`, ['rolled', 'back']);
    await tx.rollback();
    expect(sent[0]).toBe('BEGIN');
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE k = 'rolled'`)).rows[0].n).toBe(0);
  });

  it('a transaction that runs nothing sends nothing', async () => {
    sent.length = 0;
    const tx = await driver.begin();
    await tx.commit();
    const again = await driver.begin();
    await again.rollback();
    expect(sent).toEqual([]);
  });

  it('a deferred statement is sent with COMMIT, after the others, and dropped by a rollback', async () => {
    sent.length = 0;
    const tx = await driver.begin();
    await tx.query(`INSERT INTO ${table} (k, v) VALUES ('d1', 'first')`);
    tx.deferToCommit!(`UPDATE ${table} SET v = 'second' WHERE k = 'd1'`);
    await tx.commit();
    expect(sent.at(-1)).toBe(`UPDATE ${table} SET v = 'second' WHERE k = 'd1'; COMMIT`);
    expect((await pool.query(`SELECT v FROM ${table} WHERE k = 'd1'`)).rows).toEqual([{ v: 'second' }]);

    const dropped = await driver.begin();
    await dropped.query(`INSERT INTO ${table} (k, v) VALUES ('d2', 'kept?')`);
    dropped.deferToCommit!(`UPDATE ${table} SET v = 'never' WHERE k = 'd1'`);
    await dropped.rollback();
    expect((await pool.query(`SELECT k, v FROM ${table} WHERE k IN ('d1', 'd2') ORDER BY k`)).rows).toEqual([{ k: 'd1', v: 'second' }]);
  });

  it('a deferred statement that fails fails the commit, and nothing of the transaction is kept', async () => {
    const tx = await driver.begin();
    await tx.query(`INSERT INTO ${table} (k, v) VALUES ('f1', 'x')`);
    tx.deferToCommit!(`INSERT INTO ${table} (k, v) VALUES ('f1', 'duplicate key')`);
    await expect(tx.commit()).rejects.toThrow();
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE k = 'f1'`)).rows[0].n).toBe(0);
    // The pool still works (the failed client was discarded or cleaned up).
    expect((await driver.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a SQL literal gives back exactly its text, whatever it holds (quotes, backslashes, unicode)', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => !s.includes('\u0000') && !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '')));
    await fc.assert(
      fc.asyncProperty(text, async (s) => {
        const res = await driver.query<{ v: string }>(`SELECT ${sqlLiteral(s)} AS v`);
        expect(res.rows[0]!.v).toBe(s);
      }),
      { numRuns: 200 },
    );
    for (const s of ["'; DROP TABLE t; --", "\\'", "\\", "it's", "E'\\x41'"]) expect((await driver.query<{ v: string }>(`SELECT ${sqlLiteral(s)} AS v`)).rows[0]!.v).toBe(s);
    expect(() => sqlLiteral('a\u0000b')).toThrow(/NUL/);
    expect(sqlLiteral(null)).toBe('NULL');
    expect(() => sqlLiteral(Number.NaN)).toThrow();
  });
});
