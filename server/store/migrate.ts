// Applies the numbered SQL files of server/sql (`001_init.sql`, ...) that a store has not seen,
// recording each in `<schema>.migrations`. All pending files run in one transaction under an
// advisory lock keyed by the schema, so processes starting together on one PostgreSQL never race:
// the first applies, the others wait and then find nothing to do.
import { readdirSync, readFileSync } from 'node:fs';
import createDebug from 'debug';
import { FeteError } from '../../shared/index.js';
import type { Driver } from './driver.js';
import type { Tables } from './tables.js';

const debug = createDebug('fete:store');

// server/store/migrate.(ts|js) -> server/sql; `npm run build` copies server/sql to dist/server/sql.
const SQL_DIR = new URL('../sql/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

let cached: Migration[] | undefined;

export function loadMigrations(): Migration[] {
  cached ??= readdirSync(SQL_DIR)
    .map((file) => /^(\d+)_([\w-]+)\.sql$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2]!, sql: readFileSync(new URL(m[0], SQL_DIR), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  return cached;
}

/** The highest version applied and how many versions are applied (a store may miss a lower one
 * that was added later, e.g. by merged branches: it is applied then, not skipped). */
async function appliedVersion(driver: Driver, tables: Tables): Promise<{ max: number; count: number } | undefined> {
  try {
    const res = await driver.query<{ v: number | null; n: number | string }>(`SELECT max(version) AS v, count(*) AS n FROM ${tables.migrations}`);
    return { max: res.rows[0]?.v ?? 0, count: Number(res.rows[0]?.n ?? 0) };
  } catch {
    return undefined; // no schema or table yet
  }
}

/** Brings the store's schema up to date. Returns the versions applied by this call. */
export async function migrate(driver: Driver, tables: Tables): Promise<number[]> {
  const migrations = loadMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  // Fast path without the lock: every process but the first finds the store current.
  const seen = await appliedVersion(driver, tables);
  if (seen !== undefined) {
    if (seen.max > latest)
      throw new FeteError('STORE_UNAVAILABLE', `the store in schema "${tables.schema}" was migrated by a newer fete (version ${seen.max}, this one knows ${latest})`);
    if (seen.max === latest && seen.count >= migrations.length) return [];
  }
  return driver.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fete:migrate:${tables.schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${tables.quotedSchema}`);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS ${tables.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const res = await tx.query<{ version: number }>(`SELECT version FROM ${tables.migrations}`);
    const done = new Set(res.rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      debug('applying migration %d_%s to schema %s', m.version, m.name, tables.schema);
      await tx.exec(m.sql.replaceAll('{{schema}}', tables.quotedSchema));
      await tx.query(`INSERT INTO ${tables.migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
