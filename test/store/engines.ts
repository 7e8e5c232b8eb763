// The engines the store suite runs against: PGlite in memory in its worker thread (one instance per
// test file, a schema per test) and PostgreSQL (one pool per test file, a schema per test, dropped at the end).
import pg from 'pg';
import type { Driver } from '../../server/store/driver.js';
import { openPgDriver } from '../../server/store/pg-driver.js';
import { openPGliteDriver } from '../../server/store/pglite-driver.js';
import { dropSchemas, freshSchema } from '../support/postgres.js';
import { type Engine, testStore } from './suite/harness.js';

export function pgliteEngine(): Engine {
  let driver: Driver | undefined;
  return {
    name: 'pglite',
    async setup() {
      // fete's own driver: PGlite in memory, in its worker thread, shared by the file's tests.
      driver = await openPGliteDriver();
    },
    async teardown() {
      await driver?.close();
    },
    fresh() {
      return testStore({ driver: driver! }, freshSchema(), driver!);
    },
  };
}

export function postgresEngine(url: () => string | undefined): Engine {
  let pool: pg.Pool | undefined;
  let driver: Driver | undefined;
  const schemas: string[] = [];
  return {
    name: 'postgres',
    async setup() {
      const u = url();
      if (!u) return;
      pool = new pg.Pool({ connectionString: u, max: 12 });
      driver = await openPgDriver({ pool });
    },
    async teardown() {
      if (!pool) return;
      await dropSchemas(pool, schemas);
      await driver?.close();
      await pool.end();
    },
    fresh() {
      const schema = freshSchema();
      schemas.push(schema);
      return testStore(pool!, schema, driver!);
    },
  };
}
