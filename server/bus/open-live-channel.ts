// The live channel createFete uses, chosen from where the log lives: a PostgreSQL store has other
// processes on it (NOTIFY between them); PGlite (one process holds its data directory) and the
// in-memory log of `dispatch: 'inline'` have none (local). A `nats` transport adds one branch here
// (`bus: { nats }` wins over the store), in its own module.
import type { Store } from '../store/open-store.js';
import type { LiveChannel } from './live-channel.js';
import { createLocalLiveChannel } from './local-live-channel.js';
import { createPostgresLiveChannel } from './postgres-live-channel.js';

export interface OpenLiveChannelOptions {
  /** The opened store; undefined under `dispatch: 'inline'`. */
  store: Store | undefined;
}

/** Opens the live channel for `options` (LISTEN in place when it resolves). */
export async function openLiveChannel(options: OpenLiveChannelOptions): Promise<LiveChannel> {
  const { store } = options;
  if (store?.driver.kind === 'postgres') return createPostgresLiveChannel({ driver: store.driver, tables: store.tables });
  return createLocalLiveChannel();
}
