// The default embedded driver: PGlite in a worker thread (pglite-worker.js, through
// pglite-bridge.ts), so that no query, replay or initdb ever runs on the server's event loop.
// Measured before: 2,000 sequential emits kept a 10 ms timer from firing for 10 s, and a replay of
// 20,000 events for 64 subscriptions froze HTTP for 111 s (bench/scenarios/embedded.ts now).
//
// Still one connection: the worker serves requests in arrival order, a transaction holds the
// connection until it ends (others wait, as before), NOTIFY is relayed from the worker.
// The data directory's lock stays on this thread (dir-lock.ts), held for the driver's lifetime.
//
// Failures that retrying will not clear (store-failure.ts) mark the driver broken: calls fail fast
// with STORE_FAILED, and at most once a second a call first reopens PGlite in a new worker, so a
// directory that becomes writable again works without restarting the process. An in-memory store
// is not reopened (that would be a new, empty database).
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import { type DirLock, lockDataDir } from './dir-lock.js';
import { type Driver, type QueryResult, type Statement, type TxHandle, runInTransaction } from './driver.js';
import { PGliteBridge } from './pglite-bridge.js';
import { assertNotHolding } from './pglite-tx-scope.js';
import { pgliteTemplate } from './pglite-template.js';
import { isPermanentStoreFault, storeFailed } from './store-failure.js';

const debug = createDebug('fete:store');

/** A broken store tries to reopen at most this often (each try is an open of the directory). */
const REOPEN_INTERVAL_MS = 1000;
/** An open that takes longer than this (a wedged file system) counts as failed. */
const OPEN_TIMEOUT_MS = 120_000;

interface Listener {
  fn(payload: string): void;
  onReconnect: (() => void) | undefined;
}

interface RawResult {
  rows: unknown[];
  affectedRows: number;
}

function toResult<R>(res: RawResult): QueryResult<R> {
  return { rows: res.rows as R[], rowCount: res.rows.length > 0 ? res.rows.length : res.affectedRows };
}

