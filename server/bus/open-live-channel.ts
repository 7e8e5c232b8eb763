// The live channel createFete uses, chosen from where the log lives: a PostgreSQL store has other
// processes on it (NOTIFY between them); PGlite (one process holds its data directory) and the
// in-memory log of `dispatch: 'inline'` have none (local). The NATS bus (`bus: { nats }`) wins over
// the store while it is connected: its channel rides on the bus's connection (nats-live-channel.ts),
// with the store's channel as the fallback whenever NATS is away (fallback-live-channel.ts).
//
// A PostgreSQL channel holds a LISTEN connection of its own for as long as fete runs, so it is
// opened only when something will travel on it (`needed`: the catalogue has `volatile` or `latest`
// topics; presence adds its own reason); otherwise the local channel costs nothing.
import type { EventBus } from './event-bus.js';
import type { Store } from '../store/open-store.js';
import type { LiveChannel } from './live-channel.js';
import { createLocalLiveChannel } from './local-live-channel.js';
import { createPostgresLiveChannel } from './postgres-live-channel.js';

export interface OpenLiveChannelOptions {
  /** The opened store; undefined under `dispatch: 'inline'`. */
  store: Store | undefined;
  /** The NATS bus, when `createFete({ bus })` opened one. */
  bus?: EventBus | undefined;
  /** Whether other processes must get this process's live messages. @default true */
  needed?: boolean;
}

/** Opens the live channel for `options` (LISTEN in place when it resolves). */
export async function openLiveChannel(options: OpenLiveChannelOptions): Promise<LiveChannel> {
  const { store, bus, needed = true } = options;
  const fromStore = async () =>
    needed && store?.driver.kind === 'postgres' ? createPostgresLiveChannel({ driver: store.driver, tables: store.tables }) : createLocalLiveChannel();
  if (needed && bus) return bus.liveChannel(await fromStore());
  return fromStore();
}
