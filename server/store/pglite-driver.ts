// The embedded driver: PGlite (Postgres compiled to WASM) in a data directory or in memory.
// PGlite is one connection: every query and transaction of the process runs one at a time through
// its mutex, so an open transaction (a listener's `ctx.tx`) makes all other store work wait.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import { type DirLock, lockDataDir } from './dir-lock.js';
import { type Driver, type QueryResult, type Statement, type TxHandle, runInTransaction } from './driver.js';

const debug = createDebug('fete:store');

/**
 * Set around code that may hold a PGlite transaction (a listener attempt's `ctx.tx`,
 * `fete.transaction`'s function). While it holds one, any other use of the same driver from that
 * code would wait for the transaction it is itself holding, forever; the driver throws instead.
 */
export const pgliteTxScope = new AsyncLocalStorage<{ driver: Driver; holding(): boolean }>();

function assertNotHolding(driver: Driver): void {
  const scope = pgliteTxScope.getStore();
  if (scope?.driver === driver && scope.holding())
    throw new FeteError(
      'INVALID_OPTIONS',
      'this code holds a PGlite transaction (ctx.tx / ctx.emit, or fete.transaction) and used the store outside it; ' +
        'PGlite has one connection, so that would wait for itself. Use ctx.tx / ctx.emit (tx.query / tx.emit) instead.',
    );
}

export interface PGliteDriverOptions {
  /** A data directory; `undefined` means in memory. */
  dataDir?: string;
  /** An already open PGlite instance to use instead (not closed by `close()`). */
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

export async function openPGliteDriver(options: PGliteDriverOptions = {}): Promise<Driver> {
  let lock: DirLock | undefined;
  let db: PGlite;
  const owned = options.instance === undefined;
  if (options.instance) {
    db = options.instance;
  } else {
    if (options.dataDir !== undefined) lock = await lockDataDir(options.dataDir);
    try {
      const { PGlite } = await import('@electric-sql/pglite');
      debug('opening PGlite %s', options.dataDir ?? '(memory)');
      db = await PGlite.create(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
    } catch (err) {
      await lock?.release();
      throw new FeteError('STORE_UNAVAILABLE', `could not open PGlite at ${options.dataDir ?? 'memory'}: ${(err as Error).message}`, { cause: err });
    }
  }
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
      if (closed) return;
      closed = true;
      try {
        if (owned) await db.close();
      } finally {
        await lock?.release();
      }
    },
  };
  return driver;
}
