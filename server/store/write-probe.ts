// The write path of GET /health: a store that answers reads may still be unable to write (a data
// directory made read-only, a full disk), and then every emit fails while `stats()` says all is
// well (issue 11). The probe rewrites one row of the migrations table in place — a real row
// version, WAL record and commit, like an append — and changes nothing anyone reads.
import type { Store } from './open-store.js';

/** Writes and commits one row; throws the store's error when it cannot. */
export async function probeWrite(store: Store): Promise<void> {
  const m = store.tables.migrations;
  await store.driver.query(`UPDATE ${m} SET applied_at = applied_at WHERE version = (SELECT min(version) FROM ${m})`);
}
