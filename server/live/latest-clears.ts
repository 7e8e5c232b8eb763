// Removing `latest` values: `fete.clearLatest` (one subject, now) and the expiry sweep (values past
// their topic's `ttlMs`). Both turn the row into a tombstone at the subject's next version
// (latest-store.ts) and publish a `cleared` notice on the live channel, the same channel and kind
// ('latest') as the values, so the hub (live-hub.ts) of every process tells the current
// subscribers of a matching pattern, in order with the values, over Socket.IO and SSE alike.
//
// The sweep runs from createFete on (every role, `fete.start()` or not) in every process whose
// catalogue declares a ttl (its statement takes disjoint rows
// in each process: latest-store.ts), every SWEEP_MIN_MS..SWEEP_MAX_MS: half the shortest ttl, so an
// expiry is announced within about 1.5 ttl of the last emit. New subscribers never wait for it:
// reads skip a value past its expiry whether swept or not.
import createDebug from 'debug';
import type { AnyTopic, LatestCleared, TopicCatalog } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import type { LatestRemoval, LatestStore } from './latest-store.js';

const debug = createDebug('fete:live');

/** Bounds of the sweep's period, in milliseconds. */
const SWEEP_MIN_MS = 250;
const SWEEP_MAX_MS = 5_000;
/** Values swept per statement; a pass repeats until fewer are due. */
const SWEEP_BATCH = 500;

/** What `fete.clearLatest` resolves with: whether a value was removed, and the removal's version. */
export interface ClearLatestResult {
  /** False when the subject had no value (never set, or already cleared or expired): nothing done. */
  cleared: boolean;
  /** The subject's version of the removal (above the removed value's); only when `cleared`. */
  version?: number;
}

/** The live message that tells of a removal: `data` is `{ cleared: LatestCleared }`. */
export function clearedMessage(r: LatestRemoval): LiveMessage {
  const cleared: LatestCleared = { topic: r.topic, subject: r.subject, version: r.version, reason: r.reason };
  return { kind: 'latest', tenant: r.tenant, subject: r.subject, data: { cleared } };
}

/** The removal a `latest` live message tells of, or undefined for a value (a wire envelope). */
export function clearedOf(data: unknown): LatestCleared | undefined {
  if (data === null || typeof data !== 'object' || !('cleared' in data)) return undefined;
  const c = (data as { cleared: unknown }).cleared as Partial<LatestCleared> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.topic !== 'string' ||
    typeof c.subject !== 'string' ||
    !Number.isSafeInteger(c.version) ||
    (c.reason !== 'cleared' && c.reason !== 'expired')
  )
    return undefined;
  return { topic: c.topic, subject: c.subject, version: c.version!, reason: c.reason };
}

export class LatestClears {
  readonly #latest: LatestStore;
  readonly #channel: LiveChannel;
  readonly #periodMs: number | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(catalog: TopicCatalog, channel: LiveChannel, latest: LatestStore) {
    this.#latest = latest;
    this.#channel = channel;
    const ttls = Object.values(catalog).flatMap((t) => (t.delivery === 'latest' && t.ttlMs !== undefined ? [t.ttlMs] : []));
    this.#periodMs = ttls.length === 0 ? undefined : Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(Math.min(...ttls) / 2)));
  }

  /** Removes the value of `subject` (of the `latest` topic `topic`) in `tenant` and tells its
   * subscribers; a subject without a value is left as it is (`{ cleared: false }`). */
  async clear(topic: AnyTopic, subject: string, tenant: string): Promise<ClearLatestResult> {
    const removed = await this.#latest.clear(tenant, topic.name, subject);
    if (removed === undefined) return { cleared: false };
    await this.#publish(removed);
    return { cleared: true, version: removed.version };
  }

  /** One sweep pass: every value past its expiry removed and announced (coalesced: a call during
   * a pass waits for that pass). Resolves with how many were removed. */
  sweep(): Promise<number> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Sweeps periodically (catalogues with a `ttlMs` only). */
  start(): void {
    if (this.#periodMs === undefined || this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.sweep().catch((err: Error) => debug('sweeping expired latest values failed (next pass retries): %s', err.message)), this.#periodMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #pass(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.#stopped) return total;
      const removed = await this.#latest.sweep(SWEEP_BATCH);
      for (const r of removed) await this.#publish(r);
      total += removed.length;
      if (removed.length < SWEEP_BATCH) return total;
    }
  }

  async #publish(r: LatestRemoval): Promise<void> {
    try {
      await this.#channel.publish(clearedMessage(r));
    } catch (err) {
      // Removed in the store all the same: subscribers that miss the notice learn of it when they
      // next resume (tombstones are read then).
      debug('publishing the removal of %s failed: %s', r.subject, (err as Error).message);
    }
  }
}
