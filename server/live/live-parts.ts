// The parts of a fete that carry `volatile` and `latest` topics, made in one place for createFete:
// the live channel between processes (bus/), the latest values (latest-store.ts), the hub that
// the doors receive from (live-hub.ts) and the route that every admitted emit takes
// (ingress/emit-route.ts).
import { type Envelope, type TopicCatalog, topicByName } from '../../shared/index.js';
import type { EventBus } from '../bus/event-bus.js';
import type { LiveChannel } from '../bus/live-channel.js';
import { openLiveChannel } from '../bus/open-live-channel.js';
import { EmitRoute } from '../ingress/emit-route.js';
import type { Store } from '../store/open-store.js';
import type { EmitOptions } from '../types.js';
import { LatestClears, type RemovalsOptions } from './latest-clears.js';
import { type LogHighWater, memoryLatest, storeLatest } from './latest-store.js';
import { LiveHub } from './live-hub.js';

export interface LiveParts {
  readonly hub: LiveHub;
  readonly route: EmitRoute;
  /** Clears of latest values and the expiry sweep (latest-clears.ts). */
  readonly clears: LatestClears;
  /** Stops the sweep and receiving, and closes the channel (after the doors closed). */
  close(): Promise<void>;
}

/** The live channel for a catalogue on a store (LISTEN in place when it resolves), or on the NATS
 * bus when there is one; one to other processes only if the catalogue has topics outside the log
 * or topics with presence. */
export function openLive(topics: TopicCatalog, store: Store | undefined, bus?: EventBus): Promise<LiveChannel> {
  return openLiveChannel({ store, bus, needed: Object.values(topics).some((t) => t.delivery !== 'log' || t.presence) });
}

/** Wires the parts; `runListeners` runs this process's non-durable listeners on a live event;
 * `highWater`: the log's (removals of latest values are settled at its position). */
export function liveParts(
  topics: TopicCatalog,
  store: Store | undefined,
  channel: LiveChannel,
  runListeners: (envelope: Envelope, options: EmitOptions | undefined) => void,
  removals: RemovalsOptions,
  highWater: LogHighWater,
): LiveParts {
  const ttlOf = (name: string) => topicByName(topics, name)?.ttlMs;
  const latest = store ? storeLatest(store.driver, store.tables, ttlOf) : memoryLatest(ttlOf, Date.now, highWater);
  const hub = new LiveHub(topics, channel, latest);
  const route = new EmitRoute({ catalog: topics, channel, latest, published: (envs, opts) => envs.forEach((e, i) => runListeners(e, opts[i])) });
  const clears = new LatestClears(topics, channel, latest, removals);
  // From the start, in every role: a web node that only serves subscribers (no `fete.start()`)
  // must still tell them of expiries. The timer does not keep the process alive.
  clears.start();
  return {
    hub,
    route,
    clears,
    async close() {
      await clears.stop();
      hub.close();
      await channel.close();
    },
  };
}
