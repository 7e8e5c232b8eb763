// Opens the log `createFete` runs on: the store's (opened and migrated here, its epoch read) for
// `dispatch: 'durable'`, or a new in-memory log for `dispatch: 'inline'`.
import { FeteError } from '../../shared/index.js';
import type { ResolvedOptions } from '../options.js';
import { type Store, openStore } from '../store/open-store.js';
import type { EventLog } from './event-log.js';
import { MemoryLog } from './memory-log.js';
import { StoreLog } from './store-log.js';

/** The store (undefined inline) and its log. STORE_UNAVAILABLE (or the store's own code) on failure. */
export async function openLog(o: ResolvedOptions): Promise<{ store: Store | undefined; log: EventLog }> {
  if (o.dispatch === 'inline') return { store: undefined, log: new MemoryLog() };
  const store = await openStore(o.store, o.schema);
  try {
    return { store, log: await StoreLog.open(store, o.topics) };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw FeteError.from(err, 'STORE_UNAVAILABLE');
  }
}
