// The PostgreSQL driver, over node-postgres: a `pg.Pool` the app already has (so fete's tables and
// the app's share transactions), or one fete makes from a connection URL. LISTEN holds one client
// of the pool for as long as the driver is open, and re-listens after a lost connection.
import createDebug from 'debug';
import pg from 'pg';
import { FeteError } from '../../shared/index.js';
import { type BeginOptions, type Driver, type QueryResult, type Statement, type TxHandle, runInTransaction } from './driver.js';

const debug = createDebug('fete:store');

export interface PgDriverOptions {
  /** A pool to use (not ended by `close()`), or a `postgres://` URL to make one from. */
  pool: pg.Pool | string;
  /** Pool size when fete makes the pool from a URL. A running attempt that uses ctx.tx holds a
   * connection until it completes; LISTEN holds one for good. @default 20 */
  poolSize?: number;
  /** Wait before re-listening after the LISTEN connection fails. @default 1000 */
  reconnectDelayMs?: number;
}

function toResult<R>(res: pg.QueryResult): QueryResult<R> {
  return { rows: res.rows as R[], rowCount: res.rows.length > 0 ? res.rows.length : (res.rowCount ?? 0) };
}

function config(sql: string | Statement, params: readonly unknown[] | undefined): pg.QueryConfig {
  return typeof sql === 'string'
    ? { text: sql, values: params as unknown[] | undefined }
    : { name: sql.name, text: sql.text, values: params as unknown[] | undefined };
}

function closedError(): FeteError {
  return new FeteError('CLOSED', 'the transaction is already committed or rolled back');
}

/** The last result of a simple query that held several statements (node-postgres answers an array). */
function lastOf(res: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(res) ? res[res.length - 1]! : res;
}

/**
 * A transaction on one pooled client. Round trips are what a short transaction costs (each one a
 * wake-up of a PostgreSQL backend and of this process, worse on a busy machine), so:
 * - BEGIN is sent with the first statement: in the same simple query when that statement has no
 *   parameters (`BEGIN; <sql>`), else just before it. A transaction that runs nothing sends
 *   nothing. (With `idleTimeoutMs` it is sent at once, with its SET LOCAL, as before: the timeout
 *   guards a transaction held open.) PostgreSQL takes a transaction's snapshot at its first
 *   statement anyway, so a later BEGIN changes nothing a caller can see.
 * - `deferToCommit(sql)` queues a statement without parameters that COMMIT carries:
 *   `<sql>; COMMIT` in one simple query (the command ledger's result record).
 * A command that only claims its id and records its result is then 2 round trips instead of 4.
 */
