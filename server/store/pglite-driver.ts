// The embedded driver: PGlite (Postgres compiled to WASM) in a data directory or in memory.
// Fete's own PGlite runs in a worker thread (pglite-worker-driver.ts), off the event loop. An
// instance the app passes in (`store: { pglite: instance }`) cannot move there: it stays on the
// main thread, and its queries (synchronous WASM) block the event loop while they run, as before.
// Either way PGlite is one connection: every query and transaction of the process runs one at a
// time, so an open transaction (a listener's `ctx.tx`) makes all other store work wait.
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { FeteError } from '../../shared/index.js';
import { type Driver, type QueryResult, type Statement, type TxHandle, runInTransaction } from './driver.js';
import { assertNotHolding } from './pglite-tx-scope.js';
import { openWorkerPGliteDriver } from './pglite-worker-driver.js';

export { pgliteTxScope } from './pglite-tx-scope.js';

export interface PGliteDriverOptions {
  /** A data directory; `undefined` means in memory. */
  dataDir?: string;
  /** An already open PGlite instance to use instead (not closed by `close()`). It runs on the
   * main thread: its queries block the event loop while they run. */
  instance?: PGlite;
}

function toResult<R>(res: { rows: unknown[]; affectedRows?: number }): QueryResult<R> {
  return { rows: res.rows as R[], rowCount: res.rows.length > 0 ? res.rows.length : (res.affectedRows ?? 0) };
}

function closedError(): FeteError {
  return new FeteError('CLOSED', 'the transaction is already committed or rolled back');
}

/** Wraps PGlite's callback-style `transaction` into a handle that stays open until commit or rollback. */
function beginOn(db: PGlite): Promise<TxHandle> {
  return new Promise<TxHandle>((resolveHandle, rejectHandle) => {
    let finish!: (commit: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (finish = resolve));
    let closed = false;
    let opened = false;
    const outcome = db.transaction(async (tx: Transaction) => {
      opened = true;
      resolveHandle(handle(tx));
      if (!(await decided)) await tx.rollback();
    });
    outcome.catch((err: unknown) => {
      if (!opened) rejectHandle(err);
    });
    const end = async (commit: boolean) => {
      if (closed) throw closedError();
      closed = true;
      finish(commit);
      await outcome;
    };
    const handle = (tx: Transaction): TxHandle => ({
      async query<R>(sql: string | Statement, params?: readonly unknown[]) {
        if (closed) throw closedError();
        return toResult<R>(await tx.query(typeof sql === 'string' ? sql : sql.text, params as unknown[] | undefined));
      },
      async exec(sql: string) {
        if (closed) throw closedError();
        await tx.exec(sql);
      },
      commit: () => end(true),
      rollback: () => end(false).catch(() => undefined),
      get closed() {
        return closed;
      },
    });
  });
}

/** Opens the embedded driver: fete's own PGlite in a worker thread (`dataDir`, or in memory), or
 * the app's `instance` on the main thread (not closed by `close()`). */
export async function openPGliteDriver(options: PGliteDriverOptions = {}): Promise<Driver> {
  if (!options.instance) return openWorkerPGliteDriver(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
  const db = options.instance;
  let closed = false;
  const driver: Driver = {
    kind: 'pglite',
    async query<R>(sql: string | Statement, params?: readonly unknown[]) {
      if (closed) throw new FeteError('CLOSED', 'the store is closed');
      assertNotHolding(driver);
      return toResult<R>(await db.query(typeof sql === 'string' ? sql : sql.text, params as unknown[] | undefined));
    },
    begin() {
      if (closed) return Promise.reject(new FeteError('CLOSED', 'the store is closed'));
      try {
        assertNotHolding(driver);
      } catch (err) {
        return Promise.reject(err);
      }
      return beginOn(db);
    },
    transaction: (fn) => runInTransaction(driver, fn),
    async listen(channel, fn) {
      // In-process NOTIFY: PGlite delivers after the notifying transaction commits.
      const unlisten = await db.listen(channel, fn);
      return async () => {
        if (!closed) await unlisten();
      };
    },
    async close() {
      closed = true; // the app's instance: the app closes it
    },
  };
  return driver;
}
