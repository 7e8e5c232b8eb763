// The fanout of one attached Socket.IO server: the tail of the log, the pattern index of every
// subscription of its sockets, the counters, and where a new subscription starts. Each event the
// tail reads is matched once against the index and encoded once; the same text goes to every
// matching subscription.
import { DEFAULT_MAX_ENVELOPE_BYTES, type Envelope, PatternIndex, type SubscribeFrom, encodeEnvelope } from '../../shared/index.js';
import type { FeteLog } from '../types.js';
import type { ClientEmitTarget } from './client-emit.js';
import { LogTail } from './log-tail.js';
import type { SocketSession } from './socket-session.js';
import type { Subscription } from './subscription.js';
import type { AttachOptions, FanoutAuthorize, FanoutStats } from './types.js';
import { zeroFanoutStats } from './fanout-stats.js';

export interface ResolvedFanoutOptions {
  authorize: FanoutAuthorize | undefined;
  maxPayloadBytes: number;
  maxBufferedEvents: number;
  pollIntervalMs: number;
  readPageSize: number;
}

export function resolveFanoutOptions(o: AttachOptions<never>): ResolvedFanoutOptions {
  const positive = (name: string, v: number | undefined, d: number) => {
    const n = v ?? d;
    if (!Number.isFinite(n) || n < 1) throw new TypeError(`attach: ${name} must be a number >= 1, got ${String(v)}`);
    return n;
  };
  return {
    authorize: o.authorize as FanoutAuthorize | undefined,
    maxPayloadBytes: positive('maxPayloadBytes', o.maxPayloadBytes, DEFAULT_MAX_ENVELOPE_BYTES),
    maxBufferedEvents: positive('maxBufferedEvents', o.maxBufferedEvents, 1000),
    pollIntervalMs: positive('pollIntervalMs', o.pollIntervalMs, 1000),
    readPageSize: positive('readPageSize', o.readPageSize, 500),
  };
}

export interface StartCursor {
  cursor: number;
  /** Set when retention pruned events the subscription asked for: (after, cursor] may be missing. */
  gap?: { after: number };
}

type Counters = Omit<FanoutStats, 'sockets' | 'subscriptions' | 'tailCursor'>;
function countersOnly({ sockets: _s, subscriptions: _n, tailCursor: _t, ...counters }: FanoutStats): Counters {
  return counters;
}

export class FanoutCore {
  readonly fete: ClientEmitTarget;
  readonly log: FeteLog;
  readonly options: ResolvedFanoutOptions;
  readonly tail: LogTail;
  readonly counters: Counters = countersOnly(zeroFanoutStats());
  readonly #index = new PatternIndex<Subscription>();
  readonly #sessions = new Set<SocketSession>();

  constructor(fete: ClientEmitTarget, options: ResolvedFanoutOptions) {
    this.fete = fete;
    this.log = fete.log;
    this.options = options;
    this.tail = new LogTail(fete.log, { pollIntervalMs: options.pollIntervalMs, pageSize: options.readPageSize, route: (e) => this.#route(e) });
  }

  #route(e: Envelope): void {
    this.counters.eventsRouted++;
    const subs = this.#index.match(e.subject);
    if (subs.length === 0) return;
    const text = encodeEnvelope(e);
    for (const sub of subs) sub.deliver(e.seq!, text);
  }

  register(sub: Subscription): void {
    this.#index.add(sub.pattern, sub);
  }

  unregister(sub: Subscription): void {
    sub.close();
    this.#index.remove(sub.pattern, sub);
  }

  sessionOpened(s: SocketSession): void {
    this.#sessions.add(s);
  }

  sessionClosed(s: SocketSession): void {
    this.#sessions.delete(s);
  }

  /** Where a subscription starts. 'latest': the tail's position. 'earliest': before the oldest
   * event still in the log. A seq: that seq, unless the log no longer reaches back to it. */
  async startCursor(from: SubscribeFrom): Promise<StartCursor> {
    await this.tail.ready();
    if (from === 'latest') return { cursor: this.tail.cursor };
    const low = await this.#lowWater();
    if (from === 'earliest') return { cursor: low ?? 0 };
    if (low !== undefined && from < low) return { cursor: low, gap: { after: from } };
    return { cursor: from };
  }

  /**
   * The seq just before the oldest event still in the log (undefined: the log is empty, or the
   * reader is held at a gap by an append in flight, and nothing can be said now).
   * Retention is judged for the whole log, not per topic: with per-topic pruning this misses a
   * gap of a pattern whose topics were pruned while older events of other topics remain. Exact
   * detection needs a prune watermark per topic kept by the store.
   */
  async #lowWater(): Promise<number | undefined> {
    const { events } = await this.log.read(0, { limit: 1 });
    const first = events[0]?.seq;
    return first === undefined ? undefined : first - 1;
  }

  stats(): FanoutStats {
    let subscriptions = 0;
    for (const s of this.#sessions) subscriptions += s.subscriptionCount;
    return { sockets: this.#sessions.size, subscriptions, ...this.counters, emits: { ...this.counters.emits }, tailCursor: this.tail.cursor };
  }

  async close(): Promise<void> {
    await this.tail.close();
    this.#index.clear();
  }
}