async function beginOn(pool: pg.Pool, options: BeginOptions = {}): Promise<TxHandle> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no error listener of the pool's: the connection dying while the
  // transaction sits idle (idle_in_transaction_session_timeout, a restart) would otherwise be an
  // unhandled 'error' event. Keep it; the next query fails and the client is discarded.
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  const release = () => {
    client.off('error', onError);
    client.release(broken);
  };
  const idle = options.idleTimeoutMs;
  /** BEGIN, once sent (or the first statement that carried it): later statements wait for it. */
  let begun: Promise<unknown> | undefined;
  if (idle !== undefined) {
    try {
      // One round trip: BEGIN and the idle timeout (an integer fete computed) as a simple query.
      begun = client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1, Math.floor(idle))}`);
      await begun;
    } catch (err) {
      broken ??= err as Error;
      release();
      throw err;
    }
  }
  let closed = false;
  const deferred: string[] = [];
  /** Runs `sql` in the transaction, sending BEGIN first (with it, when it has no parameters). */
  const run = async (sql: string | Statement, params?: readonly unknown[]): Promise<pg.QueryResult> => {
    if (closed) throw closedError();
    if (begun === undefined) {
      if (typeof sql === 'string' && (params === undefined || params.length === 0)) {
        const first = client.query(`BEGIN; ${sql}`);
        begun = first.catch(() => undefined); // its failure is the first statement's to report
        return lastOf(await first);
      }
      begun = client.query('BEGIN');
      await begun;
    } else await begun;
    return lastOf(await client.query(config(sql, params)));
  };
  const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
    if (closed) throw closedError();
    closed = true;
    try {
      if (begun === undefined && (sql === 'ROLLBACK' || deferred.length === 0)) return; // nothing was sent
      await begun;
      const script = sql === 'COMMIT' ? [...(begun === undefined ? ['BEGIN'] : []), ...deferred, 'COMMIT'].join('; ') : 'ROLLBACK';
      const res = lastOf(await client.query(script));
      // COMMIT of a transaction that had an error answers ROLLBACK: the caller must know. Only a
      // statement that failed and whose error was caught gets here (a handler that went on): the
      // same call fails the same way again, so it is INTERNAL, as PGlite's 25P02 is, not a
      // retryable outage (probe3: such a command answered STORE_UNAVAILABLE, retried forever).
      if (sql === 'COMMIT' && res.command === 'ROLLBACK')
        throw new FeteError('INTERNAL', 'the transaction was rolled back by the database: a statement in it failed, and its error was caught instead of ending the handler');
    } catch (err) {
      if (!(err instanceof FeteError)) broken ??= err as Error;
      throw err;
    } finally {
      release();
    }
  };
  return {
    async query<R>(sql: string | Statement, params?: readonly unknown[]) {
      return toResult<R>(await run(sql, params));
    },
    async exec(sql: string) {
      await run(sql);
    },
    deferToCommit(sql: string) {
      if (closed) throw closedError();
      deferred.push(sql);
    },
    commit: () => end('COMMIT'),
    rollback: () => end('ROLLBACK').catch(() => undefined),
    get closed() {
      return closed;
    },
  };
}

export async function openPgDriver(options: PgDriverOptions): Promise<Driver> {
  const owned = typeof options.pool === 'string';
  const pool =
    typeof options.pool === 'string'
      ? new pg.Pool({ connectionString: options.pool, max: options.poolSize ?? 20 })
      : options.pool;
  if (owned) pool.on('error', (err) => debug('idle pool client error: %s', err.message));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    if (owned) await pool.end().catch(() => undefined);
    throw new FeteError('STORE_UNAVAILABLE', `could not connect to PostgreSQL: ${(err as Error).message}`, { cause: err });
  }
  const reconnectDelayMs = options.reconnectDelayMs ?? 1000;
  let closed = false;
  const listeners = new Set<ListenerLoop>();

  const driver: Driver = {
    kind: 'postgres',
    async query<R>(sql: string | Statement, params?: readonly unknown[]) {
      if (closed) throw new FeteError('CLOSED', 'the store is closed');
      return toResult<R>(await pool.query(config(sql, params)));
    },
    begin(options) {
      if (closed) return Promise.reject(new FeteError('CLOSED', 'the store is closed'));
      return beginOn(pool, options);
    },
    transaction: (fn) => runInTransaction(driver, fn),
    async listen(channel, fn, onReconnect) {
      const loop = new ListenerLoop(pool, channel, fn, onReconnect, reconnectDelayMs);
      listeners.add(loop);
      await loop.start();
      return async () => {
        listeners.delete(loop);
        await loop.stop();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((l) => l.stop()));
      if (owned) await pool.end();
    },
  };
  return driver;
}

/** One dedicated LISTEN connection that comes back after failures. */
class ListenerLoop {
  #client: pg.PoolClient | undefined;
  #detach: (() => void) | undefined;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly fn: (payload: string) => void,
    private readonly onReconnect: (() => void) | undefined,
    private readonly delayMs: number,
  ) {}

  async start(): Promise<void> {
    const client = await this.pool.connect();
    const onNotification = (msg: pg.Notification) => {
      if (msg.channel === this.channel) this.fn(msg.payload ?? '');
    };
    const detach = () => {
      client.off('notification', onNotification);
      client.off('error', onError);
    };
    const onError = (err: Error) => {
      debug('LISTEN connection lost: %s', err.message);
      detach();
      if (this.#client === client) this.#client = undefined;
      client.release(err);
      this.#retry();
    };
    client.on('notification', onNotification);
    client.on('error', onError);
    try {
      // The channel is built from a validated schema name (see options.ts), never from user input.
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      detach();
      client.release(err as Error);
      throw err;
    }
    if (this.#stopped) {
      detach();
      client.release(true);
      return;
    }
    this.#client = client;
    this.#detach = detach;
  }

  #retry(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.start().then(
        () => this.onReconnect?.(),
        (err: Error) => {
          debug('re-LISTEN failed: %s', err.message);
          this.#retry();
        },
      );
    }, this.delayMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    this.#detach?.();
    // Destroy rather than return the client: a pooled connection should not keep a LISTEN.
    client.release(true);
  }
}
