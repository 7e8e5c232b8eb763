// Shared pieces of the durable benchmark: the shape every queue under test implements, the admin
// connection that creates and drops schemas, and the small waiting helpers the drains use.
import pg from 'pg';

export const DATABASE_URL = process.env.FETE_BENCH_DATABASE_URL ?? process.env.FETE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Listener / worker concurrency of every implementation (the setup). */
export const CONCURRENCY = 24;
/** Jobs per enqueue call (emitMany / addJobs / insert). */
export const ENQUEUE_BATCH = 1000;

export interface DrainResult {
  /** Enqueue rate of the backlog (batches of ENQUEUE_BATCH), before any worker ran. */
  enqueuePerSec: number;
  /** Start of the workers until every handler ran and every completion is committed. */
  drainMs: number;
  jobsPerSec: number;
}

/** One queue under test, in one configuration. Every call works in a schema of its own. */
export interface QueueImpl {
  /** Name in figures: "fete", "graphile-worker (batched)", ... */
  readonly name: string;
  readonly settings: Record<string, unknown>;
  /** Enqueues `n` jobs, then starts the workers and times until all are handled and completed. */
  drain(n: number): Promise<DrainResult>;
  /** Enqueue-to-handler latency (ms) of `n` sequential jobs, after `warmup` unmeasured ones. */
  latency(n: number, warmup: number): Promise<number[]>;
}

let admin: pg.Pool | undefined;
/** One small pool for schema management and state checks (not used by any implementation). */
export function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  return admin;
}

export async function closeAdmin(): Promise<void> {
  await admin?.end();
  admin = undefined;
}

let counter = 0;
export function freshSchema(prefix: string): string {
  return `bench_${prefix}_${process.pid}_${(counter++).toString(36)}`;
}

export async function dropSchema(schema: string): Promise<void> {
  await adminPool().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * Between enqueue and drain: ANALYZE the schema's tables, so every planner works from statistics of
 * the backlog (a live queue has them; a table filled a second ago does not, and pg-boss's fetch ran
 * at ~1,100 jobs/s until autovacuum's ANALYZE came by, ~9,700 after), then CHECKPOINT, so one
 * run's writes do not become the next run's checkpoint.
 */
export async function settleDatabase(schema: string): Promise<void> {
  const pool = adminPool();
  const tables = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    [schema],
  );
  for (const t of tables.rows) await pool.query(`ANALYZE "${schema}"."${t.name}"`);
  await pool.query('CHECKPOINT');
}

export async function count(sql: string): Promise<number> {
  const res = await adminPool().query<{ n: string }>(sql);
  return Number(res.rows[0]!.n);
}

/** Polls `check` until it holds (it is only called once the handlers are done, so polling does not load the drain). */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Counts handled jobs and resolves once `target` were handled. */
export class Latch {
  handled = 0;
  #target = Infinity;
  #resolve: (() => void) | undefined;

  /** Arms the latch: the returned promise resolves once `target` jobs were handled in total. */
  wait(target: number): Promise<void> {
    this.#target = target;
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      this.#check();
    });
  }

  add(n = 1): void {
    this.handled += n;
    this.#check();
  }

  #check(): void {
    if (this.handled >= this.#target && this.#resolve) {
      const r = this.#resolve;
      this.#resolve = undefined;
      r();
    }
  }
}

/** Sequential latency: `send` enqueues one job, and the handler calls `arrived` when it runs. */
export class Pinger {
  #waiter: ((t: number) => void) | undefined;

  arrived(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(performance.now());
  }

  async run(n: number, warmup: number, send: (i: number) => Promise<unknown>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < warmup + n; i++) {
      const handled = new Promise<number>((r) => (this.#waiter = r));
      const t0 = performance.now();
      await send(i);
      const t1 = await handled;
      if (i >= warmup) out.push(t1 - t0);
    }
    return out;
  }
}

export function rate(n: number, ms: number): number {
  return (n / ms) * 1000;
}
