// The one interface fete's store code talks to, implemented by the PGlite driver (embedded, one
// connection) and the node-postgres driver (a pool). Every query fete runs is plain SQL with
// numbered parameters, so the same text runs on both engines.
import type { FeteError } from '../../shared/index.js';

export interface QueryResult<R> {
  rows: R[];
  /** Rows returned, or rows affected by INSERT/UPDATE/DELETE without RETURNING. */
  rowCount: number;
}

/** One of fete's own hot statements: PostgreSQL prepares it once per connection under `name`
 * (parse and plan once; measured: the claim goes from 0.76 to 0.52 ms a call). PGlite runs the text. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Makes a Statement; the name hashes the text, so each schema's text gets its own name. */
export function statement(op: string, text: string): Statement {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return { name: `fete_${op}_${(h >>> 0).toString(16)}`, text };
}

/** Anything that runs one SQL statement: the driver itself (autocommit) or an open transaction. */
export interface Queryable {
  query<R = Record<string, unknown>>(sql: string | Statement, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** An open transaction. Exactly one of `commit` / `rollback` ends it; afterwards `query` throws CLOSED. */
export interface TxHandle extends Queryable {
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** PostgreSQL only: a statement without parameters (values as `sqlLiteral`s) sent in the same
   * round trip as COMMIT, after everything else; if it fails the transaction rolls back and
   * `commit` rejects. Drivers without it: run the statement with `query` before committing. */
  deferToCommit?(sql: string): void;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  readonly closed: boolean;
}

export type DriverKind = 'pglite' | 'postgres';

export interface BeginOptions {
  idleTimeoutMs?: number;
}

export interface Driver extends Queryable {
  readonly kind: DriverKind;
  /** Opens a transaction. On PGlite every other query of the process waits until it ends.
   * `idleTimeoutMs` (PostgreSQL): the server ends the transaction if it sits idle that long. */
  begin(options?: BeginOptions): Promise<TxHandle>;
  /** Runs `fn` in a transaction: commit when it resolves, rollback when it throws. */
  transaction<T>(fn: (tx: TxHandle) => Promise<T>): Promise<T>;
  /** Subscribes to NOTIFY on `channel`; the returned function unsubscribes. `onReconnect` is
   * called after a lost listening connection is back (notifications may have been missed). */
  listen(channel: string, fn: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  /** Closes what the driver opened itself (a pool it made, the PGlite instance, the lock file). */
  close(): Promise<void>;
}

/** Shared `transaction` on top of `begin`. */
export async function runInTransaction<T>(driver: Pick<Driver, 'begin'>, fn: (tx: TxHandle) => Promise<T>): Promise<T> {
  const tx = await driver.begin();
  let result: T;
  try {
    result = await fn(tx);
  } catch (err) {
    if (!tx.closed) await tx.rollback().catch(() => undefined);
    throw err;
  }
  if (!tx.closed) await tx.commit();
  return result;
}

/** Maps a driver-level failure to a FeteError: connection problems are STORE_UNAVAILABLE
 * (retryable), everything else keeps its database error as `cause`. */
export type ErrorMapper = (err: unknown) => FeteError;
