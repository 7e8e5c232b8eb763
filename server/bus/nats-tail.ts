// One fanout's view of the log over the NATS bus (see nats-bus.ts for the whole picture). It is the
// log its tail follows (log/follow.ts): reads, head and prune marks from the store; commit hooks
// that carry this process's commits and the events other processes published on the subjects this
// node asked for; `onSkip` for the seqs commit notices announced that did not come; and append
// hooks that say "read again" when messages may have been lost (a publisher's counter jumped, NATS
// disconnected or reconnected), plus the store's own NOTIFY while NATS is down or was never
// reached (`connect` moves the tail onto NATS once it is).
import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import createDebug from 'debug';
import { type Envelope, decodeEnvelope } from '../../shared/index.js';
import type { LogPage, LogView } from '../log/event-log.js';
import type { Skipped } from '../log/follow.js';
import { Hooks } from '../log/hooks.js';
import type { BusTail } from './event-bus.js';
import type { CommitNotice, NatsBus } from './nats-bus.js';
import { Interest } from './nats-interest.js';
import { interest, patternCovers } from './nats-subjects.js';

const debug = createDebug('fete:bus');

/** Received seqs waiting for their notice; past this (notices lost) the set is dropped and the
 * tail reads the log. */
const MAX_UNANNOUNCED = 100_000;

export class NatsTail implements BusTail {
  readonly epoch: string;
  readonly #log: LogView;
  readonly #events = new Hooks<readonly Envelope[]>();
  readonly #skips = new Hooks<readonly Skipped[]>();
  readonly #appends = new Hooks<number | undefined>();
  readonly #subs = new Map<string, NatsSubscription>();
  readonly #interest: Interest;
  /** Seqs received whose notice has not come yet. */
  readonly #received = new Set<number>();
  /** The last notice counter seen per publisher. */
  readonly #counters = new Map<string, number>();
  readonly #bus: NatsBus;
  /** The connection subscribed on; undefined while NATS was never reached or is gone for good. */
  #nc: NatsConnection | undefined;
  #notices: NatsSubscription | undefined;
  readonly #unhook: Array<() => void> = [];
  /** The store's NOTIFY, forwarded while NATS is down. */
  #notify: (() => void) | undefined;
  readonly #stats = { received: 0, skipped: 0, lost: 0, reads: 0 };
  #closed = false;

  constructor(bus: NatsBus, log: LogView, onLost: (fn: (what: 'disconnect' | 'reconnect') => void) => () => void, closed: () => void) {
    this.#bus = bus;
    this.#log = log;
    this.epoch = log.epoch;
    this.#interest = new Interest(
      {
        subscribe: (p) => {
          if (this.#nc) this.#subscribe(this.#nc, p);
        },
        unsubscribe: (p) => {
          try {
            this.#subs.get(p)?.unsubscribe();
          } catch (err) {
            debug('unsubscribing %s failed: %s', p, (err as Error).message);
          }
          this.#subs.delete(p);
        },
      },
      patternCovers,
    );
    this.#unhook.push(
      onLost((what) => this.#lost(what)),
      () => closed(),
    );
    if (bus.nc) this.#listen(bus.nc);
    // NATS not reached yet, or away: the store's NOTIFY wakes the tail until it is back.
    if (!bus.connected) this.#notify = this.#log.onAppend((head) => this.#appends.run(head));
  }

