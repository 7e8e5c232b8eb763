// ctx.tx refuses statements that would end or reshape the transaction fete commits for a handler
// (server/store/handler-sql.ts), and lets everything else through.
import { describe, expect, it } from 'vitest';
import { checkHandlerSql } from '../../server/store/handler-sql.js';

const refused = (sql: string) => {
  try {
    checkHandlerSql(sql);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'FORBIDDEN';
  }
};

describe("a handler's statements in ctx.tx", () => {
  it('transaction control and session settings are refused, whatever the case, spacing or comments', () => {
    for (const sql of [
      'COMMIT',
      'commit;',
      '  /* hi */ -- there\n End',
      'ROLLBACK',
      'abort',
      'BEGIN',
      'start transaction',
      'SAVEPOINT x',
      'RELEASE SAVEPOINT x',
      'PREPARE TRANSACTION \'t\'',
      'SET TRANSACTION READ WRITE',
      'set session characteristics as transaction read write',
      'SET search_path = evil',
      'SET statement_timeout = 1',
      'SET LOCAL transaction_read_only = off',
      'SET LOCAL "transaction_read_only" = off',
      'SET LOCAL ROLE admin',
      'RESET ALL',
      'DISCARD ALL',
      'SELECT 1; COMMIT',
      "INSERT INTO t VALUES ('a;b'); COMMIT",
      'SELECT 1;/* c */ SELECT 2',
    ])
      expect(refused(sql), sql).toBe(true);
  });

  it('single statements, quoted semicolons and keywords inside quotes or comments pass', () => {
    for (const sql of [
      'SELECT 1',
      'SELECT 1;',
      'SELECT 1; -- trailing comment',
      "INSERT INTO t (a) VALUES ('COMMIT; ROLLBACK')",
      "SELECT E'it\\'s; COMMIT'",
      'SELECT $$; COMMIT $$',
      'SELECT $tag$ ; END $tag$',
      'SELECT "commit" FROM "t;x"',
      '/* COMMIT; */ UPDATE t SET a = 1',
      'SET LOCAL statement_timeout = 1000',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      'DO $$ BEGIN PERFORM 1; END $$',
    ])
      expect(refused(sql), sql).toBe(false);
  });

  it('a statement that is not a string is MALFORMED', () => {
    expect(() => checkHandlerSql(42)).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
  });
});

// probe3: the function forms of what SET refuses. `SELECT set_config('search_path', 'x', false)` in
// a query handler changed the search path of every later transaction on that connection (PGlite
// has only one), and a session advisory lock outlived the handler's transaction.
describe('handler SQL: session effects through functions', () => {
  it('set_config that is not transaction-local, or that changes the mode or role, and session advisory locks and LISTEN are refused', () => {
    for (const sql of [
      "SELECT set_config('search_path', 'evil', false)",
      "select SET_CONFIG ( 'app.user' , $1 , $2 )",
      "SELECT pg_catalog.set_config('statement_timeout', '1', 'f')",
      "SELECT \"set_config\"('search_path', 'x', false)",
      "SELECT set_config('role', 'postgres', true)",
      "SELECT set_config('transaction_read_only', 'off', true)",
      'SELECT pg_advisory_lock(42)',
      'SELECT pg_try_advisory_lock_shared(1, 2)',
      'LISTEN anything',
      'unlisten *',
    ])
      expect(() => checkHandlerSql(sql), sql).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });

  it('transaction-local set_config and transaction advisory locks pass, as do the words in quotes or comments', () => {
    for (const sql of [
      "SELECT set_config('app.user_id', $1, true)",
      "SELECT set_config('app.tenant', concat('a', 'b'), TRUE), 1",
      'SELECT pg_advisory_xact_lock(42)',
      "SELECT 'set_config(x, y, false)' AS text -- pg_advisory_lock(1)",
      'SELECT set_config_count FROM t',
    ])
      expect(() => checkHandlerSql(sql), sql).not.toThrow();
  });
});
