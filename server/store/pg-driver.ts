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
  try {
    // One round trip: BEGIN and the idle timeout (an integer fete computed) as a simple query.
    await client.query(
      idle === undefined ? 'BEGIN' : `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1, Math.floor(idle))}`,
    );
  } catch (err) {
    broken ??= err as Error;
    release();
    throw err;
  }
  let closed = false;
  const end = async (sql: 'COMMIT' | 'ROLLBACK') => {
    if (closed) throw closedError();
    closed = true;
    try {
      const res = await client.query(sql);
      // COMMIT of a transaction that had an error answers ROLLBACK: the caller must know.
      if (sql === 'COMMIT' && res.command === 'ROLLBACK')
        throw new FeteError('STORE_UNAVAILABLE', 'the transaction was rolled back by the database (a statement in it failed)');
    } catch (err) {
      if (!(err instanceof FeteError)) broken ??= err as Error;
      throw err;
    } finally {
      release();
    }
  };
  return {
    async query<R>(sql: string | Statement, params?: readonly unknown[]) {
      if (closed) throw closedError();
      return toResult<R>(await client.query(config(sql, params)));
    },
    async exec(sql: string) {
      if (closed) throw closedError();
      await client.query(sql);
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
