// Turns the `store` option into an open, migrated store: the driver for its engine, the qualified
// table names of the schema, and the migrations applied.
import { FeteError } from '../../shared/index.js';
import type { StoreOption } from '../options.js';
import type { Driver } from './driver.js';
import { migrate } from './migrate.js';
import { openPgDriver } from './pg-driver.js';
import { openPGliteDriver } from './pglite-driver.js';
import { type Tables, tablesFor } from './tables.js';

export interface Store {
  readonly driver: Driver;
  readonly tables: Tables;
  /** Closes the driver if fete opened it. */
  close(): Promise<void>;
}

function isPool(v: unknown): v is import('pg').Pool {
  return typeof v === 'object' && v !== null && typeof (v as { connect?: unknown }).connect === 'function' &&
    typeof (v as { query?: unknown }).query === 'function' && 'totalCount' in v;
}

export async function openDriver(store: StoreOption): Promise<{ driver: Driver; owned: boolean }> {
  if (store === 'memory') return { driver: await openPGliteDriver(), owned: true };
  if (typeof store === 'string') {
    if (!/^postgres(ql)?:\/\//.test(store))
      throw new FeteError('INVALID_OPTIONS', `store: a string must be 'memory' or a postgres:// URL; for a PGlite directory use { pglite: '${store}' }`);
    return { driver: await openPgDriver({ pool: store }), owned: true };
  }
  if (isPool(store)) return { driver: await openPgDriver({ pool: store }), owned: true };
  if ('driver' in store) return { driver: store.driver, owned: false };
  if ('pglite' in store) {
    const p = store.pglite;
    if (typeof p === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
      // PGlite's own data-dir URLs: `memory://` is what its users write for an in-memory database
      // (probe3: it was taken as a directory, and `./memory:/` filled with a database that
      // outlived the process); the browser ones (idb://, opfs-ahp://) have no meaning in Node.
      if (/^memory:\/\/\/?$/i.test(p)) return { driver: await openPGliteDriver(), owned: true };
      throw new FeteError('INVALID_OPTIONS', `store: { pglite: ${JSON.stringify(p)} } is a PGlite URL fete does not open; give a directory, or 'memory'`);
    }
    return { driver: await openPGliteDriver(typeof p === 'string' ? { dataDir: p } : { instance: p }), owned: true };
  }
  throw new FeteError('INVALID_OPTIONS', 'store: expected "memory", a postgres:// URL, a pg.Pool, { pglite } or { driver }');
}

export async function openStore(store: StoreOption, schema: string): Promise<Store> {
  const { driver, owned } = await openDriver(store);
  let tables: Tables;
  try {
    tables = tablesFor(schema, { relaxedCommits: driver.kind === 'postgres' });
  } catch (err) {
    if (owned) await driver.close().catch(() => undefined);
    throw err;
  }
  try {
    await migrate(driver, tables);
  } catch (err) {
    if (owned) await driver.close().catch(() => undefined);
    throw FeteError.from(err, 'STORE_UNAVAILABLE');
  }
  return { driver, tables, close: () => (owned ? driver.close() : Promise.resolve()) };
}
