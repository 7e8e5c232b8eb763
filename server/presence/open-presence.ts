// Opens presence for a fete: the table of the store (or memory without one) and the live channel
// between processes. The channel is a stand-in until server/bus/open-live-channel.ts lands (see
// fallback-live-channel.ts): PostgreSQL NOTIFY on a store shared by processes, local otherwise.
import type { TopicCatalog } from '../../shared/index.js';
import type { LiveChannel } from '../bus/live-channel.js';
import type { Security } from '../security/security.js';
import type { Store } from '../store/open-store.js';
import { localLiveChannel, notifyLiveChannel } from './fallback-live-channel.js';
import type { PresenceOptions } from './presence-options.js';
import { PresenceService } from './presence-service.js';
import { memoryPresenceStore, sqlPresenceStore } from './presence-store.js';

export async function openPresence(catalog: TopicCatalog, security: Security, store: Store | undefined, options: PresenceOptions | undefined): Promise<{ service: PresenceService; close(): Promise<void> }> {
  const channel: LiveChannel =
    store?.driver.kind === 'postgres' ? await notifyLiveChannel(store.driver, `${store.tables.channel}_live`) : localLiveChannel();
  const service = new PresenceService(catalog, security, store ? sqlPresenceStore(store.driver, store.tables) : memoryPresenceStore(), channel, options);
  try {
    await service.start();
  } catch (err) {
    await channel.close();
    throw err;
  }
  return {
    service,
    async close() {
      await service.stop();
      await channel.close();
    },
  };
}
