// Opens what carries messages between the processes of a fete, in order, for createFete: the NATS
// bus (`bus` option; nothing without it), the live channel (volatile, latest, presence: on the
// bus when there is one, with the store's as its fallback while NATS is away; else chosen from
// the store, live/live-parts.ts) and presence on that channel. NATS unreachable at start does not
// fail (the bus connects in the background) unless `bus.required`. On failure everything opened before, the log and the store included, is closed again,
// so a failed createFete leaves nothing running.
import { FeteError } from '../../shared/index.js';
import type { EventLog } from '../log/event-log.js';
import { LogEvents } from '../logger.js';
import { openLive } from '../live/live-parts.js';
import type { ResolvedOptions } from '../options.js';
import { openPresence } from '../presence/open-presence.js';
import type { PresenceOptions } from '../presence/presence-options.js';
import type { Store } from '../store/open-store.js';
import type { LiveChannel } from './live-channel.js';
import { NatsBus } from './nats-bus.js';

export interface Links {
  bus: NatsBus | undefined;
  channel: LiveChannel;
  presence: Awaited<ReturnType<typeof openPresence>>;
}

/** Throws what failed as a FeteError (STORE_UNAVAILABLE when it was not one already; NETWORK when
 * NATS cannot be reached at start and `bus.required`). */
export async function openLinks(o: ResolvedOptions, log: EventLog, store: Store | undefined, presenceOptions: PresenceOptions | undefined): Promise<Links> {
  const opened: Array<{ close(): Promise<unknown> }> = [log, ...(store ? [store] : [])];
  try {
    const bus = o.bus === undefined ? undefined : await NatsBus.open(o.bus, log, o.topics, new LogEvents(o.logger));
    if (bus) opened.push(bus);
    const channel = await openLive(o.topics, store, bus);
    opened.push(channel);
    const presence = await openPresence(o.topics, o.security, store, o.store, presenceOptions, channel);
    return { bus, channel, presence };
  } catch (err) {
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
    throw FeteError.from(err, 'STORE_UNAVAILABLE');
  }
}
