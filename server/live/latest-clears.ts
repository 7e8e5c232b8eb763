// Removing `latest` values: `fete.clearLatest` (one subject, now) and the expiry sweep (values past
// their topic's `ttlMs`). Both turn the row into a tombstone at the subject's next version
// (latest-store.ts) and publish a `cleared` notice on the live channel, the same channel and kind
// ('latest') as the values, so the hub (live-hub.ts) of every process tells the current
// subscribers of a matching pattern, in order with the values, over Socket.IO and SSE alike.
//
// The same periodic pass keeps tombstones bounded in time (server/sql/013_latest_removals.sql):
// - settling: a removal older than `retention.graceMs` is stamped with the log's high water. By
//   then every live subscriber had the notice or lost its connection, so a client whose cursor is
//   above the stamp (it has an event committed after it) was told live; a resume is sent only the
//   removals stamped at or after its cursor, and every one not stamped yet. (A notice the channel
//   lost reaches live subscribers through their hub's re-read after `onLost`, live-hub.ts.)
// - pruning: settled tombstones older than `retention.removalsMs` are deleted, a bounded batch per
//   statement, every `retention.intervalMs` (and at `fete.prune()`); a resume from before what was
//   pruned is told its snapshot is complete instead (live-hub.ts).
//
// The pass runs from createFete on (every role, `fete.start()` or not) in every process whose
// catalogue has a latest topic (its statements take disjoint rows in each process:
// latest-store.ts), every SWEEP_MIN_MS..SWEEP_MAX_MS: half the shortest ttl or half the grace, so
// an expiry is announced within about 1.5 ttl of the last emit. New subscribers never wait for it:
// reads skip a value past its expiry whether swept or not.
import createDebug from 'debug';
import type { AnyTopic, LatestCleared, TopicCatalog } from '../../shared/index.js';
import type { LiveChannel, LiveMessage } from '../bus/live-channel.js';
import type { LatestRemoval, LatestStore } from './latest-store.js';

const debug = createDebug('fete:live');

/** Bounds of the sweep's period, in milliseconds. */
const SWEEP_MIN_MS = 250;
const SWEEP_MAX_MS = 5_000;
/** Values swept (removals settled, tombstones pruned) per statement; a pass repeats until fewer
 * are due. */
const SWEEP_BATCH = 500;

/** How removals are kept (from `retention`, server/options.ts). */
export interface RemovalsOptions {
  /** A removal is told to every resume until it is this old (then it settles). */
  settleMs: number;
  /** Tombstones older than this are pruned. */
  keepMs: number;
  /** Pruning by the periodic pass at most this often (0: only at `fete.prune()`). */
  pruneEveryMs: number;
}

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
  readonly #removals: RemovalsOptions;
  readonly #periodMs: number | undefined;
  readonly #ttls: boolean;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<number> | undefined;
  #pruning: Promise<Map<string, number>> | undefined;
  #prunedAt = Date.now();
  #stopped = false;

  constructor(catalog: TopicCatalog, channel: LiveChannel, latest: LatestStore, removals: RemovalsOptions) {
    this.#latest = latest;
    this.#channel = channel;
    this.#removals = removals;
    const latestTopics = Object.values(catalog).filter((t) => t.delivery === 'latest');
    const ttls = latestTopics.flatMap((t) => (t.ttlMs !== undefined ? [t.ttlMs] : []));
    this.#ttls = ttls.length > 0;
    const half = Math.floor(Math.min(...ttls, removals.settleMs) / 2);
    this.#periodMs = latestTopics.length === 0 ? undefined : Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, half));
  }

  /** Removes the value of `subject` (of the `latest` topic `topic`) in `tenant` and tells its
   * subscribers; a subject without a value is left as it is (`{ cleared: false }`). */
  async clear(topic: AnyTopic, subject: string, tenant: string): Promise<ClearLatestResult> {
    const removed = await this.#latest.clear(tenant, topic.name, subject);
    if (removed === undefined) return { cleared: false };
    await this.#publish(removed);
    return { cleared: true, version: removed.version };
  }

  /** One sweep pass: every value past its expiry removed and announced, and the removals due
   * settled (coalesced: a call during a pass waits for that pass). Resolves with how many values
   * were removed. */
  sweep(): Promise<number> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Settles the removals due, then prunes every tombstone past `retention.removalsMs` (coalesced
   * as `sweep`). Resolves with how many were pruned, per topic. */
  prune(): Promise<Map<string, number>> {
    this.#pruning ??= this.sweep()
      .then(() => this.#prune())
      .finally(() => (this.#pruning = undefined));
    return this.#pruning;
  }

  /** Sweeps, settles and prunes periodically (catalogues with a latest topic only). */
  start(): void {
    if (this.#periodMs === undefined || this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.#tick().catch((err: Error) => debug('the latest values pass failed (the next one retries): %s', err.message)), this.#periodMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    await this.sweep();
    const every = this.#removals.pruneEveryMs;
    if (every > 0 && Date.now() - this.#prunedAt >= every) {
      this.#prunedAt = Date.now();
      await this.prune();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
    await this.#pruning?.catch(() => undefined);
  }

  async #pass(): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.#stopped || !this.#ttls) break;
      const removed = await this.#latest.sweep(SWEEP_BATCH);
      for (const r of removed) await this.#publish(r);
      total += removed.length;
      if (removed.length < SWEEP_BATCH) break;
    }
    // After this pass's removals were published: a removal settles only once it was told.
    while (!this.#stopped && (await this.#latest.settle(this.#removals.settleMs, SWEEP_BATCH)) === SWEEP_BATCH);
    return total;
  }

  async #prune(): Promise<Map<string, number>> {
    const total = new Map<string, number>();
    for (;;) {
      if (this.#stopped) return total;
      const pruned = await this.#latest.prune(this.#removals.keepMs, SWEEP_BATCH);
      let n = 0;
      for (const [topic, count] of pruned) {
        total.set(topic, (total.get(topic) ?? 0) + count);
        n += count;
      }
      if (n < SWEEP_BATCH) return total;
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