function textOf(sql: string | Statement): string {
  return typeof sql === 'string' ? sql : sql.text;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function openWorkerPGliteDriver(options: { dataDir?: string }): Promise<Driver> {
  const { dataDir } = options;
  const where = dataDir ?? 'in memory';
  const channels = new Map<string, Set<Listener>>();
  let lock: DirLock | undefined;
  let bridge: PGliteBridge;
  let broken: FeteError | undefined;
  let reopening: Promise<void> | undefined;
  let lastOpen = 0;
  let closed = false;

  /** Starts a worker and opens PGlite in it; the listened channels are listened again. */
  const start = async (): Promise<PGliteBridge> => {
    lastOpen = Date.now();
    const b: PGliteBridge = new PGliteBridge(
      (channel, payload) => {
        for (const l of channels.get(channel) ?? []) l.fn(payload);
      },
      (err) => {
        if (b === bridge && !closed) broken = storeFailed(err, where);
      },
    );
    try {
      const { fromTemplate } = await withTimeout(b.call<{ fromTemplate: boolean }>('open', { dataDir, template: pgliteTemplate() }), OPEN_TIMEOUT_MS, 'opening PGlite');
      debug('PGlite open in a worker thread: %s%s', where, fromTemplate ? ' (fresh, from the template)' : '');
      for (const channel of channels.keys()) await b.call('listen', { channel });
    } catch (err) {
      await b.terminate();
      throw err;
    }
    return b;
  };

  /** Replaces a broken instance by a new one, then tells listeners that they may have missed
   * notifications. Throws the failure when the store still cannot be opened. */
  const recover = (): Promise<void> => {
    reopening ??= (async () => {
      const old = bridge;
      if (dataDir === undefined) throw broken!;
      if (Date.now() - lastOpen < REOPEN_INTERVAL_MS) throw broken!;
      debug('reopening PGlite at %s after: %s', where, broken!.message);
      // A clean close when the instance still answers; a stuck or dead one is simply dropped
      // (what is committed is in the WAL, as after a crash).
      await withTimeout(old.call('close'), 2000, 'closing PGlite').catch(() => undefined);
      await old.terminate();
      try {
        bridge = await start();
      } catch (err) {
        lastOpen = Date.now();
        broken = storeFailed(err, where);
        throw broken;
      }
      broken = undefined;
      for (const set of channels.values()) for (const l of set) l.onReconnect?.();
    })().finally(() => (reopening = undefined));
    return reopening;
  };

  /** Failures of one request: a closed transaction is CLOSED; a permanent fault breaks the driver. */
  const classify = (err: unknown, b: PGliteBridge): unknown => {
    if ((err as { code?: unknown }).code === 'FETE_CLOSED') return new FeteError('CLOSED', (err as Error).message);
    if (isPermanentStoreFault(err)) {
      const failed = storeFailed(err, where);
      if (b === bridge && !broken) broken = failed;
      return failed;
    }
    return err;
  };

  const call = async <T>(op: string, args: Record<string, unknown>): Promise<T> => {
    if (closed) throw new FeteError('CLOSED', 'the store is closed');
    if (broken) await recover();
    const b = bridge;
    try {
      return await b.call<T>(op, args);
    } catch (err) {
      throw classify(err, b);
    }
  };

  if (dataDir !== undefined) lock = await lockDataDir(dataDir);
  try {
    bridge = await start();
  } catch (err) {
    await lock?.release();
    throw new FeteError('STORE_UNAVAILABLE', `could not open PGlite at ${where}: ${(err as Error).message}`, { cause: err });
  }

  const driver: Driver = {
    kind: 'pglite',
    async query<R>(sql: string | Statement, params?: readonly unknown[]) {
      assertNotHolding(driver);
      return toResult<R>(await call<RawResult>('query', { sql: textOf(sql), params }));
    },
    async begin() {
      assertNotHolding(driver);
      const txId = await call<number>('begin', {});
      const b = bridge;
      let ended = false;
      const onTx = async <T>(op: string, args: Record<string, unknown>): Promise<T> => {
        try {
          return await b.call<T>(op, { ...args, tx: txId });
        } catch (err) {
          throw classify(err, b);
        }
      };
      const end = async (commit: boolean) => {
        if (ended) throw new FeteError('CLOSED', 'the transaction is already committed or rolled back');
        ended = true;
        await onTx('end', { commit });
      };
      const handle: TxHandle = {
        async query<R>(sql: string | Statement, params?: readonly unknown[]) {
          if (ended) throw new FeteError('CLOSED', 'the transaction is already committed or rolled back');
          return toResult<R>(await onTx<RawResult>('query', { sql: textOf(sql), params }));
        },
        async exec(sql: string) {
          if (ended) throw new FeteError('CLOSED', 'the transaction is already committed or rolled back');
          await onTx('exec', { sql });
        },
        commit: () => end(true),
        rollback: () => end(false).catch(() => undefined),
        get closed() {
          return ended;
        },
      };
      return handle;
    },
    transaction: (fn) => runInTransaction(driver, fn),
    async listen(channel, fn, onReconnect) {
      const l: Listener = { fn, onReconnect };
      let set = channels.get(channel);
      if (!set) {
        set = new Set();
        channels.set(channel, set);
        try {
          await call('listen', { channel });
        } catch (err) {
          channels.delete(channel);
          throw err;
        }
      }
      set.add(l);
      return async () => {
        set.delete(l);
        if (set.size > 0 || closed || channels.get(channel) !== set) return;
        channels.delete(channel);
        await call('unlisten', { channel }).catch(() => undefined);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await bridge.call('close').catch((err: Error) => debug('closing PGlite failed: %s', err.message));
        await bridge.terminate();
      } finally {
        await lock?.release();
      }
    },
  };
  return driver;
}
