// Opens presence for a fete: the table of the store (or memory without one), on the fete's live
// channel between processes (server/bus/open-live-channel.ts, opened with presence among its
// reasons to be `needed`), which its owner closes after presence has stopped.
import type { TopicCatalog } from '../../shared/index.js';
import type { LiveChannel } from '../bus/live-channel.js';
import type { Security } from '../security/security.js';
import type { Store } from '../store/open-store.js';
import type { StoreOption } from '../options.js';
import type { PresenceOptions } from './presence-options.js';
import { PresenceService } from './presence-service.js';
import { memoryPresenceStore, sqlPresenceStore } from './presence-store.js';

/** `storeOption` tells whether the store is exclusive to this fete: a PGlite data directory is
 * locked by one process (store/dir-lock.ts), so rows of other nodes there are a previous run's. */
export async function openPresence(
  catalog: TopicCatalog,
  security: Security,
  store: Store | undefined,
  storeOption: StoreOption,
  options: PresenceOptions | undefined,
  channel: LiveChannel,
): Promise<{ service: PresenceService; close(): Promise<void> }> {
  // An app with no presence topic pays nothing: no heartbeat, no sweep, no LISTEN connection.
  const used = Object.values(catalog).some((t) => t.presence);
  const shared = used ? store : undefined;
  const exclusive = typeof storeOption === 'object' && storeOption !== null && 'pglite' in storeOption && typeof storeOption.pglite === 'string';
  const service = new PresenceService(catalog, security, shared ? sqlPresenceStore(shared.driver, shared.tables) : memoryPresenceStore(), channel, options, exclusive);
  if (used) await service.start();
  return {
    service,
    /** Removes this node's rows and announces the leaves: before the channel closes. */
    async close() {
      await service.stop();
    },
  };
}
