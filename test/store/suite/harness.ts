// The store suite's harness: an Engine gives each test a fresh, isolated store (its own schema on a
// shared PGlite instance or PostgreSQL pool), and `open` creates a fete on it with short worker
// intervals, stopped after the test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../../shared/index.js';
import { type Fete, type FeteOptions, createFete } from '../../../server/index.js';
import type { StoreOption } from '../../../server/options.js';
import type { Queryable } from '../../../server/store/driver.js';
import { type Tables, tablesFor } from '../../../server/store/tables.js';

export const topics = defineTopics({
  orderPlaced: defineTopic('orders.{orderId}.placed', {
    kind: 'domain',
    schema: z.object({ orderId: z.string(), total: z.number(), at: z.date().optional(), big: z.bigint().optional() }),
  }),
  orderShipped: defineTopic('orders.{orderId}.shipped', { kind: 'domain', schema: z.object({ orderId: z.string() }) }),
  audit: defineTopic('audit.{kind}', { kind: 'integration', schema: z.object({ kind: z.string(), msg: z.string() }) }),
});
export type Topics = typeof topics;

/** One test's store: the fete store option, its schema, and raw SQL on the same database. */
export interface TestStore {
  store: StoreOption;
  schema: string;
  tables: Tables;
  /** Raw queries outside fete (as another process or an operator would). */
  q: Queryable;
  rows<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

export interface Engine {
  readonly name: 'pglite' | 'postgres';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  fresh(): TestStore;
}

/** Worker settings that make tests fast: short polls and leases, quick rescue. */
export const FAST_WORKER = { leaseMs: 2000, heartbeatMs: 200, rescueIntervalMs: 50, pollIntervalMs: 50 } as const;

export interface Harness {
  engine: Engine;
  /** A fete on a fresh store (or on `db` to share one), stopped (without draining) after the test. */
  open(options?: Partial<FeteOptions<Topics>>, db?: TestStore): Promise<{ fete: Fete<Topics>; db: TestStore }>;
  /** Deliveries not yet done (pending, running or retrying; dead letters excluded). */
  backlog(db: TestStore): Promise<number>;
}

export function useHarness(engine: Engine): Harness {
  const opened: Array<Fete<Topics>> = [];
  beforeAll(() => engine.setup(), 120_000);
  afterEach(async () => {
    for (const f of opened.splice(0)) await f.stop({ drain: false }).catch(() => undefined);
  });
  afterAll(() => engine.teardown(), 60_000);
  return {
    engine,
    async open(options = {}, given) {
      const db = given ?? engine.fresh();
      const fete = await createFete({
        topics,
        store: db.store,
        schema: db.schema,
        worker: FAST_WORKER,
        ...options,
      });
      opened.push(fete);
      return { fete, db };
    },
    async backlog(db) {
      const [row] = await db.rows<{ n: number | string }>(`SELECT count(*) AS n FROM ${db.tables.deliveries} WHERE state <> 'dead'`);
      return Number(row!.n);
    },
  };
}

export function testStore(store: StoreOption, schema: string, q: Queryable): TestStore {
  return {
    store,
    schema,
    tables: tablesFor(schema),
    q,
    rows: async <R>(sql: string, params?: unknown[]) => (await q.query<R>(sql, params)).rows,
  };
}
