// PostgreSQL for tests: the URL comes from FETE_TEST_DATABASE_URL. Outside CI a missing or
// unreachable server skips the Postgres suites with a printed reason; in CI (CI=true) it fails.
// Each test gets its own schema, so test files running in parallel never see each other's rows.
import pg from 'pg';

export interface PostgresAvailability {
  url: string | undefined;
  /** Why the suite is skipped (undefined when it runs). */
  skipReason: string | undefined;
}

/** Decides whether Postgres tests run. Throws in CI when the database is missing or unreachable. */
export async function postgresAvailability(): Promise<PostgresAvailability> {
  const url = process.env.FETE_TEST_DATABASE_URL;
  const ci = process.env.CI === 'true';
  if (!url) {
    if (ci) throw new Error('FETE_TEST_DATABASE_URL is not set, and CI=true: the PostgreSQL suite must run in CI');
    return { url: undefined, skipReason: 'FETE_TEST_DATABASE_URL is not set' };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { url, skipReason: undefined };
  } catch (err) {
    if (ci) throw new Error(`PostgreSQL at FETE_TEST_DATABASE_URL is unreachable, and CI=true: ${(err as Error).message}`);
    return { url: undefined, skipReason: `PostgreSQL at FETE_TEST_DATABASE_URL is unreachable: ${(err as Error).message}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

let counter = 0;
/** A schema name unique across processes and tests. */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

export async function dropSchemas(pool: pg.Pool, schemas: readonly string[]): Promise<void> {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
}

/** Drops `schemas` (CASCADE; a missing one is no error) through a pool of its own on `url`, ended
 * before it resolves: the cleanup of a suite that holds no pool. */
export async function dropSchemasAt(url: string, schemas: readonly string[]): Promise<void> {
  const pool = new pg.Pool({ connectionString: url });
  try {
    await dropSchemas(pool, schemas);
  } finally {
    await pool.end();
  }
}

/** Calls `onQuery` with the text of every query the pool's clients send (a simple query's text, or
 * a prepared statement's), from the first time each client is checked out: to count round trips
 * or reads in a test. */
export function watchPoolQueries(pool: pg.Pool, onQuery: (text: string) => void): void {
  pool.on('acquire', (client) => {
    const c = client as pg.PoolClient & { __watched?: boolean };
    if (c.__watched) return;
    c.__watched = true;
    const query = c.query.bind(c) as (...args: unknown[]) => unknown;
    (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const q = args[0] as string | { text?: string } | undefined;
      onQuery(typeof q === 'string' ? q : (q?.text ?? ''));
      return query(...args);
    };
  });
}