  #subscribe(nc: NatsConnection, interest: string): void {
    this.#subs.set(interest, nc.subscribe(this.#bus.subjects.eventPattern(interest), { callback: (err, msg) => this.#event(err, msg) }));
  }

  /** Subscribes the notices and every interest on `nc`. */
  #listen(nc: NatsConnection): void {
    this.#nc = nc;
    this.#notices = nc.subscribe(this.#bus.subjects.commits, { callback: (err, msg) => this.#notice(err, msg) });
    for (const p of this.#interest.subscribed) this.#subscribe(nc, p);
  }

  /** NATS was reached (first time, or after the connection closed for good): subscribes, waits
   * until the server has the subscriptions, then leaves NOTIFY and reads the log from the cursor
   * (what was committed before comes from that read, what follows from NATS). */
  connect(nc: NatsConnection): void {
    if (this.#closed) return;
    this.#listen(nc);
    void nc
      .flush()
      .catch((err: Error) => debug('flush after connecting failed: %s', err.message))
      .then(() => {
        // Lost again meanwhile: NOTIFY stays on until the bus says it is back ('reconnect').
        if (this.#nc === nc && this.#bus.connected) this.#lost('reconnect');
      });
  }

  /** The connection closed for good: back on NOTIFY until connect(). */
  disconnect(): void {
    if (this.#closed) return;
    this.#nc = undefined;
    this.#notices = undefined;
    this.#subs.clear();
    this.#lost('disconnect');
  }

  /** Asks NATS for the events of `tenant` matching `pattern` (counted: one `unwant` per `want`). */
  want(pattern: string, tenant: string): void {
    if (!this.#closed) this.#interest.add(interest(tenant, pattern));
  }

  unwant(pattern: string, tenant: string): void {
    this.#interest.remove(interest(tenant, pattern));
  }

  /** The interests (tenant token, then pattern) this node has a NATS subscription for. */
  get subscribed(): readonly string[] {
    return this.#interest.subscribed;
  }

  stats(): { received: number; skipped: number; lost: number; reads: number } {
    return { ...this.#stats };
  }

  #event(err: Error | null, msg: Msg): void {
    if (err || this.#closed) return;
    let e: Envelope;
    try {
      e = decodeEnvelope(msg.string(), { maxBytes: msg.data.length + 1 });
    } catch (error) {
      debug('an event on %s could not be decoded: %s', msg.subject, (error as Error).message);
      return; // announced by its notice and not received: a subscription that wants it reads it
    }
    if (typeof e.seq !== 'number') return;
    this.#stats.received++;
    this.#received.add(e.seq);
    if (this.#received.size > MAX_UNANNOUNCED) {
      this.#received.clear();
      this.#lost('reconnect');
    }
    this.#events.run([e]);
  }

  #notice(err: Error | null, msg: Msg): void {
    if (err || this.#closed) return;
    let notice: CommitNotice;
    try {
      notice = msg.json<CommitNotice>();
    } catch {
      return;
    }
    if (typeof notice?.p !== 'string' || typeof notice.n !== 'number' || !Array.isArray(notice.s)) return;
    const last = this.#counters.get(notice.p);
    this.#counters.set(notice.p, notice.n);
    const skipped: Skipped[] = [];
    for (const [seq, subject, tenant] of notice.s) if (!this.#received.delete(seq)) skipped.push({ seq, subject: subject ?? undefined, tenant: typeof tenant === 'string' ? tenant : undefined });
    this.#stats.skipped += skipped.length;
    if (skipped.length > 0) this.#skips.run(skipped);
    if (last !== undefined && notice.n !== last + 1) {
      debug('publisher %s jumped from notice %d to %d: reading the log', notice.p, last, notice.n);
      this.#lost('reconnect');
    }
  }

  #lost(what: 'disconnect' | 'reconnect'): void {
    if (this.#closed) return;
    this.#stats.lost++;
    this.#received.clear();
    if (what === 'disconnect') {
      this.#notify ??= this.#log.onAppend((head) => this.#appends.run(head));
      // Publishers are forgotten too: their next notice starts a new count.
      this.#counters.clear();
    } else {
      this.#notify?.();
      this.#notify = undefined;
    }
    this.#appends.run(undefined);
  }

  // The LogView of the store, for the follow() of the tail.
  read(after: number, options?: { pattern?: string; limit?: number }): Promise<LogPage> {
    this.#stats.reads++;
    return this.#log.read(after, options);
  }
  head(): Promise<number> {
    return this.#log.head();
  }
  highWater(): Promise<number> {
    return this.#log.highWater();
  }
  prunedThrough(after: number, pattern?: string): Promise<number | undefined> {
    return this.#log.prunedThrough(after, pattern);
  }
  pruned(after: number): Promise<Array<{ topic: string; through: number }>> {
    return this.#log.pruned(after);
  }
  onAppend(fn: (headSeq: number | undefined) => void): () => void {
    return this.#appends.add(fn);
  }
  onCommit(fn: (events: readonly Envelope[]) => void): () => void {
    const local = this.#log.onCommit(fn);
    const remote = this.#events.add(fn);
    return () => {
      local();
      remote();
    };
  }
  onSkip(fn: (skipped: readonly Skipped[]) => void): () => void {
    return this.#skips.add(fn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#interest.clear();
    try {
      this.#notices?.unsubscribe();
    } catch {
      // the connection is closed already
    }
    this.#notify?.();
    for (const u of this.#unhook) u();
    this.#events.clear();
    this.#skips.clear();
    this.#appends.clear();
  }
}
