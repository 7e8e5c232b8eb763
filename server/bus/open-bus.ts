// Opens the NATS bus `createFete({ bus })` asks for (nothing without the option). On failure the
// store opened before it is closed again, so a failed createFete leaves nothing running.
import type { ResolvedOptions } from '../options.js';
import type { EventLog } from '../log/event-log.js';
import type { Store } from '../store/open-store.js';
import { NatsBus } from './nats-bus.js';

export async function openBus(o: ResolvedOptions, log: EventLog, store: Store | undefined): Promise<NatsBus | undefined> {
  if (o.bus === undefined) return undefined;
  try {
    return await NatsBus.open(o.bus, log, o.topics);
  } catch (err) {
    await log.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    throw err;
  }
}
